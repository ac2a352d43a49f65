"""The Keras bank of topic `pooling`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec, f32

# The items this bank has cases for.
ITEMS = (
    "pooling.max_pool1d",
    "pooling.avg_pool1d",
    "pooling.max_pool2d",
    "pooling.avg_pool2d",
    "pooling.global_max_pool2d",
    "pooling.global_avg_pool2d",
)


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    def add(item, shape, pool, stride, pad, x=None):
        x = draw.normal(shape) if x is None else x
        kw = {} if stride == "default" else {"stride": stride, "padding": pad}
        args = (x,) if pool == "default" else (x, pool)
        label = f"x {shape}, pool_size={pool}" + (
            ", default stride and padding"
            if stride == "default"
            else f", stride={stride}, padding={pad!r}"
        )
        specs.append(
            Spec(item, label, "call", args, kw, {"x.shape": shape, "pool_size": pool, **kw})
        )

    add("pooling.max_pool1d", (2, 9, 3), 2, None, "valid")
    add("pooling.max_pool1d", (1, 10, 2), 3, 2, "same")
    add("pooling.max_pool1d", (2, 7, 1), 3, 1, "same")
    add("pooling.max_pool1d", (2, 8, 2), "default", "default", None)
    add("pooling.avg_pool1d", (2, 9, 3), 3, None, "valid")
    add("pooling.avg_pool1d", (1, 10, 2), 3, 2, "same")
    add("pooling.avg_pool1d", (2, 7, 2), 2, 1, "same")
    add("pooling.avg_pool1d", (1, 8, 1), 4, 3, "valid")
    add("pooling.max_pool2d", (2, 8, 8, 3), 2, None, "valid")
    add("pooling.max_pool2d", (1, 9, 7, 2), (3, 3), (2, 2), "same")
    add("pooling.max_pool2d", (2, 6, 10, 2), (2, 3), (1, 2), "valid")
    add("pooling.max_pool2d", (1, 7, 7, 1), 3, 1, "same")
    add("pooling.avg_pool2d", (2, 8, 8, 3), 2, None, "valid")
    add("pooling.avg_pool2d", (1, 9, 7, 2), (3, 3), (2, 2), "same")
    add("pooling.avg_pool2d", (2, 6, 10, 2), (2, 3), (1, 2), "valid")
    add(
        "pooling.avg_pool2d", (1, 5, 5, 1), 3, 1, "same", x=f32(np.arange(25.0).reshape(1, 5, 5, 1))
    )
    for item in ("pooling.global_max_pool2d", "pooling.global_avg_pool2d"):
        for shape in [(2, 5, 4, 3), (1, 7, 7, 1), (3, 2, 6, 4)]:
            x = draw.normal(shape)
            specs.append(Spec(item, f"x {shape}", "call", (x,), {}, {"x.shape": shape}))


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    L = K.keras.layers
    name = spec.item.split(".")[1]
    classes = {
        "max_pool1d": L.MaxPooling1D,
        "avg_pool1d": L.AveragePooling1D,
        "max_pool2d": L.MaxPooling2D,
        "avg_pool2d": L.AveragePooling2D,
        "global_max_pool2d": L.GlobalMaxPooling2D,
        "global_avg_pool2d": L.GlobalAveragePooling2D,
    }
    x = spec.args[0]
    if name.startswith("global") or len(spec.args) == 1:
        layer = classes[name]()  # the Keras defaults (MaxPooling1D: pool 2, stride = pool)
    else:
        layer = classes[name](
            spec.args[1], strides=spec.kwargs["stride"], padding=spec.kwargs["padding"]
        )
    return K.run_layer(layer, x)
