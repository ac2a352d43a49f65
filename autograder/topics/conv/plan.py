"""Hidden suite for cnn/conv.py: pad2d, conv1d, conv2d.

Sizes are small (N <= 2, H, W <= 10, C_in <= 3, C_out <= 4) so that a loop-per-output-element
implementation finishes well within a second. Kernels are random (asymmetric), so a flipped or
transposed kernel never goes unnoticed; the hidden scenarios cover both paddings with odd totals,
strides 1-3 (also non-square), dilation, 1x1 kernels and kernels as large as the input.
"""

from __future__ import annotations

import numpy as np

from .._shared.layers import (
    SHARED_MISTAKES,
    array_problem,
    close_case,
    conv_mistakes,
    normal,
    pick,
    property_case,
    raises_case,
    relation_problem,
    ri,
)

MISTAKES = {
    "pad-value-ignored": "Your output matches padding with zeros although `value` was given: "
    "the new cells must hold `value`.",
    "pad-edge-mode": "Your output matches padding that repeats the border values (mode='edge'): "
    "ZeroPadding2D writes a constant into the new cells.",
    "pad-axes-swapped": "Your output matches pads[0] applied to the width and pads[1] to the "
    "height: pads is ((top, bottom), (left, right)), i.e. height first.",
    "pad-wrong-axes": "Your output pads the batch and height axes: only the two spatial axes "
    "(1 and 2 of (N, H, W, C)) are padded.",
    "pad-channels-first": "Your output pads axes 2 and 3 as if x were (N, C, H, W): Keras is "
    "channels-last, x is (N, H, W, C).",
    "conv-flipped-kernel": "Your output matches a convolution with a flipped kernel: Keras's "
    "Conv1D/Conv2D compute cross-correlation, without flipping the kernel.",
    "conv-stride-ignored": "Your output matches the convolution with stride 1: the window must "
    "move by `stride` cells (start at i * stride).",
    "conv-dilation-ignored": "Your output matches the convolution without dilation: kernel tap "
    "a reads input cell i * stride + a * dilation.",
    "conv-dilation-taps-adjacent": "Your output has the right size but reads adjacent input "
    "cells: with dilation d, kernel tap a reads input cell i * stride + a * d.",
    "conv-stride-swapped": "Your output matches the convolution with the two strides swapped: "
    "stride=(sh, sw) is (height, width).",
    "conv-kernel-hw-swapped": "Your output matches a kernel read as (KW, KH, C_in, C_out): "
    "Keras's layout is (KH, KW, C_in, C_out), height first.",
    "conv-bias-ignored": "Your output matches the convolution without the bias: Keras adds "
    "bias[f] to every output of filter f.",
}
MISTAKES.update(SHARED_MISTAKES)


# --- pad2d ------------------------------------------------------------------------------------


def _pad_case(ref, rng, group, shape, pads, value=None):
    x = normal(rng, shape)
    kwargs = {} if value is None else {"value": value}
    (t, b), (lft, r) = pads
    fill = 0.0 if value is None else value
    wrong = {
        "pad-value-ignored": lambda: np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0))),
        "pad-edge-mode": lambda: np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0)), mode="edge"),
        "pad-axes-swapped": lambda: np.pad(
            x, ((0, 0), (lft, r), (t, b), (0, 0)), constant_values=fill
        ),
        "pad-wrong-axes": lambda: np.pad(
            x, ((t, b), (lft, r), (0, 0), (0, 0)), constant_values=fill
        ),
        "pad-channels-first": lambda: np.pad(
            x, ((0, 0), (0, 0), (t, b), (lft, r)), constant_values=fill
        ),
    }
    return close_case(
        ref.conv.pad2d, "conv.pad2d", group, (("x", x), ("pads", pads)), kwargs, wrong
    )


def gen_pad2d(ref, rng, group):
    if group == "public":
        specs = [
            ((2, 4, 4, 3), ((1, 1), (1, 1)), None),
            ((1, 5, 6, 2), ((0, 1), (2, 0)), None),
            ((2, 3, 3, 1), ((2, 1), (1, 2)), -1.5),
        ]
    else:

        def shape():
            return (ri(rng, 1, 2), ri(rng, 1, 6), ri(rng, 1, 6), ri(rng, 1, 3))

        def p():
            return ri(rng, 0, 3)

        specs = [
            (shape(), ((p(), p()), (p(), p())), None),
            (shape(), ((ri(rng, 1, 3), 0), (0, ri(rng, 1, 3))), None),
            (shape(), ((0, ri(rng, 1, 3)), (ri(rng, 1, 3), 0)), None),
            (shape(), ((p(), p()), (p(), p())), float(ri(rng, 1, 9))),
            (shape(), ((0, 0), (0, 0)), None),
            ((1, 1, 1, ri(rng, 1, 3)), ((p(), ri(rng, 1, 3)), (ri(rng, 1, 3), p())), None),
            (
                shape(),
                ((ri(rng, 1, 2), ri(rng, 1, 2)), (ri(rng, 1, 2), ri(rng, 1, 2))),
                -float(ri(rng, 1, 9)) / 4,
            ),
            ((2, ri(rng, 2, 5), ri(rng, 2, 5), 3), ((ri(rng, 4, 6), 1), (2, ri(rng, 4, 6))), None),
        ]
    cases = [_pad_case(ref, rng, group, *spec) for spec in specs]
    if group == "hidden":
        x = normal(rng, (1, 3, 3, 2))
        invalid = [
            raises_case(
                "conv.pad2d", (("x", x), ("pads", ((1, -1), (0, 0)))), {}, "a negative pad"
            ),
            raises_case(
                "conv.pad2d",
                (("x", normal(rng, (3, 3, 2))), ("pads", ((1, 1), (1, 1)))),
                {},
                "x not 4-D",
            ),
        ]
        cases += invalid  # a malformed `pads` is not in the contract's list: not graded
    return cases


# --- conv1d and conv2d: scenarios --------------------------------------------------------------


def _conv_case(
    ref,
    rng,
    group,
    dims,
    n,
    size,
    c_in,
    c_out,
    k,
    stride=1,
    padding="valid",
    dilation=1,
    bias=True,
    scale=1.0,
):
    """One conv1d (dims=1: size=L, k=K) or conv2d (size=(H, W), k=(KH, KW)) case."""
    spatial = (size,) if dims == 1 else tuple(size)
    ks = (k,) if dims == 1 else tuple(k)
    x = normal(rng, (n, *spatial, c_in), scale)
    kernel = normal(rng, (*ks, c_in, c_out), 1.0 / np.sqrt(np.prod(ks) * c_in))
    b = normal(rng, (c_out,)) if bias else None
    args = (("x", x), ("kernel", kernel)) + ((("bias", b),) if bias else ())
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    fn = ref.conv.conv1d if dims == 1 else ref.conv.conv2d
    wrong = conv_mistakes(x, kernel, b, stride, padding, dilation, dims)
    return close_case(fn, f"conv.conv{dims}d", group, args, kwargs, wrong)


def _channels(rng, group, i):
    """Batch and channel sizes of the i-th case: the first two always multi-channel."""
    if group == "public":
        return {"n": 2, "c_in": (3, 2, 1, 3)[i], "c_out": (2, 3, 2, 4)[i]}
    low = 2 if i < 2 else 1
    return {"n": ri(rng, 1, 2), "c_in": ri(rng, low, 3), "c_out": ri(rng, low, 4)}


def _conv1d_specs(rng, group):
    """Keyword arguments of _conv_case (beyond ref, rng, group, dims; channels added later)."""
    if group == "public":
        return [
            dict(size=8, k=3),
            dict(size=9, k=3, stride=2),
            dict(size=8, k=4, padding="same"),
            dict(size=10, k=3, dilation=2, padding="same", bias=False),
        ]
    s = ri(rng, 2, 3)
    return [
        dict(size=ri(rng, 6, 10), k=ri(rng, 2, 4), scale=pick(rng, [1e-3, 1.0, 1e3])),
        dict(size=s * ri(rng, 2, 3) + ri(rng, 1, s - 1) + 3, k=ri(rng, 2, 3), stride=s),
        dict(size=ri(rng, 7, 10), k=ri(rng, 2, 3), dilation=ri(rng, 2, 3)),
        dict(size=ri(rng, 5, 10), k=pick(rng, [2, 4]), padding="same"),
        dict(size=2 * ri(rng, 3, 5), k=pick(rng, [3, 5]), stride=2, padding="same"),
        dict(size=ri(rng, 7, 10), k=ri(rng, 2, 4), stride=3, padding="same", bias=False),
        dict(size=ri(rng, 6, 10), k=ri(rng, 2, 3), dilation=2, padding="same"),
        dict(size=ri(rng, 3, 6), k=None),  # kernel as long as the input
        dict(size=ri(rng, 4, 8), k=1, stride=ri(rng, 1, 3)),
    ]


def _conv2d_specs(rng, group):
    if group == "public":
        return [
            dict(size=(6, 6), k=(3, 3)),
            dict(size=(8, 8), k=(3, 3), stride=2, padding="same"),
            dict(size=(7, 9), k=(2, 3), stride=(1, 2)),
            dict(size=(7, 7), k=(3, 3), dilation=2, bias=False),
        ]

    def hw(low, high):
        return (ri(rng, low, high), ri(rng, low, high))

    return [
        dict(size=hw(5, 10), k=(3, 3), scale=pick(rng, [1e-3, 1.0, 1e3])),
        dict(size=(ri(rng, 7, 10), ri(rng, 7, 10)), k=hw(2, 3), stride=(pick(rng, [1, 3]), 2)),
        dict(size=hw(7, 10), k=(ri(rng, 2, 3), ri(rng, 1, 2)), dilation=(2, pick(rng, [1, 3]))),
        dict(size=hw(5, 9), k=(pick(rng, [2, 4]), pick(rng, [2, 4])), padding="same"),
        dict(size=(2 * ri(rng, 3, 5), 2 * ri(rng, 3, 5)), k=(3, 3), stride=2, padding="same"),
        dict(
            size=hw(6, 10),
            k=(ri(rng, 2, 3), ri(rng, 3, 4)),
            stride=(2, 3),
            padding="same",
            bias=False,
        ),
        dict(size=hw(6, 9), k=(3, 2), dilation=(ri(rng, 1, 2), 2), padding="same"),
        dict(size=hw(4, 9), k=(1, 1), stride=ri(rng, 1, 2)),
        dict(size=hw(2, 5), k=None),  # kernel as large as the input: one output pixel
    ]


def _fill_kernel(spec):
    if spec["k"] is None:
        spec["k"] = spec["size"]
    return spec


# --- metamorphic property: linearity in x and shift equivariance ------------------------------


def _property_case(ref, rng, group, dims):
    """conv on the batch [x, 2x, y, x + y, x shifted by one stride]: five outputs related."""
    s = ri(rng, 1, 3)
    size = (ri(rng, 6, 9),) if dims == 1 else (ri(rng, 6, 9), ri(rng, 6, 9))
    k = (ri(rng, 2, 3),) if dims == 1 else (ri(rng, 2, 3), ri(rng, 1, 3))
    c_in, c_out = ri(rng, 1, 3), ri(rng, 1, 3)
    x, y = normal(rng, (1, *size, c_in)), normal(rng, (1, *size, c_in))
    shifted = np.zeros_like(x)
    if dims == 1:
        shifted[:, s:] = x[:, :-s]
    else:
        shifted[:, s:, s:] = x[:, :-s, :-s]
    batch = np.concatenate([x, 2 * x, y, x + y, shifted])
    kernel = normal(rng, (*k, c_in, c_out))
    kwargs = {"stride": s, "padding": "valid", "dilation": 1}
    fn = ref.conv.conv1d if dims == 1 else ref.conv.conv2d
    shape = fn(batch, kernel, **kwargs).shape

    def check(out):
        problem = array_problem(out, shape)
        if problem:
            return problem
        lead, back = (slice(1, None),) * dims, (slice(None, -1),) * dims
        return (
            relation_problem(out[1], 2 * out[0], "conv(2x) == 2 * conv(x)")
            or relation_problem(out[3], out[0] + out[2], "conv(x + y) == conv(x) + conv(y)")
            or relation_problem(
                out[4][lead], out[0][back], "shifting x by one stride shifts the output by one cell"
            )
        )

    return property_case(
        f"conv.conv{dims}d",
        group,
        (("x", batch), ("kernel", kernel)),
        kwargs,
        check,
        "linear in x and shift-equivariant (batch [x, 2x, y, x+y, shifted x])",
    )


def _matmul_property_case(rng, group):
    """A 1x1 convolution is a matrix product over the channels at every position."""
    c_in, c_out = ri(rng, 1, 4), ri(rng, 1, 4)
    x = normal(rng, (ri(rng, 1, 2), ri(rng, 3, 7), ri(rng, 3, 7), c_in))
    kernel, bias = normal(rng, (1, 1, c_in, c_out)), normal(rng, (c_out,))
    want = np.einsum("nhwc,cf->nhwf", x, kernel[0, 0]) + bias

    def check(out):
        return array_problem(out, want.shape) or relation_problem(
            out, want, "a 1x1 convolution == x @ kernel[0, 0] + bias at every position"
        )

    return property_case(
        "conv.conv2d",
        group,
        (("x", x), ("kernel", kernel), ("bias", bias)),
        {},
        check,
        "a 1x1 convolution is a matrix product",
    )


def _conv_invalid(rng, dims):
    item = f"conv.conv{dims}d"
    shape = (1, 7, 3) if dims == 1 else (1, 7, 7, 3)
    ks = (3,) if dims == 1 else (3, 3)
    x, kernel = normal(rng, shape), normal(rng, (*ks, 3, 2))
    xk = (("x", x), ("kernel", kernel))
    invalid = [
        raises_case(
            item,
            (("x", x), ("kernel", normal(rng, (*ks, 2, 2)))),
            {},
            "kernel with 2 input channels for x with 3",
        ),
        raises_case(item, xk, {"stride": 2, "dilation": 2}, "stride > 1 with dilation > 1"),
        raises_case(item, xk, {"padding": "full"}, "unknown padding"),
        raises_case(item, xk, {"dilation": 4}, "'valid' dilated kernel larger than the input"),
        raises_case(item, xk + (("bias", normal(rng, (3,))),), {}, "bias of the wrong shape"),
        raises_case(item, xk, {"stride": 0}, "stride 0"),
    ]
    return [invalid.pop(ri(rng, 0, 5)), invalid.pop(ri(rng, 0, 4))]


def _gen_conv(dims):
    def gen(ref, rng, group):
        specs = _conv1d_specs(rng, group) if dims == 1 else _conv2d_specs(rng, group)
        cases = [
            _conv_case(ref, rng, group, dims, **_channels(rng, group, i), **_fill_kernel(spec))
            for i, spec in enumerate(specs)
        ]
        if group == "hidden":
            cases.append(_property_case(ref, rng, group, dims))
            if dims == 2:
                cases.append(_matmul_property_case(rng, group))
            cases += _conv_invalid(rng, dims)
        return cases

    gen.__name__ = f"gen_conv{dims}d"
    return gen


gen_conv1d = _gen_conv(1)
gen_conv2d = _gen_conv(2)

GENERATORS = {
    "conv.pad2d": gen_pad2d,
    "conv.conv1d": gen_conv1d,
    "conv.conv2d": gen_conv2d,
}
