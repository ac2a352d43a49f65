"""The Keras bank of topic `shapes`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec

# The items this bank has cases for.
ITEMS = (
    "shapes.conv_output_length",
    "shapes.same_padding",
    "shapes.pool_output_length",
    "shapes.conv_param_count",
    "shapes.dense_param_count",
    "shapes.receptive_field",
)
RECEPTIVE_FIELD_LENGTH = 40  # input length of the receptive-field probe stacks


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
    for n, k, s, p, d in [
        (7, 3, 1, "valid", 1),
        (12, 4, 2, "same", 1),
        (11, 3, 1, "valid", 2),
        (10, 5, 3, "valid", 1),
        (9, 2, 1, "same", 3),
    ]:
        kw = {"stride": s, "padding": p, "dilation": d}
        specs.append(
            Spec(
                "shapes.conv_output_length",
                f"n={n}, k={k}, stride={s}, padding={p!r}, dilation={d}",
                "call",
                (n, k),
                kw,
                {"input_length": n, "kernel_size": k, **kw},
            )
        )
    for n, k, s, d in [(28, 3, 2, 1), (6, 4, 1, 1), (10, 4, 3, 1), (7, 3, 1, 2), (5, 2, 1, 1)]:
        kw = {"stride": s, "dilation": d}
        specs.append(
            Spec(
                "shapes.same_padding",
                f"n={n}, k={k}, stride={s}, dilation={d}",
                "call",
                (n, k),
                kw,
                {"input_length": n, "kernel_size": k, **kw},
            )
        )
    for n, p, s, pad in [
        (7, 2, None, "valid"),
        (9, 3, 2, "same"),
        (10, 3, None, "same"),
        (12, 4, 3, "valid"),
        (5, 2, 1, "valid"),
    ]:
        kw = {"stride": s, "padding": pad}
        specs.append(
            Spec(
                "shapes.pool_output_length",
                f"n={n}, pool={p}, stride={s}, padding={pad!r}",
                "call",
                (n, p),
                kw,
                {"input_length": n, "pool_size": p, **kw},
            )
        )
    for k, c_in, filters, bias in [
        (3, 1, 32, True),
        ((5,), 3, 8, True),
        ((2, 4), 3, 6, False),
        (3, 32, 64, True),
    ]:
        specs.append(
            Spec(
                "shapes.conv_param_count",
                f"kernel_size={k}, in_channels={c_in}, filters={filters}, use_bias={bias}",
                "call",
                (k, c_in, filters),
                {"use_bias": bias},
                {"kernel_size": k, "in_channels": c_in, "filters": filters, "use_bias": bias},
            )
        )
    for n_in, units, bias in [(1600, 10, True), (7, 3, False), (128, 64, True)]:
        specs.append(
            Spec(
                "shapes.dense_param_count",
                f"in_features={n_in}, units={units}, use_bias={bias}",
                "call",
                (n_in, units),
                {"use_bias": bias},
                {"in_features": n_in, "units": units, "use_bias": bias},
            )
        )
    for stack in [
        [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2)],  # the lecture model
        [("conv", 5, 1)],
        [("pool", 3, 3), ("conv", 2, 2)],
        [("conv", 3, 2), ("conv", 3, 2), ("pool", 3, 1)],
    ]:
        layers = [(k, s) for _, k, s in stack]
        specs.append(
            Spec(
                "shapes.receptive_field",
                f"layers={layers}",
                "call",
                (layers,),
                {},
                {"layers": layers},
                {"kinds": [kind for kind, _, _ in stack]},
            )
        )


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    L = K.keras.layers
    a, kw = spec.args, spec.kwargs
    name = spec.item.split(".")[1]
    if name == "conv_output_length":
        n, k = a
        layer = L.Conv1D(
            1, k, strides=kw["stride"], padding=kw["padding"], dilation_rate=kw["dilation"]
        )
        return int(layer.compute_output_shape((1, n, 1))[1])
    if name == "same_padding":
        return _same_padding_probe(K, *a, kw["stride"], kw["dilation"])
    if name == "pool_output_length":
        n, p = a
        layer = L.MaxPooling1D(p, strides=kw["stride"], padding=kw["padding"])
        return int(layer.compute_output_shape((1, n, 1))[1])
    if name == "conv_param_count":
        k, c_in, filters = a
        if isinstance(k, tuple) and len(k) == 1:
            layer = L.Conv1D(filters, k, use_bias=kw["use_bias"])
            layer.build((None, 12, c_in))
        else:
            layer = L.Conv2D(filters, k, use_bias=kw["use_bias"])
            layer.build((None, 12, 12, c_in))
        return int(layer.count_params())
    if name == "dense_param_count":
        n_in, units = a
        layer = L.Dense(units, use_bias=kw["use_bias"])
        layer.build((None, n_in))
        return int(layer.count_params())
    if name == "receptive_field":
        return _receptive_field(K, a[0], spec.keras["kinds"])
    raise KeyError(spec.item)


def _same_padding_probe(K: Keras, n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """(before, after) that Conv1D 'same' really uses, read off one-hot probes.

    Sample j is the one-hot input e_j; kernel tap a weighs 2**a. A non-zero output
    y[j, i] = 2**a says tap a of window i reads x[j]: i*s + a*d == before + j.
    """
    x = np.eye(n).reshape(n, n, 1)
    layer = K.keras.layers.Conv1D(1, k, strides=s, padding="same", dilation_rate=d, use_bias=False)
    y = K.run_layer(layer, x, [(2.0 ** np.arange(k)).reshape(k, 1, 1)])[:, :, 0]
    befores = {i * s + int(np.log2(y[j, i])) * d - j for j, i in zip(*np.nonzero(y), strict=True)}
    if len(befores) != 1:
        raise RuntimeError(f"same_padding probe n={n} k={k} s={s} d={d} is inconclusive: {befores}")
    (before,) = befores
    k_eff = (k - 1) * d + 1
    after = max((y.shape[1] - 1) * s + k_eff - before - n, 0)
    return (int(before), int(after))


def _receptive_field(K: Keras, layers, kinds) -> int:
    """Support of d(output[0]) / d(input) in an all-ones Conv1D / AveragePooling1D stack."""
    tf, keras = K.tf, K.keras
    stack = []
    for (k, s), kind in zip(layers, kinds, strict=True):
        if kind == "conv":
            stack.append(
                keras.layers.Conv1D(1, k, strides=s, use_bias=False, kernel_initializer="ones")
            )
        else:
            stack.append(keras.layers.AveragePooling1D(k, strides=s))
    model = keras.Sequential([keras.Input(shape=(RECEPTIVE_FIELD_LENGTH, 1)), *stack])
    x = tf.Variable(
        np.random.default_rng(0).random((1, RECEPTIVE_FIELD_LENGTH, 1)), dtype=tf.float32
    )
    with tf.GradientTape() as tape:
        target = model(x)[0, 0, 0]
    grad = tape.gradient(target, x).numpy()[0, :, 0]
    support = np.flatnonzero(grad)
    if not (
        support[0] == 0
        and np.all(np.diff(support) == 1)
        and support[-1] < RECEPTIVE_FIELD_LENGTH - 1
    ):
        raise RuntimeError(
            f"receptive-field probe {layers}: support {support} is not a "
            "contiguous run starting at 0 inside the input"
        )
    return int(len(support))
