"""The Keras bank of topic `training`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec, f32, shape_text

# The items this bank has cases for.
ITEMS = (
    "training.minibatch_indices",
    "training.categorical_crossentropy",
    "training.flatten",
    "training.dense",
)
# Items whose expected value is compared exactly (integers), not within float tolerance.
EXACT = ("training.minibatch_indices",)
BATCH_SIZES = {"training.minibatch_indices": "the case's batch_size"}


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    for n, b in [(10, 3), (8, 4), (7, 7), (5, 10)]:
        specs.append(
            Spec(
                "training.minibatch_indices",
                f"n_samples={n}, batch_size={b}, shuffle=False",
                "call",
                (n, b),
                {"shuffle": False},
                {"n_samples": n, "batch_size": b, "shuffle": False},
            )
        )

    def probs(n, k):
        z = draw.normal((n, k), 2.0)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return f32(e / e.sum(axis=1, keepdims=True))

    onehot = f32(np.eye(5)[[0, 3, 1, 4]])
    saturated = f32([[0.0, 0.3, 0.7, 0.0], [0.2, 0.2, 0.2, 0.2], [1.0, 0.0, 0.0, 0.0]])
    soft = draw.uniform((3, 3), 0.0, 1.0)
    soft = f32(soft / soft.sum(axis=1, keepdims=True))
    cce = [
        ("one-hot labels, softmax probabilities", onehot, probs(4, 5), {}),
        ("unnormalised / zero / one probabilities", f32(np.eye(4)[[0, 1, 0]]), saturated, {}),
        ("soft labels", soft, probs(3, 3), {}),
        (
            "from_logits=True, large logits",
            f32(np.eye(6)[[5, 0, 2, 2]]),
            draw.normal((4, 6), 20.0),
            {"from_logits": True},
        ),
    ]
    for label, y, p, kw in cce:
        specs.append(
            Spec(
                "training.categorical_crossentropy",
                f"{label}, y {shape_text(y)}",
                "call",
                (y, p),
                kw,
                {"y_true.shape": y.shape, **kw},
            )
        )
    for shape in [(2, 3, 4, 2), (3, 5), (2, 2, 2, 2, 3)]:
        x = draw.normal(shape)
        specs.append(Spec("training.flatten", f"x {shape}", "call", (x,), {}, {"x.shape": shape}))
    for xs, units, bias in [((4, 6), 3, True), ((2, 3, 5), 4, True), ((3, 7), 2, False)]:
        x = draw.normal(xs)
        kernel = draw.normal((xs[-1], units), 1 / np.sqrt(xs[-1]))
        b = draw.normal((units,), 0.5) if bias else None
        specs.append(
            Spec(
                "training.dense",
                f"x {xs}, kernel {kernel.shape}, bias={bias}",
                "call",
                (x, kernel, b),
                {},
                {"x.shape": xs, "kernel.shape": kernel.shape, "bias": bias},
            )
        )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    keras = K.keras
    name = spec.item.split(".")[1]
    if name == "minibatch_indices":
        return _fit_batches(K, *spec.args)
    if name == "categorical_crossentropy":
        y, p = (np.asarray(a, dtype=np.float32) for a in spec.args)  # numpy: Keras clips
        return K.out(keras.losses.categorical_crossentropy(y, p, **spec.kwargs))
    if name == "flatten":
        return K.run_layer(keras.layers.Flatten(), spec.args[0])
    if name == "dense":
        x, kernel, bias = spec.args
        layer = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None)
        return K.run_layer(layer, x, [kernel] if bias is None else [kernel, bias])
    raise KeyError(spec.item)


def _fit_batches(K: Keras, n: int, batch_size: int) -> list[np.ndarray]:
    """The sample indices of every step of one ``fit(shuffle=False)`` epoch."""
    keras = K.keras
    seen: list[np.ndarray] = []

    class Recorder(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x = data[0]
            seen.append(np.asarray(x)[:, 0].round().astype(np.int64))
            return {"steps": K.tf.constant(float(len(seen)))}

    model = Recorder()
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    model.fit(
        x, np.zeros((n, 1), np.float32), batch_size=batch_size, epochs=1, shuffle=False, verbose=0
    )
    return seen
