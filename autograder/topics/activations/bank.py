"""The Keras bank of topic `activations`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec, f32, shape_text

# The items this bank has cases for.
ITEMS = (
    "activations.sigmoid",
    "activations.tanh",
    "activations.relu",
    "activations.leaky_relu",
    "activations.softmax",
    "activations.sigmoid_grad",
    "activations.tanh_grad",
    "activations.relu_grad",
    "activations.leaky_relu_grad",
)


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    inputs = [
        draw.with_zeros((7,), 3.0),
        draw.with_zeros((3, 4), 2.0),
        f32(np.concatenate([[-30.0, -5.0, 0.0, 5.0, 30.0], draw.normal((5,), 4.0)]).reshape(2, 5)),
    ]
    for base in ("sigmoid", "tanh", "relu"):
        for grad in ("", "_grad"):
            for x in inputs:
                specs.append(
                    Spec(
                        f"activations.{base}{grad}",
                        f"x {shape_text(x)}",
                        "call",
                        (x,),
                        {},
                        {"x.shape": x.shape},
                    )
                )
    for grad in ("", "_grad"):
        for x, slope in zip(inputs, (None, 0.3, 0.01), strict=True):
            kw = {} if slope is None else {"negative_slope": slope}
            label = f"x {shape_text(x)}" + ("" if slope is None else f", negative_slope={slope}")
            specs.append(
                Spec(
                    f"activations.leaky_relu{grad}",
                    label,
                    "call",
                    (x,),
                    kw,
                    {"x.shape": x.shape, **kw},
                )
            )
    for x, axis in [
        (draw.normal((4, 5), 2.0), None),
        (draw.normal((3, 4), 2.0), 0),
        (draw.normal((2, 3, 4), 2.0), 1),
        (f32([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1000.5]]), None),
    ]:
        kw = {} if axis is None else {"axis": axis}
        label = f"x {shape_text(x)}" + ("" if axis is None else f", axis={axis}")
        specs.append(
            Spec("activations.softmax", label, "call", (x,), kw, {"x.shape": x.shape, **kw})
        )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    tf, act = K.tf, K.keras.activations
    name = spec.item.split(".")[1]
    base = name.removesuffix("_grad")
    if base == "leaky_relu":

        def fn(t):
            return act.leaky_relu(t, **spec.kwargs)  # no kwarg: Keras's own default (0.2)
    elif base == "softmax":

        def fn(t):
            return act.softmax(t, **spec.kwargs)
    else:
        fn = getattr(act, base)
    x = K.f32(spec.args[0])
    if not name.endswith("_grad"):
        return K.out(fn(x))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return K.out(tape.gradient(y, x))
