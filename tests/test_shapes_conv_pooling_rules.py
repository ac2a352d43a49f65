"""Precise rules for shapes/conv/pooling (no Keras): ValueErrors, non-mutation, return types."""

from __future__ import annotations

import numpy as np
import pytest

X3 = np.zeros((2, 6, 3))
X4 = np.zeros((2, 6, 5, 3))
K3 = np.zeros((3, 3, 4))
K4 = np.zeros((3, 2, 3, 4))

# (module, function, args, kwargs, a word the message must contain)
INVALID = [
    ("shapes", "conv_output_length", (0, 3), {}, "input_length"),
    ("shapes", "conv_output_length", (5, 0), {}, "kernel_size"),
    ("shapes", "conv_output_length", (5, 3), {"stride": 0}, "stride"),
    ("shapes", "conv_output_length", (5, 3), {"dilation": 0}, "dilation"),
    ("shapes", "conv_output_length", (5, 3), {"padding": "full"}, "padding"),
    ("shapes", "conv_output_length", (2, 3), {}, "kernel"),
    ("shapes", "conv_output_length", (5, 3), {"dilation": 3}, "kernel"),
    ("shapes", "conv_output_length", (9, 3), {"stride": 2, "dilation": 2}, "dilation"),
    ("shapes", "same_padding", (5, 3), {"stride": 0}, "stride"),
    ("shapes", "same_padding", (5, 0), {}, "kernel_size"),
    ("shapes", "same_padding", (0, 3), {}, "input_length"),
    ("shapes", "same_padding", (9, 3), {"stride": 2, "dilation": 2}, "dilation"),
    ("shapes", "pool_output_length", (5, 0), {}, "pool_size"),
    ("shapes", "pool_output_length", (5, 2), {"stride": 0}, "stride"),
    ("shapes", "pool_output_length", (5, 2), {"padding": "full"}, "padding"),
    ("shapes", "pool_output_length", (2, 3), {}, "pool"),
    ("shapes", "conv_param_count", (0, 1, 1), {}, "kernel_size"),
    ("shapes", "conv_param_count", ((3, 0), 1, 1), {}, "kernel_size"),
    ("shapes", "conv_param_count", ((), 1, 1), {}, "kernel_size"),
    ("shapes", "conv_param_count", (3, 0, 1), {}, "in_channels"),
    ("shapes", "conv_param_count", (3, 1, 0), {}, "filters"),
    ("shapes", "dense_param_count", (0, 10), {}, "in_features"),
    ("shapes", "dense_param_count", (10, 0), {}, "units"),
    ("shapes", "receptive_field", ([(0, 1)],), {}, "kernel_size"),
    ("shapes", "receptive_field", ([(3, 1), (2, 0)],), {}, "stride"),
    ("shapes", "receptive_field", ([(3,)],), {}, "layers"),
    ("conv", "pad2d", (X3, ((1, 1), (1, 1))), {}, "x"),
    ("conv", "pad2d", (X4, ((1, -1), (1, 1))), {}, "pads"),
    ("conv", "pad2d", (X4, (1, 1)), {}, "pads"),
    ("conv", "pad2d", (X4, ((1, 1), (1, 1), (0, 0))), {}, "pads"),
    ("conv", "conv1d", (X4, K3), {}, "x"),
    ("conv", "conv1d", (X3, K4), {}, "kernel"),
    ("conv", "conv1d", (X3, np.zeros((3, 2, 4))), {}, "channels"),
    ("conv", "conv1d", (X3, K3, np.zeros(3)), {}, "bias"),
    ("conv", "conv1d", (X3, K3, np.zeros((1, 4))), {}, "bias"),
    ("conv", "conv1d", (X3, K3), {"stride": 0}, "stride"),
    ("conv", "conv1d", (X3, K3), {"dilation": 0}, "dilation"),
    ("conv", "conv1d", (X3, K3), {"padding": "full"}, "padding"),
    ("conv", "conv1d", (X3, K3), {"stride": 2, "dilation": 2}, "dilation"),
    ("conv", "conv1d", (X3, np.zeros((7, 3, 4))), {}, "kernel"),
    ("conv", "conv1d", (X3, K3), {"dilation": 3}, "kernel"),
    ("conv", "conv2d", (X3, K4), {}, "x"),
    ("conv", "conv2d", (X4, K3), {}, "kernel"),
    ("conv", "conv2d", (X4, np.zeros((3, 2, 1, 4))), {}, "channels"),
    ("conv", "conv2d", (X4, K4, np.zeros(5)), {}, "bias"),
    ("conv", "conv2d", (X4, K4), {"stride": (1, 0)}, "stride"),
    ("conv", "conv2d", (X4, K4), {"stride": (1, 1, 1)}, "stride"),
    ("conv", "conv2d", (X4, K4), {"dilation": 0}, "dilation"),
    ("conv", "conv2d", (X4, K4), {"padding": "full"}, "padding"),
    ("conv", "conv2d", (X4, K4), {"stride": (2, 1), "dilation": (1, 2)}, "dilation"),
    ("conv", "conv2d", (X4, np.zeros((7, 2, 3, 4))), {}, "kernel"),
    ("conv", "conv2d", (X4, np.zeros((3, 6, 3, 4))), {}, "kernel"),
    ("pooling", "max_pool1d", (X4,), {}, "x"),
    ("pooling", "max_pool1d", (X3, 0), {}, "pool_size"),
    ("pooling", "max_pool1d", (X3, 2), {"stride": 0}, "stride"),
    ("pooling", "max_pool1d", (X3, 2), {"padding": "full"}, "padding"),
    ("pooling", "max_pool1d", (X3, 7), {}, "pool"),
    ("pooling", "avg_pool1d", (X4, 2), {}, "x"),
    ("pooling", "avg_pool1d", (X3, 0), {}, "pool_size"),
    ("pooling", "avg_pool1d", (X3, 2), {"stride": 0}, "stride"),
    ("pooling", "avg_pool1d", (X3, 2), {"padding": "full"}, "padding"),
    ("pooling", "avg_pool1d", (X3, 7), {}, "pool"),
    ("pooling", "max_pool2d", (X3,), {}, "x"),
    ("pooling", "max_pool2d", (X4, (2, 0)), {}, "pool_size"),
    ("pooling", "max_pool2d", (X4, 2), {"stride": 0}, "stride"),
    ("pooling", "max_pool2d", (X4, 2), {"padding": "full"}, "padding"),
    ("pooling", "max_pool2d", (X4, (2, 6)), {}, "pool"),
    ("pooling", "avg_pool2d", (X3, 2), {}, "x"),
    ("pooling", "avg_pool2d", (X4, 0), {}, "pool_size"),
    ("pooling", "avg_pool2d", (X4, 2), {"stride": (0, 1)}, "stride"),
    ("pooling", "avg_pool2d", (X4, 2), {"padding": "full"}, "padding"),
    ("pooling", "avg_pool2d", (X4, (7, 2)), {}, "pool"),
    ("pooling", "global_max_pool2d", (X3,), {}, "x"),
    ("pooling", "global_avg_pool2d", (X3,), {}, "x"),
]


@pytest.mark.parametrize(
    "module,name,args,kwargs,word",
    INVALID,
    ids=[f"{m}.{n}-{w}-{i}" for i, (m, n, _, _, w) in enumerate(INVALID)],
)
def test_invalid_arguments_raise_value_error_naming_the_argument(
    sol, module, name, args, kwargs, word
):
    func = getattr(getattr(sol, module), name)
    with pytest.raises(ValueError) as info:
        func(*args, **kwargs)
    assert word in str(info.value), f"{name}: message {str(info.value)!r} should mention {word!r}"


def _array_calls(rng):
    """(module, function, array args, kwargs) covering every array function and both paddings."""
    x3, x4 = rng.normal(size=(2, 7, 3)), rng.normal(size=(2, 7, 6, 3))
    k3, k4, b = rng.normal(size=(3, 3, 4)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=4)
    calls = [("conv", "pad2d", (x4, ((1, 2), (0, 1))), {"value": -1.0})]
    for padding in ("valid", "same"):
        calls += [
            ("conv", "conv1d", (x3, k3, b), {"stride": 2, "padding": padding}),
            ("conv", "conv2d", (x4, k4, b), {"stride": (2, 1), "padding": padding}),
            ("conv", "conv2d", (x4, k4), {"dilation": 2, "padding": padding}),
            ("pooling", "max_pool1d", (x3, 3), {"stride": 2, "padding": padding}),
            ("pooling", "avg_pool1d", (x3, 3), {"stride": 2, "padding": padding}),
            ("pooling", "max_pool2d", (x4, (3, 2)), {"padding": padding}),
            ("pooling", "avg_pool2d", (x4, (3, 2)), {"padding": padding}),
        ]
    calls += [
        ("pooling", "max_pool1d", (x3, 1), {}),
        ("pooling", "max_pool2d", (x4, 1), {}),
        ("pooling", "global_max_pool2d", (x4,), {}),
        ("pooling", "global_avg_pool2d", (x4,), {}),
    ]
    return calls


def test_array_inputs_are_never_modified(sol):
    for module, name, args, kwargs in _array_calls(np.random.default_rng(0)):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else None for a in args]
        getattr(getattr(sol, module), name)(*args, **kwargs)
        for i, (a, c) in enumerate(zip(args, copies, strict=True)):
            if c is not None:
                assert np.array_equal(a, c), f"{name} modified its argument {i} in place"


def test_array_functions_return_fresh_float_ndarrays(sol):
    for module, name, args, kwargs in _array_calls(np.random.default_rng(1)):
        out = getattr(getattr(sol, module), name)(*args, **kwargs)
        assert type(out) is np.ndarray, f"{name} returned {type(out).__name__}"
        assert out.dtype == np.float64, f"{name}: float64 in, {out.dtype} out"
        assert not np.shares_memory(out, args[0]), f"{name} returned a view of its input"


def test_integer_inputs_give_float64_and_float32_stays_float(sol):
    xi = np.arange(2 * 5 * 4 * 2).reshape(2, 5, 4, 2)
    ki = np.ones((2, 2, 2, 3), dtype=np.int64)
    for out in [
        sol.conv.conv2d(xi, ki),
        sol.conv.conv1d(xi[:, 0], ki[0]),
        sol.conv.pad2d(xi, ((1, 0), (0, 1))),
        sol.pooling.max_pool2d(xi),
        sol.pooling.avg_pool2d(xi, 3, padding="same"),
        sol.pooling.max_pool1d(xi[:, 0]),
        sol.pooling.avg_pool1d(xi[:, 0], 2),
        sol.pooling.global_max_pool2d(xi),
        sol.pooling.global_avg_pool2d(xi),
    ]:
        assert out.dtype == np.float64
    x32 = xi.astype(np.float32)
    for out in [
        sol.conv.conv2d(x32, ki.astype(np.float32), padding="same"),
        sol.pooling.max_pool2d(x32, padding="same"),
        sol.pooling.avg_pool2d(x32, 2, padding="same"),
    ]:
        assert out.dtype in (np.float32, np.float64)


def test_shape_functions_return_python_ints(sol):
    sh = sol.shapes
    ints = [
        sh.conv_output_length(np.int64(28), np.int64(3)),
        sh.conv_output_length(28, 3, stride=2, padding="same"),
        sh.pool_output_length(13, 2),
        sh.pool_output_length(13, 2, stride=1, padding="same"),
        sh.conv_param_count(3, 1, 32),
        sh.conv_param_count((3, 2), 4, 5, use_bias=False),
        sh.dense_param_count(1600, 10),
        sh.receptive_field([(3, 1), (2, 2)]),
        sh.receptive_field([]),
    ]
    for value in ints:
        assert type(value) is int, f"{value!r} is a {type(value).__name__}, not int"
    pads = sh.same_padding(np.int64(28), 3, stride=2)
    assert type(pads) is tuple and len(pads) == 2
    assert all(type(v) is int for v in pads)
    assert pads == (0, 1)


def test_stride_none_means_pool_size(sol):
    x = np.random.default_rng(2).normal(size=(1, 9, 8, 2))
    for p in (2, 3, (2, 3)):
        np.testing.assert_array_equal(
            sol.pooling.max_pool2d(x, p), sol.pooling.max_pool2d(x, p, stride=p)
        )
        np.testing.assert_array_equal(
            sol.pooling.avg_pool2d(x, p), sol.pooling.avg_pool2d(x, p, stride=p)
        )
    assert sol.shapes.pool_output_length(9, 3) == sol.shapes.pool_output_length(9, 3, 3) == 3
