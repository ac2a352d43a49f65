"""The Keras bank of topic `conv`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec

# The items this bank has cases for.
ITEMS = (
    "conv.pad2d",
    "conv.conv1d",
    "conv.conv2d",
)


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    for shape, pads in [
        ((2, 5, 4, 3), ((1, 2), (0, 1))),
        ((1, 3, 3, 1), ((2, 2), (2, 2))),
        ((2, 4, 6, 2), ((0, 0), (3, 1))),
    ]:
        x = draw.normal(shape)
        specs.append(
            Spec(
                "conv.pad2d",
                f"x {shape}, pads={pads}",
                "call",
                (x, pads),
                {},
                {"x.shape": shape, "pads": pads},
            )
        )
    for n, length, c_in, k, c_out, s, pad, d, bias in [
        (2, 9, 3, 3, 4, 1, "valid", 1, True),
        (2, 10, 2, 4, 3, 2, "same", 1, True),
        (1, 11, 3, 3, 2, 1, "same", 2, False),
        (2, 8, 1, 5, 2, 3, "valid", 1, True),
    ]:
        x = draw.normal((n, length, c_in))
        kernel = draw.normal((k, c_in, c_out), 1 / np.sqrt(k * c_in))
        b = draw.normal((c_out,), 0.5) if bias else None
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "conv.conv1d",
                f"x {x.shape}, kernel {kernel.shape}, bias={bias}, "
                f"stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (x, kernel, b),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, "bias": bias, **kw},
            )
        )
    for n, h, w, c_in, ks, c_out, s, pad, d, bias in [
        (2, 7, 7, 3, (3, 3), 4, 1, "valid", 1, True),
        (2, 8, 8, 2, (3, 3), 3, 2, "same", 1, True),  # even size, stride 2: pads (0, 1)
        (1, 9, 6, 3, (3, 2), 4, (2, 1), "same", 1, True),
        (2, 10, 11, 2, (3, 3), 2, 1, "valid", 2, False),
        (1, 12, 12, 1, (4, 4), 2, 1, "same", (1, 2), True),  # even kernel 'same'
    ]:
        x = draw.normal((n, h, w, c_in))
        kernel = draw.normal((*ks, c_in, c_out), 1 / np.sqrt(ks[0] * ks[1] * c_in))
        b = draw.normal((c_out,), 0.5) if bias else None
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "conv.conv2d",
                f"x {x.shape}, kernel {kernel.shape}, bias={bias}, "
                f"stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (x, kernel, b),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, "bias": bias, **kw},
            )
        )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    L = K.keras.layers
    name = spec.item.split(".")[1]
    if name == "pad2d":
        x, pads = spec.args
        return K.run_layer(L.ZeroPadding2D(padding=pads), x)
    x, kernel, bias = spec.args
    kw = spec.kwargs
    cls = L.Conv1D if name == "conv1d" else L.Conv2D
    layer = cls(
        kernel.shape[-1],
        kernel.shape[:-2],
        strides=kw["stride"],
        padding=kw["padding"],
        dilation_rate=kw["dilation"],
        use_bias=bias is not None,
    )
    return K.run_layer(layer, x, [kernel] if bias is None else [kernel, bias])
