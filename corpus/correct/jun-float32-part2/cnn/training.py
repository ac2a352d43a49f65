"""Pieces of a training loop: mini-batches, the cross-entropy loss, Flatten and Dense."""

from __future__ import annotations

import numpy as np

from . import _checks


def minibatch_indices(
    n_samples: int,
    batch_size: int,
    shuffle: bool = True,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Split ``range(n_samples)`` into the mini-batches of one epoch, like Keras ``fit``.

    ```
    order = rng.permutation(n_samples) if shuffle else arange(n_samples)
    batches = [order[0:b], order[b:2b], ...]       # ceil(n_samples / b) batches
    ```
    Every index appears exactly once per epoch; only the last batch may be smaller
    (``n_samples % batch_size`` indices when that is not 0). ``fit(x, y, batch_size=b)`` runs
    ``ceil(n/b)`` steps per epoch in the same way. ``n_samples == 0`` gives ``[]``.

    Args:
        n_samples: number of samples N >= 0.
        batch_size: samples per step, >= 1.
        shuffle: shuffle the order (True) or keep ``0, 1, ..., N-1`` (False). Defaults to `True`.
        rng: ``np.random.Generator`` for the shuffle (a fresh ``np.random.default_rng()`` if
            None). Defaults to `None`.

    Returns:
        A list of 1-D integer ``np.ndarray``, one per step.
    """
    n_samples = _checks.non_negative_int(n_samples, "n_samples")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    shuffle = _checks.boolean(shuffle, "shuffle")
    rng = _checks.generator_or_none(rng)
    # BEGIN STUDENT CODE: a permutation (or arange), cut every batch_size entries
    if shuffle:
        order = (rng if rng is not None else np.random.default_rng()).permutation(n_samples)
    else:
        order = np.arange(n_samples)
    return [order[i : i + batch_size] for i in range(0, n_samples, batch_size)]
    # END STUDENT CODE


def categorical_crossentropy(
    y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False
) -> np.ndarray:
    """Per-sample categorical cross-entropy, like ``keras.losses.categorical_crossentropy``.

    Shapes: ``y_true`` and ``y_pred`` are ``(N, K)`` (one-hot or soft labels; any leading
    shape works, the classes are the last axis); the result is ``(N,)``.
    ```
    from_logits=False:   p = y_pred / sum(y_pred, axis=-1)       # renormalise
                         p = clip(p, 1e-7, 1 - 1e-7)              # keras.config.epsilon()
                         loss = -sum(y_true * log(p), axis=-1)
    from_logits=True:    loss = -sum(y_true * log_softmax(y_pred), axis=-1)
                         log_softmax(z) = z - max(z) - log(sum(exp(z - max(z))))
    ```
    So ``p = 0`` for the true class costs ``-log(1e-7) = 16.118``, not infinity, and the
    unnormalised ``[.2, .2, .2]`` counts as ``[1/3, 1/3, 1/3]``. ``fit`` reports the mean of
    this over the batch (``keras.losses.CategoricalCrossentropy()``).

    Args:
        y_true: target distribution per sample.
        y_pred: probabilities (or logits when ``from_logits``), same shape as ``y_true``.
        from_logits: ``y_pred`` holds logits. Defaults to `False`.
    """
    y_true = _checks.min_ndim(_checks.as_array(y_true, "y_true"), 1, "y_true")
    y_pred = _checks.as_array(y_pred, "y_pred")
    _checks.same_shape(y_true, y_pred, "y_true", "y_pred")
    from_logits = _checks.boolean(from_logits, "from_logits")
    # BEGIN STUDENT CODE: renormalise + clip, or a stable log-softmax; sum over the last axis
    if from_logits:
        z = y_pred - np.max(y_pred, axis=-1, keepdims=True)
        log_p = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    else:
        eps = 1e-7
        p = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
        log_p = np.log(np.clip(p, eps, 1.0 - eps))
    return -np.sum(y_true * log_p, axis=-1)
    # END STUDENT CODE


def flatten(x: np.ndarray) -> np.ndarray:
    """Flatten every sample to a vector, like ``keras.layers.Flatten`` (channels-last).

    Shapes: ``(N, d1, d2, ...) -> (N, d1*d2*...)``; ``(N,) -> (N, 1)``.
    The order is C order over ``(H, W, C)``: the channel index changes fastest, i.e.
    ``out[n, (i*W + j)*C + c] == x[n, i, j, c]``. A channels-first order ``(C, H, W)`` gives
    the right shape but the wrong order, and Dense weights trained in Keras then mismatch.
    """
    x = _checks.min_ndim(_checks.as_array(x, "x"), 1, "x")
    # BEGIN STUDENT CODE: one reshape (mind N == 0 and 1-D inputs)
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64)))
    # END STUDENT CODE


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """A fully connected layer without activation, like ``keras.layers.Dense(units)``.

    Shapes: ``x (..., in)``, ``kernel (in, units)``, ``bias (units,)`` -> ``(..., units)``
    (the last axis of ``x`` is transformed, whatever its rank).
    ```
    y = x @ kernel + bias                      # kernel is (in, units): NOT transposed
    ```
    Keras: ``Dense(units)`` with ``layer.set_weights([kernel, bias])``.

    Args:
        x: input with ``in`` features on its last axis.
        kernel: weight matrix ``(in, units)``.
        bias: ``(units,)`` or None (no bias). Defaults to `None`.
    """
    x = _checks.min_ndim(_checks.as_array(x, "x"), 1, "x")
    kernel = _checks.as_array(kernel, "kernel", ndim=2)
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            "The last axis of `x` must match the first axis of `kernel` (in features). "
            f"Received: x.shape={x.shape}, kernel.shape={kernel.shape}."
        )
    if bias is not None:
        bias = _checks.shape_is(_checks.as_array(bias, "bias"), (kernel.shape[1],), "bias")
    # BEGIN STUDENT CODE: matrix product, then add the bias if there is one
    y = x @ kernel
    if bias is not None:
        y = y + bias
    return y
    # END STUDENT CODE
