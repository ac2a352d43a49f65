"""The Keras bank of topic `model`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec

# The items this bank has cases for.
ITEMS = (
    "model.lecture_model_forward",
)
LECTURE_WEIGHT_SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))
PREDICT_BATCH_SIZE = 32  # model.predict's default, recorded in the provenance
BATCH_SIZES = {"model.lecture_model_forward": PREDICT_BATCH_SIZE}


def _lecture_weights(draw: Draw, bias_scale: float) -> list[np.ndarray]:
    weights = []
    for shape in LECTURE_WEIGHT_SHAPES:
        if len(shape) == 1:
            weights.append(draw.normal(shape, bias_scale))
        else:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(np.prod(shape[:-2])) * shape[-1] if len(shape) == 4 else shape[-1]
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, like Keras's default
            weights.append(draw.uniform(shape, -limit, limit))
    return weights


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    weights_a = _lecture_weights(draw, 0.05)
    weights_b = _lecture_weights(draw, 0.3)
    for label, n, weights in [
        ("weights A", 1, weights_a),
        ("weights A", 2, weights_a),
        ("weights B (larger biases)", 2, weights_b),
    ]:
        x = draw.uniform((n, 28, 28, 1))
        specs.append(
            Spec(
                "model.lecture_model_forward",
                f"x ({n}, 28, 28, 1), {label}",
                "call",
                (x, weights),
                {},
                {"x.shape": x.shape, "weights": label, "keras batch_size": PREDICT_BATCH_SIZE},
            )
        )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    keras = K.keras
    L = keras.layers
    x, weights = spec.args
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    return K.np64(
        model.predict(np.asarray(x, dtype=np.float32), batch_size=PREDICT_BATCH_SIZE, verbose=0)
    )
