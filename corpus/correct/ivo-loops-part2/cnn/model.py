"""The lecture's network, end to end, built only from your own functions.

```
Input(28, 28, 1)
-> Conv2D(32, 3, activation="relu")      (N, 26, 26, 32)   kernel (3, 3, 1, 32),  bias (32,)
-> MaxPooling2D(2)                       (N, 13, 13, 32)
-> Conv2D(64, 3, activation="relu")      (N, 11, 11, 64)   kernel (3, 3, 32, 64), bias (64,)
-> MaxPooling2D(2)                       (N, 5, 5, 64)     (floor: row/col 11 is dropped)
-> Flatten()                             (N, 1600)
-> Dropout(0.5)                          (N, 1600)         the identity unless training
-> Dense(10, activation="softmax")       (N, 10)           kernel (1600, 10), bias (10,)
```
34,826 parameters in all (320 + 18,496 + 16,010).
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .activations import relu, softmax
from .conv import conv2d
from .pooling import max_pool2d
from .regularization import dropout
from .training import dense, flatten

# Shapes of ``model.get_weights()`` for the lecture's model, in order.
LECTURE_WEIGHT_SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))
_WEIGHT_NAMES = (
    "conv1 kernel",
    "conv1 bias",
    "conv2 kernel",
    "conv2 bias",
    "dense kernel",
    "dense bias",
)


def lecture_model_forward(
    x: np.ndarray,
    weights,
    training: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Class probabilities of the lecture's CNN (see the module docstring), like ``model.predict``.

    Shapes: ``x (N, 28, 28, 1)`` -> ``(N, 10)``; every row sums to 1.
    The layers, in order (the lecture's ``keras.Sequential``)::

        Conv2D(32, (3, 3), activation="relu")   kernel k1 (3, 3, 1, 32),  bias b1 (32,)
        MaxPooling2D((2, 2))
        Conv2D(64, (3, 3), activation="relu")   kernel k2 (3, 3, 32, 64), bias b2 (64,)
        MaxPooling2D((2, 2))
        Flatten()                               channels-last (C order) -> (N, 1600)
        Dropout(0.5)                            only when ``training``
        Dense(10, activation="softmax")         kernel k3 (1600, 10),     bias b3 (10,)

    Use your own ``conv2d``, ``max_pool2d``, ``relu``, ``flatten``, ``dropout``, ``dense`` and
    ``softmax`` (already imported here). Keras: ``model.predict(x)`` of the lecture's
    ``Sequential`` model (dropout is off at inference).

    What decides the grade beyond your layers: Flatten reads ``(N, 5, 5, 64)`` in C order,
    channels last (a channels-first flatten, as in PyTorch, gives probabilities of the right
    shape but the wrong values), and with ``training=False`` nothing is random. Hint: check the
    spatial size after every layer against the lecture's 28 -> 26 -> 13 -> 11 -> 5.

    Args:
        x: a batch of 28x28 grey-scale images, ``(N, 28, 28, 1)``, channels-last.
        weights: ``model.get_weights()``: the 6 arrays ``[k1, b1, k2, b2, k3, b3]`` with the
            shapes ``LECTURE_WEIGHT_SHAPES``.
        training: apply dropout (as during ``fit``). Defaults to `False`.
        rng: ``np.random.Generator`` for the dropout mask when ``training``. Defaults to `None`.
    """
    x = _checks.shape_is(_checks.as_array(x, "x"), (None, 28, 28, 1), "x")
    weights = _checks.array_list(weights, "weights")
    if len(weights) != len(LECTURE_WEIGHT_SHAPES):
        raise ValueError(
            "`weights` must be the 6 arrays of model.get_weights() "
            f"(shapes {LECTURE_WEIGHT_SHAPES}). Received: {len(weights)} arrays."
        )
    weights = [
        _checks.shape_is(
            _checks.as_array(w, f"weights[{i}] ({name})"), shape, f"weights[{i}] ({name})"
        )
        for i, (w, shape, name) in enumerate(
            zip(weights, LECTURE_WEIGHT_SHAPES, _WEIGHT_NAMES, strict=True)
        )
    ]
    training = _checks.boolean(training, "training")
    rng = _checks.generator_or_none(rng)
    k1, b1, k2, b2, k3, b3 = weights
    # BEGIN STUDENT CODE: chain your functions layer by layer, as listed above
    h = max_pool2d(relu(conv2d(x, k1, b1)), 2)
    h = max_pool2d(relu(conv2d(h, k2, b2)), 2)
    h = dropout(flatten(h), 0.5, training=training, rng=rng)
    return softmax(dense(h, k3, b3))
    # END STUDENT CODE


# --- Part 2: loss, gradients and training -------------------------------------------------


def _check_lecture_weights(weights) -> list[np.ndarray]:
    """Given code: the 6 arrays of ``model.get_weights()`` with the lecture model's shapes."""
    weights = _checks.array_list(weights, "weights")
    if len(weights) != len(LECTURE_WEIGHT_SHAPES):
        raise ValueError(
            "`weights` must be the 6 arrays of model.get_weights() "
            f"(shapes {LECTURE_WEIGHT_SHAPES}). Received: {len(weights)} arrays."
        )
    return [
        _checks.shape_is(
            _checks.as_array(w, f"weights[{i}] ({name})"), shape, f"weights[{i}] ({name})"
        )
        for i, (w, shape, name) in enumerate(
            zip(weights, LECTURE_WEIGHT_SHAPES, _WEIGHT_NAMES, strict=True)
        )
    ]


def lecture_model_loss_and_grads(
    x: np.ndarray,
    y_true: np.ndarray,
    weights,
    training: bool = False,
    rng: np.random.Generator | None = None,
    mask: np.ndarray | None = None,
    l2: float = 0.0,
):
    """Loss and gradients of the lecture's CNN on one batch: ``(loss, grads)``.

    What Keras computes for one step of ``model.fit`` with ``loss="categorical_crossentropy"``
    (and ``kernel_regularizer=keras.regularizers.L2(l2)`` on the two convs and the dense
    layer)::

        z = logits of the last Dense (its input to the softmax)          (N, 10)
        loss = mean_n( -sum_k y[n, k] * log_softmax(z[n])[k] )            no clipping
               + l2 * (sum(k1**2) + sum(k2**2) + sum(k3**2))              biases not penalised

    Keras computes the cross-entropy from the logits when the last layer is a softmax, so use
    ``categorical_crossentropy(y, z, from_logits=True)``: logits ``[30, 0, -5]`` with the true
    class 1 cost 30.0 (clipped probabilities would give 16.12).

    The backward pass runs the forward layers in reverse, each with your own backward function,
    keeping the forward values it needs (the conv inputs, the pre-activations, the pool inputs,
    the dropout mask)::

        dz   = softmax_crossentropy_backward(y, z)        the 1/N of the mean is in here
        dense_backward -> dk3, db3, and d(flat)
        dropout_backward (training only, the SAME mask)  -> reshape to (N, 5, 5, 64)
        max_pool2d_backward -> d(relu output) * relu_grad(pre-activation) -> conv2d_backward
        ... the same for the first conv block (its dx is not needed)
        + 2 * l2 * k for each kernel (l2_grad)

    With ``training=True`` dropout (rate 0.5, inverted) keeps the units where ``mask`` is True,
    or draws ``rng.random((N, 1600)) >= 0.5`` when ``mask`` is None.

    TF counterpart: ``tape.gradient(loss, model.trainable_weights)`` for the lecture's model.

    Args:
        x: ``(N, 28, 28, 1)``.
        y_true: one-hot (or soft) targets ``(N, 10)``.
        weights: ``model.get_weights()``: ``[k1, b1, k2, b2, k3, b3]`` (``LECTURE_WEIGHT_SHAPES``).
        training: apply dropout. Defaults to ``False``.
        rng: ``np.random.Generator`` for the dropout draw. Defaults to ``None``.
        mask: boolean ``(N, 1600)`` keep mask for dropout (training only). Defaults to ``None``.
        l2: the L2 factor of the three kernels (>= 0). Defaults to ``0.0``.

    Returns:
        ``(loss, grads)``: a Python float and the 6 gradients, shapes of ``weights``, in order.
    """
    from .activations import relu_grad
    from .backward import (
        conv2d_backward,
        dense_backward,
        dropout_backward,
        max_pool2d_backward,
        softmax_crossentropy_backward,
    )
    from .regularization import l2_grad, l2_penalty
    from .training import categorical_crossentropy

    x = _checks.shape_is(_checks.as_array(x, "x"), (None, 28, 28, 1), "x")
    y_true = _checks.shape_is(_checks.as_array(y_true, "y_true"), (x.shape[0], 10), "y_true")
    k1, b1, k2, b2, k3, b3 = _check_lecture_weights(weights)
    training = _checks.boolean(training, "training")
    rng = _checks.generator_or_none(rng)
    if mask is not None:
        mask = _checks.shape_is(np.asarray(mask), (x.shape[0], 1600), "mask")
    l2 = _checks.non_negative_number(l2, "l2")
    # BEGIN STUDENT CODE: forward keeping what backward needs; backward layer by layer; + L2
    z1 = conv2d(x, k1, b1)
    a1 = relu(z1)
    p1 = max_pool2d(a1, 2)
    z2 = conv2d(p1, k2, b2)
    a2 = relu(z2)
    p2 = max_pool2d(a2, 2)
    h = flatten(p2)
    if training:
        if mask is None:
            mask = (rng if rng is not None else np.random.default_rng()).random(h.shape) >= 0.5
        h = dropout(h, 0.5, training=True, mask=mask)
    z3 = dense(h, k3, b3)
    loss = float(np.mean(categorical_crossentropy(y_true, z3, from_logits=True)))
    if l2 > 0:
        loss += l2_penalty([k1, k2, k3], l2)

    dz3 = softmax_crossentropy_backward(y_true, z3)
    dh, dk3, db3 = dense_backward(dz3, h, k3)
    if training:
        dh = dropout_backward(dh, mask, 0.5)
    dp2 = dh.reshape(p2.shape)
    dz2 = max_pool2d_backward(dp2, a2, 2) * relu_grad(z2)
    dp1, dk2, db2 = conv2d_backward(dz2, p1, k2)
    dz1 = max_pool2d_backward(dp1, a1, 2) * relu_grad(z1)
    _, dk1, db1 = conv2d_backward(dz1, x, k1)
    if l2 > 0:
        dk1, dk2, dk3 = dk1 + l2_grad(k1, l2), dk2 + l2_grad(k2, l2), dk3 + l2_grad(k3, l2)
    return loss, [dk1, db1, dk2, db2, dk3, db3]
    # END STUDENT CODE


def train_lecture_model(
    x: np.ndarray,
    y: np.ndarray,
    weights,
    optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    rng: np.random.Generator | None = None,
    shuffle: bool = True,
    training: bool = True,
    l2: float = 0.0,
    validation_data=None,
    early_stopping=None,
):
    """Train the lecture's CNN with mini-batches, like ``model.fit``: ``(weights, history)``.

    The loop of ``model.fit(x, y, epochs=..., batch_size=..., shuffle=...,
    validation_data=..., callbacks=[early_stopping])``, built from your own pieces::

        params <- copies of weights                 (the given list is not modified)
        callback: on_train_begin()
        every epoch:
            every batch idx of minibatch_indices(N, batch_size, shuffle, rng):
                (loss, grads) <- lecture_model_loss_and_grads on x[idx], y[idx]
                                 (with training, rng and l2)
                optimizer: step on params and grads  (it updates params in place)
            history["loss"] <- the epoch's mean batch loss (batches weighted by their size)
            with validation_data: history["val_loss"] and history["val_accuracy"]
                (the loss without dropout, L2 included, and the fraction of argmax hits)
            callback: on_epoch_end(epoch, logs, weights=params) is True -> stop training
        callback: on_train_end() -> the best weights to restore, or None

    Keras reports the epoch's ``loss`` as the mean of the batch losses weighted by the batch
    sizes (the last batch may be smaller), which is the mean loss per sample over the epoch,
    each computed with the weights of its own step (before that step's update).

    Args:
        x: ``(N, 28, 28, 1)`` training images; y: ``(N, 10)`` one-hot labels.
        weights: initial ``model.get_weights()`` (e.g. ``cnn.data.lecture_model_init(rng)``).
        optimizer: one of your ``cnn.optimizers`` instances (``step(params, grads)``).
        epochs: >= 1. Defaults to ``1``.
        batch_size: >= 1. Defaults to ``32``.
        rng: ``np.random.Generator`` for the shuffle and the dropout masks. Defaults to ``None``.
        shuffle: shuffle every epoch. Defaults to ``True``.
        training: dropout on during the training steps. Defaults to ``True``.
        l2: L2 factor of the kernels. Defaults to ``0.0``.
        validation_data: ``(x_val, y_val)`` or ``None``. Defaults to ``None``.
        early_stopping: an ``EarlyStopping`` instance or ``None``. Defaults to ``None``.

    Returns:
        ``(weights, history)``: the trained weights (a new list of arrays) and a dict of
        per-epoch lists of floats: ``"loss"``, plus ``"val_loss"`` and ``"val_accuracy"`` with
        ``validation_data``.
    """
    from .regularization import l2_penalty
    from .training import categorical_crossentropy, minibatch_indices

    x = _checks.shape_is(_checks.as_array(x, "x"), (None, 28, 28, 1), "x")
    y = _checks.shape_is(_checks.as_array(y, "y"), (x.shape[0], 10), "y")
    params = [w.copy() for w in _check_lecture_weights(weights)]
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(
            f"`optimizer` must have a step(params, grads) method. Received: {optimizer!r}."
        )
    epochs = _checks.positive_int(epochs, "epochs")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    rng = _checks.generator_or_none(rng)
    shuffle = _checks.boolean(shuffle, "shuffle")
    training = _checks.boolean(training, "training")
    l2 = _checks.non_negative_number(l2, "l2")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("`validation_data` must be a pair (x_val, y_val) or None.")
        x_val = _checks.as_array(validation_data[0], "x_val")
        x_val = _checks.shape_is(x_val, (None, 28, 28, 1), "x_val")
        y_val = _checks.as_array(validation_data[1], "y_val")
        y_val = _checks.shape_is(y_val, (x_val.shape[0], 10), "y_val")
    if early_stopping is not None and not callable(getattr(early_stopping, "on_epoch_end", None)):
        raise ValueError("`early_stopping` must be an EarlyStopping instance or None.")
    # BEGIN STUDENT CODE: the loop above: batches, loss and grads, optimizer.step, history, callback
    keys = ("loss",) if validation_data is None else ("loss", "val_loss", "val_accuracy")
    history: dict[str, list[float]] = {key: [] for key in keys}
    if early_stopping is not None:
        early_stopping.on_train_begin()
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for idx in minibatch_indices(x.shape[0], batch_size, shuffle=shuffle, rng=rng):
            loss, grads = lecture_model_loss_and_grads(
                x[idx], y[idx], params, training=training, rng=rng, l2=l2
            )
            optimizer.step(params, grads)
            total += loss * len(idx)
            seen += len(idx)
        logs = {"loss": total / max(seen, 1)}
        if validation_data is not None:  # a forward pass only (no dropout), in chunks
            k1, b1, k2, b2, k3, b3 = params
            val_total, hits = 0.0, 0
            for start in range(0, x_val.shape[0], 256):
                xb, yb = x_val[start : start + 256], y_val[start : start + 256]
                h = max_pool2d(relu(conv2d(xb, k1, b1)), 2)
                z = dense(flatten(max_pool2d(relu(conv2d(h, k2, b2)), 2)), k3, b3)
                val_total += float(np.sum(categorical_crossentropy(yb, z, from_logits=True)))
                hits += int(np.sum(np.argmax(z, axis=1) == np.argmax(yb, axis=1)))
            n_val = max(x_val.shape[0], 1)
            logs["val_loss"] = val_total / n_val + (l2_penalty([k1, k2, k3], l2) if l2 else 0.0)
            logs["val_accuracy"] = hits / n_val
        for key, value in logs.items():
            history[key].append(float(value))
        if early_stopping is not None and early_stopping.on_epoch_end(epoch, logs, weights=params):
            break
    if early_stopping is not None:
        restored = early_stopping.on_train_end()
        if restored is not None:
            params = [np.array(w, dtype=np.float64) for w in restored]
    return params, history
    # END STUDENT CODE
