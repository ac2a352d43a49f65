"""Part 2's Keras bank for cnn/model.py: the lecture model's loss and gradients, and its training.

``specs()`` is pure numpy: a few digits of the kit's shipped data (``digits28.npz``, with a
little planned noise so that no ReLU input sits exactly at 0 and no max-pooling window of the
background holds a tie), one set of lecture-model weights (Glorot-uniform kernels, small
biases), planned labels, masks, L2 factors and optimizers.

``compute(K, spec)`` answers with live Keras on the CPU, in float64 (every layer built with
``dtype="float64"`` and ``floatx`` float64 during the fit, so the optimizer's variables are
float64 too; stored rounded to float32 like the rest of the bank):

- ``lecture_model_loss_and_grads``: ``tf.GradientTape`` on the lecture's ``Sequential`` model
  with those weights, ``kernel_regularizer=L2(l2)`` on the two conv kernels and the dense kernel,
  the loss ``CategoricalCrossentropy()`` plus ``model.losses``; with ``training=True`` the
  Dropout layer is replaced by the case's fixed mask scaled ``1 / (1 - 0.5)`` (the contract's
  ground truth: Keras's own Dropout draws its own mask).
- ``train_lecture_model``: ``model.compile(optimizer, loss="categorical_crossentropy")`` and
  ``model.fit(x, y, epochs, batch_size, shuffle=False)`` on the lecture model with
  ``Dropout(0.0)`` (the case's ``training=False``: Keras's ``fit`` always trains with dropout);
  the expected value is ``(model.get_weights(), {"loss": history["loss"]})``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ...oracle.specs import Draw as _Draw
from ...oracle.specs import Spec, f32
from ...paths import STUBS_DIR
from .bank import LECTURE_WEIGHT_SHAPES

ITEMS = ("model.lecture_model_loss_and_grads", "model.train_lecture_model")
DROPOUT_RATE = 0.5  # the lecture model's Dropout(0.5)


def _digits(draw: _Draw, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training digits at seeded indices, with planned noise in [0, 0.05)."""
    with np.load(STUBS_DIR / "digits28.npz", allow_pickle=False) as data:
        x_train, y_train = data["x_train"], data["y_train"]
    at = np.sort(draw.rng.permutation(x_train.shape[0])[:n])
    x = x_train[at].astype(np.float64).reshape(n, 28, 28, 1) / 255.0
    x = f32(0.95 * x + draw.uniform(x.shape, 0.0, 0.05))
    return x, f32(np.eye(10)[y_train[at].astype(np.int64)])


def _weights(draw: _Draw) -> list[np.ndarray]:
    out = []
    for shape in LECTURE_WEIGHT_SHAPES:
        if len(shape) == 1:
            out.append(draw.normal(shape, 0.05))
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = np.sqrt(6.0 / (receptive * shape[-2] + receptive * shape[-1]))
        out.append(draw.uniform(shape, -limit, limit))
    return out


def specs(draw: _Draw) -> list[Spec]:
    """The part-2 model items' bank specs (pure numpy, deterministic from ``draw``)."""
    weights = _weights(draw)
    out: list[Spec] = []
    for n, training, l2 in [(2, False, 0.0), (3, True, 0.0), (2, False, 0.01)]:
        x, y = _digits(draw, n)
        kwargs: dict = {}
        if training:
            kwargs = {"training": True, "mask": draw.rng.random((n, 1600)) >= DROPOUT_RATE}
        if l2:
            kwargs["l2"] = l2
        label = f"x ({n}, 28, 28, 1) digits, " + (
            "training=True with a given mask" if training else "training=False"
        )
        out.append(
            Spec(
                "model.lecture_model_loss_and_grads",
                label + (f", l2={l2}" if l2 else ""),
                "call",
                (x, y, weights),
                kwargs,
                {"x.shape": x.shape, "training": training, "l2": l2},
            )
        )
    # Keras keeps an optimizer's learning_rate, momentum, beta_1 and beta_2 as float32 (even
    # under floatx float64): with 1e-3 or 0.9 its run is that of 1.0000000475e-3 or
    # 0.89999998, which Adam amplifies to 1.6e-5 of the weights' scale in 6 steps (over the
    # grading tolerance). Float32-exact values make Keras's run the contract's run (measured:
    # float64 Keras and the reference agree to 4e-15).
    for n, batch, epochs, opt, opt_kwargs in [
        (12, 5, 2, "Adam", {"learning_rate": 2**-10, "beta_1": 0.875, "beta_2": 1 - 2**-10}),
        (8, 4, 2, "SGD", {"learning_rate": 2**-4, "momentum": 0.875}),
    ]:
        x, y = _digits(draw, n)
        kwargs = {"epochs": epochs, "batch_size": batch, "shuffle": False, "training": False}
        out.append(
            Spec(
                "model.train_lecture_model",
                f"{n} digits, batch {batch}, {epochs} epochs, {opt}{opt_kwargs}, unshuffled "
                "(Keras fit)",
                "training",
                (x, y, weights, opt, opt_kwargs),
                kwargs,
                {"samples": n, "batch_size": batch, "epochs": epochs, "optimizer": opt},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------
# Keras's answers (K is oracle.keras.Keras: TensorFlow imported, CPU, TF32 off)
# ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _floatx64(K):
    before = K.keras.config.floatx()
    K.keras.config.set_floatx("float64")
    try:
        yield
    finally:
        K.keras.config.set_floatx(before)


def lecture_model(K, l2: float = 0.0, rate: float = DROPOUT_RATE):
    """The lecture's Sequential model in float64, ``kernel_regularizer=L2(l2)`` when l2 > 0."""
    keras = K.keras
    layers = keras.layers
    reg = {"kernel_regularizer": keras.regularizers.L2(l2)} if l2 else {}
    f64 = {"dtype": "float64"}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), dtype="float64"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu", **reg, **f64),
            layers.MaxPooling2D(pool_size=(2, 2), **f64),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu", **reg, **f64),
            layers.MaxPooling2D(pool_size=(2, 2), **f64),
            layers.Flatten(**f64),
            layers.Dropout(rate, **f64),
            layers.Dense(10, activation="softmax", **reg, **f64),
        ]
    )


def _loss_and_grads(K, spec: Spec) -> tuple[float, list[np.ndarray]]:
    tf, keras = K.tf, K.keras
    x, y, weights = spec.args
    training = spec.kwargs.get("training", False)
    l2 = spec.kwargs.get("l2", 0.0)
    model = lecture_model(K, l2=l2)
    model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    with tf.GradientTape() as tape:
        h = tf.constant(np.asarray(x, dtype=np.float64))
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                if training:  # the case's fixed mask, scaled 1 / (1 - rate)
                    keep = tf.constant(np.asarray(spec.kwargs["mask"], dtype=np.float64))
                    h = h * keep / (1.0 - DROPOUT_RATE)
            else:
                h = layer(h)
        loss = keras.losses.CategoricalCrossentropy(dtype="float64")(tf.constant(y), h)
        if l2:
            loss = loss + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    return float(loss.numpy()), [np.asarray(g.numpy(), dtype=np.float64) for g in grads]


def _fit(K, spec: Spec) -> tuple[list[np.ndarray], dict]:
    keras = K.keras
    x, y, weights, opt, opt_kwargs = spec.args
    kw = spec.kwargs
    with _floatx64(K):
        model = lecture_model(K, rate=0.0)  # training=False: no dropout
        model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
        optimizer = getattr(keras.optimizers, opt)(**opt_kwargs)
        model.compile(optimizer=optimizer, loss="categorical_crossentropy")
        history = model.fit(
            np.asarray(x, dtype=np.float64),
            np.asarray(y, dtype=np.float64),
            epochs=kw["epochs"],
            batch_size=kw["batch_size"],
            shuffle=False,
            verbose=0,
        )
        trained = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
    return trained, {"loss": [float(v) for v in history.history["loss"]]}


def compute(K, spec: Spec) -> Any:
    if spec.item == "model.lecture_model_loss_and_grads":
        return _loss_and_grads(K, spec)
    if spec.item == "model.train_lecture_model":
        return _fit(K, spec)
    raise KeyError(spec.item)
