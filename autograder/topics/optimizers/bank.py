"""The Keras bank of topic `optimizers`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec, f32

# The items this bank has cases for.
ITEMS = (
    "optimizers.SGD",
    "optimizers.Adagrad",
    "optimizers.RMSprop",
    "optimizers.Adam",
)


def _optimizer_inputs(draw: Draw, steps: int, scale: float):
    params = [draw.normal((3, 2)), f32([1.0, -2.0, 0.5])]
    grads = []
    for t in range(steps):
        gw = draw.normal((3, 2), scale)
        gb = draw.normal((3,), scale)
        gb[2] = 0.0 if t % 2 == 0 else f32(0.7 * scale)  # a coordinate with zero gradients
        grads.append([gw, gb])
    return params, grads


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    configs = {
        "SGD": [
            ({}, 5, 1.0),
            ({"learning_rate": 0.1, "momentum": 0.9}, 8, 1.0),
            ({"learning_rate": 0.05, "momentum": 0.5, "nesterov": True}, 6, 1.0),
        ],
        "Adagrad": [
            ({}, 6, 1e-3),
            ({"learning_rate": 0.1, "initial_accumulator_value": 0.5}, 8, 1.0),
            ({"learning_rate": 0.01, "epsilon": 1e-4}, 5, 0.1),
        ],
        "RMSprop": [
            ({}, 5, 1.0),
            ({"learning_rate": 0.01, "rho": 0.99}, 8, 0.1),
            ({"learning_rate": 0.01, "momentum": 0.9}, 6, 1.0),
            ({"learning_rate": 0.01, "centered": True}, 7, 1.0),
        ],
        "Adam": [
            ({}, 10, 1e-4),
            ({"learning_rate": 0.01}, 8, 1.0),
            ({"learning_rate": 0.01, "amsgrad": True}, 10, 1.0),
            ({"learning_rate": 0.005, "beta_1": 0.8, "beta_2": 0.99}, 6, 1e-6),
        ],
    }
    for name, cases in configs.items():
        for kw, steps, scale in cases:
            params, grads = _optimizer_inputs(draw, steps, scale)
            shown = ", ".join(f"{k}={v}" for k, v in kw.items()) or "defaults"
            specs.append(
                Spec(
                    f"optimizers.{name}",
                    f"{shown}, {steps} steps, |g| ~ {scale:g}",
                    "optimizer",
                    (params, grads),
                    kw,
                    {**kw, "steps": steps, "gradient scale": scale, "param shapes": [(3, 2), (3,)]},
                )
            )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    keras = K.keras
    params, grads = spec.args
    opt = getattr(keras.optimizers, spec.item.split(".")[1])(**spec.kwargs)
    variables = [keras.Variable(np.asarray(p, dtype=np.float32)) for p in params]
    trajectory: list[list[np.ndarray]] = [[] for _ in params]
    iterations = []
    for step in grads:
        opt.apply_gradients(zip([K.f32(g) for g in step], variables, strict=True))
        for k, v in enumerate(variables):
            trajectory[k].append(K.out(v.value))
        iterations.append(int(opt.iterations.value.numpy()))  # not np.array(Variable): deprecated
    return {"params": [np.stack(t) for t in trajectory], "iterations": iterations}
