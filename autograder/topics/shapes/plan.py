"""Hidden suite for cnn/shapes.py: output lengths, 'same' padding, parameter counts and
receptive fields.

Every answer is a Python int (a tuple of two for ``same_padding``), so the cases are small and
many; the hidden group draws sizes from the student's rng around the hard spots (non-divisible
sizes, even kernels, dilation, stride > kernel, kernel equal to the input).
"""

from __future__ import annotations

from .._shared.layers import SHARED_MISTAKES, axis_pads, close_case, pick, raises_case, ri

MISTAKES = {
    "size-no-dilation": "Your answer matches the output size computed with kernel_size instead "
    "of the dilated kernel: Keras uses k_eff = (kernel_size - 1) * dilation + 1.",
    "size-ceil": "Your answer matches ceil((n - k_eff) / stride) + 1: Keras's 'valid' size is "
    "floor((n - k_eff) / stride) + 1, dropping the trailing cells that do not fill a window.",
    "size-no-plus-one": "Your answer matches floor((n - k_eff) / stride) without the + 1: Keras "
    "counts the first window too, floor((n - k_eff) / stride) + 1.",
    "size-true-division": "Your answer matches (n - k_eff) / stride + 1 with true division (a "
    "float): Keras's size is the integer floor((n - k_eff) / stride) + 1; use //.",
    "size-same-ignores-stride": "Your answer matches the input length for 'same' padding: Keras's "
    "'same' size is ceil(n / stride), which equals n only for stride 1.",
    "size-padding-ignored": "Your answer matches the 'valid' formula although padding='same': "
    "Keras's 'same' size is ceil(n / stride).",
    "same-no-dilation": "Your answer matches 'same' padding computed with kernel_size instead "
    "of the dilated kernel k_eff = (kernel_size - 1) * dilation + 1.",
    "same-total-not-clipped": "Your answer matches a negative total padding: TF/Keras take "
    "max((ceil(n/s) - 1)*s + k_eff - n, 0), never less than 0.",
    "pool-stride-one": "Your output matches pooling with stride 1 when stride=None: Keras "
    "uses stride = pool_size when no stride is given.",
    "params-no-bias": "Your count matches the weights without the biases: Keras adds one bias "
    "per filter/unit when use_bias=True.",
    "params-bias-always": "Your count includes biases although use_bias=False: Keras then has "
    "no bias vector.",
    "params-int-kernel-1d": "Your count matches a 1-D kernel of kernel_size taps: an int "
    "kernel_size means a square 2-D kernel (3 is 3x3, as in Conv2D(32, 3)).",
    "params-no-in-channels": "Your count leaves out the input channels: every filter has "
    "prod(kernel_size) * in_channels weights.",
    "params-bias-per-input": "Your count has one bias per input feature: Keras's Dense has one "
    "bias per unit.",
    "rf-strides-ignored": "Your answer matches 1 + sum(k_i - 1), ignoring the strides: each "
    "layer's k_i - 1 counts in units of the product of the strides of the layers before it.",
    "rf-own-stride": "Your answer multiplies each layer's k_i - 1 by its own stride too: only "
    "the strides of the layers BEFORE layer i widen its steps.",
    "rf-wrong-order": "Your answer matches the recursion r = (r - 1)*s + k walked from the input "
    "to the output: walk it from the output back to the input (or use 1 + sum (k_i - 1) * "
    "prod_{j<i} s_j).",
}
MISTAKES.update(SHARED_MISTAKES)


def _k_eff(k, d):
    return (k - 1) * d + 1


# --- conv_output_length -----------------------------------------------------------------------


def _conv_length_wrong(n, k, s, padding, d):
    k_eff = _k_eff(k, d)
    if padding == "same":
        return {
            "size-same-ignores-stride": lambda: n,
            "size-padding-ignored": lambda: (n - k_eff) // s + 1,
        }
    return {
        "size-no-dilation": lambda: (n - k) // s + 1,
        "size-ceil": lambda: -(-(n - k_eff) // s) + 1,
        "size-no-plus-one": lambda: (n - k_eff) // s,
        "size-true-division": lambda: (n - k_eff) / s + 1,
    }


def _conv_length_case(ref, group, n, k, s=1, padding="valid", d=1):
    kwargs = {"stride": s, "padding": padding, "dilation": d}
    return close_case(
        ref.shapes.conv_output_length,
        "shapes.conv_output_length",
        group,
        (("input_length", n), ("kernel_size", k)),
        kwargs,
        _conv_length_wrong(n, k, s, padding, d),
    )


def _valid_nondivisible(rng, s):
    """(n, k) with (n - k) % s != 0 when s > 1."""
    k = ri(rng, 1, 5)
    n = k + s * ri(rng, 1, 6) + (ri(rng, 1, s - 1) if s > 1 else 0)
    return n, k


def gen_conv_output_length(ref, rng, group):
    if group == "public":
        specs = [
            (28, 3, 1, "valid", 1),
            (28, 3, 2, "same", 1),
            (13, 2, 2, "valid", 1),
            (ri(rng, 9, 12), 3, 1, "valid", 2),
        ]
    else:
        s = ri(rng, 2, 3)
        n1, k1 = _valid_nondivisible(rng, s)
        k2, d2 = ri(rng, 2, 4), ri(rng, 2, 3)
        n_same = ri(rng, 5, 30)
        specs = [
            (ri(rng, 5, 30), ri(rng, 1, 5), 1, "valid", 1),
            (n1, k1, s, "valid", 1),
            (_k_eff(k2, d2) + ri(rng, 0, 6), k2, 1, "valid", d2),
            (ri(rng, 1, 9), None, pick(rng, [1, 2, 3]), "valid", 1),  # kernel equals input
            (n_same, pick(rng, [2, 4]), 1, "same", 1),
            (n_same + 1, ri(rng, 1, 5), ri(rng, 2, 3), "same", 1),
            (ri(rng, 4, 20), ri(rng, 2, 4), 1, "same", ri(rng, 2, 3)),
            (ri(rng, 7, 20), 1, 3, "valid", 1),
        ]
        specs = [(n, n if k is None else k, s, p, d) for n, k, s, p, d in specs]
    cases = [_conv_length_case(ref, group, *spec) for spec in specs]
    if group == "hidden":
        item = "shapes.conv_output_length"
        invalid = [
            raises_case(item, (("input_length", 9), ("kernel_size", 3)), {"stride": 0}, "stride 0"),
            raises_case(
                item,
                (("input_length", 9), ("kernel_size", 3)),
                {"padding": "full"},
                "unknown padding",
            ),
            raises_case(
                item,
                (("input_length", 9), ("kernel_size", 3)),
                {"stride": 2, "dilation": 2},
                "stride > 1 with dilation > 1",
            ),
            raises_case(
                item,
                (("input_length", 4), ("kernel_size", 3)),
                {"dilation": 2},
                "'valid' dilated kernel larger than the input",
            ),
        ]
        cases += [invalid.pop(ri(rng, 0, 3)), invalid.pop(ri(rng, 0, 2))]
    return cases


# --- same_padding -----------------------------------------------------------------------------


def _same_padding_case(ref, group, n, k, s=1, d=1):
    k_eff = _k_eff(k, d)
    total = (-(-n // s) - 1) * s + k_eff - n
    wrong = {
        "same-extra-before": lambda: axis_pads(n, k, s, d, "same", "before"),
        "same-ignores-stride": lambda: axis_pads(n, k, s, d, "same", "k-1"),
        "same-symmetric": lambda: axis_pads(n, k, s, d, "same", "symmetric"),
        "same-no-dilation": lambda: axis_pads(n, k, s, 1, "same"),
        "same-total-not-clipped": lambda: (total // 2, total - total // 2),
    }
    return close_case(
        ref.shapes.same_padding,
        "shapes.same_padding",
        group,
        (("input_length", n), ("kernel_size", k)),
        {"stride": s, "dilation": d},
        wrong,
    )


def gen_same_padding(ref, rng, group):
    if group == "public":
        specs = [(28, 3, 2, 1), (10, 4, 1, 1), (ri(rng, 7, 9), 3, 1, 1)]
    else:
        specs = [
            (ri(rng, 5, 20), pick(rng, [3, 5]), 1, 1),
            (ri(rng, 5, 20), pick(rng, [2, 4]), 1, 1),
            (2 * ri(rng, 4, 14), 3, 2, 1),  # the lecture's 28/3/2 trap: (0, 1)
            (ri(rng, 6, 20), ri(rng, 2, 5), 3, 1),
            (ri(rng, 6, 20), ri(rng, 2, 3), 1, ri(rng, 2, 3)),
            (3 * ri(rng, 2, 5) + 2, 1, 3, 1),  # stride > kernel: the total would be negative
            (ri(rng, 1, 3), ri(rng, 4, 6), 1, 1),  # kernel longer than the input
            (ri(rng, 7, 15), ri(rng, 2, 4), 2, 1),
        ]
    cases = [_same_padding_case(ref, group, *spec) for spec in specs]
    if group == "hidden":
        item = "shapes.same_padding"
        invalid = [
            raises_case(item, (("input_length", 9), ("kernel_size", 3)), {"stride": 0}, "stride 0"),
            raises_case(item, (("input_length", 9), ("kernel_size", 0)), {}, "kernel_size 0"),
            raises_case(
                item,
                (("input_length", 9), ("kernel_size", 3)),
                {"stride": 2, "dilation": 2},
                "stride > 1 with dilation > 1",
            ),
        ]
        cases.append(invalid[ri(rng, 0, 2)])
    return cases


# --- pool_output_length -----------------------------------------------------------------------


def _pool_length_case(ref, group, n, p, s=None, padding="valid"):
    stride = p if s is None else s
    wrong = _conv_length_wrong(n, p, stride, padding, 1)
    wrong.pop("size-no-dilation", None)
    if s is None:
        wrong = {"pool-stride-one": lambda: n - p + 1 if padding == "valid" else n, **wrong}
    return close_case(
        ref.shapes.pool_output_length,
        "shapes.pool_output_length",
        group,
        (("input_length", n), ("pool_size", p)),
        {"stride": s, "padding": padding},
        wrong,
    )


def gen_pool_output_length(ref, rng, group):
    if group == "public":
        specs = [(26, 2, None, "valid"), (13, 2, None, "valid"), (ri(rng, 7, 11), 3, 1, "same")]
    else:
        p = ri(rng, 2, 3)
        specs = [
            (p * ri(rng, 2, 8) + ri(rng, 1, p - 1), p, None, "valid"),  # trailing cells dropped
            (ri(rng, 5, 20), ri(rng, 2, 3), None, "same"),
            (ri(rng, 6, 20), 3, ri(rng, 1, 2), "valid"),  # overlapping windows
            (ri(rng, 6, 20), 2, 3, "valid"),  # stride larger than the window
            (ri(rng, 2, 6), None, None, "valid"),  # window equals the input
            (ri(rng, 1, 3), ri(rng, 4, 5), None, "same"),  # window longer than the input
            (ri(rng, 5, 20), 1, ri(rng, 2, 3), "same"),
            (ri(rng, 8, 20), ri(rng, 2, 4), ri(rng, 2, 3), "valid"),
        ]
        specs = [(n, n if p is None else p, s, pad) for n, p, s, pad in specs]
    cases = [_pool_length_case(ref, group, *spec) for spec in specs]
    if group == "hidden":
        item = "shapes.pool_output_length"
        invalid = [
            raises_case(item, (("input_length", 9), ("pool_size", 0)), {}, "pool_size 0"),
            raises_case(
                item,
                (("input_length", 9), ("pool_size", 2)),
                {"padding": "full"},
                "unknown padding",
            ),
            raises_case(
                item,
                (("input_length", 2), ("pool_size", 3)),
                {},
                "'valid' window larger than the input",
            ),
            raises_case(item, (("input_length", 9), ("pool_size", 2)), {"stride": 0}, "stride 0"),
        ]
        cases += [invalid.pop(ri(rng, 0, 3)), invalid.pop(ri(rng, 0, 2))]
    return cases


# --- conv_param_count and dense_param_count ---------------------------------------------------


def _conv_params_case(ref, group, k, c_in, f, use_bias=True):
    sizes = tuple(k) if isinstance(k, tuple) else (k, k)
    taps = 1
    for size in sizes:
        taps *= size
    bias = f if use_bias else 0
    wrong = {
        "params-no-bias": lambda: taps * c_in * f,
        "params-bias-always": lambda: taps * c_in * f + f,
        "params-no-in-channels": lambda: taps * f + bias,
    }
    if not isinstance(k, tuple):
        wrong["params-int-kernel-1d"] = lambda: k * c_in * f + bias
    return close_case(
        ref.shapes.conv_param_count,
        "shapes.conv_param_count",
        group,
        (("kernel_size", k), ("in_channels", c_in), ("filters", f)),
        {"use_bias": use_bias},
        wrong,
    )


def gen_conv_param_count(ref, rng, group):
    if group == "public":
        specs = [(3, 1, 32, True), ((3, 3), 32, 64, True), ((5,), ri(rng, 2, 4), 8, True)]
    else:
        specs = [
            (ri(rng, 2, 7), ri(rng, 1, 64), ri(rng, 1, 128), True),
            ((ri(rng, 1, 3), ri(rng, 4, 7)), ri(rng, 2, 16), ri(rng, 2, 64), True),
            ((ri(rng, 2, 9),), ri(rng, 1, 8), ri(rng, 1, 32), True),
            (ri(rng, 2, 5), ri(rng, 2, 32), ri(rng, 2, 64), False),
            ((ri(rng, 2, 3), ri(rng, 2, 3), ri(rng, 2, 3)), ri(rng, 2, 4), ri(rng, 2, 8), True),
            (1, ri(rng, 2, 256), ri(rng, 2, 256), True),
            ((ri(rng, 2, 4), ri(rng, 2, 4)), 1, ri(rng, 2, 16), False),
        ]
    cases = [_conv_params_case(ref, group, *spec) for spec in specs]
    if group == "hidden":
        item = "shapes.conv_param_count"
        invalid = [
            raises_case(
                item, (("kernel_size", 3), ("in_channels", 0), ("filters", 8)), {}, "in_channels 0"
            ),
            raises_case(
                item,
                (("kernel_size", (3, 0)), ("in_channels", 2), ("filters", 8)),
                {},
                "a kernel size of 0",
            ),
            raises_case(
                item, (("kernel_size", 3), ("in_channels", 2), ("filters", 0)), {}, "filters 0"
            ),
        ]
        cases.append(invalid[ri(rng, 0, 2)])
    return cases


def _dense_params_case(ref, group, n_in, units, use_bias=True):
    wrong = {
        "params-no-bias": lambda: n_in * units,
        "params-bias-always": lambda: n_in * units + units,
        "params-bias-per-input": lambda: n_in * units + (n_in if use_bias else 0),
    }
    return close_case(
        ref.shapes.dense_param_count,
        "shapes.dense_param_count",
        group,
        (("in_features", n_in), ("units", units)),
        {"use_bias": use_bias},
        wrong,
    )


def gen_dense_param_count(ref, rng, group):
    if group == "public":
        specs = [(1600, 10, True), (784, 128, True), (ri(rng, 10, 99), 3, False)]
    else:
        specs = [
            (ri(rng, 2, 4096), ri(rng, 2, 512), True),
            (ri(rng, 2, 4096), ri(rng, 2, 512), False),
            (1, 1, True),
            (ri(rng, 2, 64), 1, True),
            (1, ri(rng, 2, 64), True),
            (ri(rng, 100, 10_000), ri(rng, 100, 1000), True),
            (ri(rng, 5, 50), ri(rng, 51, 99), True),
        ]
    cases = [_dense_params_case(ref, group, *spec) for spec in specs]
    if group == "hidden":
        item = "shapes.dense_param_count"
        invalid = [
            raises_case(item, (("in_features", 0), ("units", 10)), {}, "in_features 0"),
            raises_case(item, (("in_features", 16), ("units", 0)), {}, "units 0"),
        ]
        cases.append(invalid[ri(rng, 0, 1)])
    return cases


# --- receptive_field --------------------------------------------------------------------------


def _rf_wrong(layers):
    def ignore_strides():
        return 1 + sum(k - 1 for k, _ in layers)

    def own_stride():
        rf, jump = 1, 1
        for k, s in layers:
            jump *= s
            rf += (k - 1) * jump
        return rf

    def wrong_order():
        rf = 1
        for k, s in layers:
            rf = (rf - 1) * s + k
        return rf

    return {
        "rf-strides-ignored": ignore_strides,
        "rf-own-stride": own_stride,
        "rf-wrong-order": wrong_order,
    }


def _rf_case(ref, group, layers):
    return close_case(
        ref.shapes.receptive_field,
        "shapes.receptive_field",
        group,
        (("layers", layers),),
        {},
        _rf_wrong(layers),
    )


def _stack(rng, depth):
    layers = []
    for _ in range(depth):
        k = ri(rng, 1, 5)
        layers.append((k, ri(rng, 1, min(k, 3))))
    return layers


def gen_receptive_field(ref, rng, group):
    if group == "public":
        stacks = [[(3, 1), (3, 1)], [(3, 1), (2, 2), (3, 1), (2, 2)], [(ri(rng, 3, 7), 1)]]
    else:
        stacks = [
            _stack(rng, ri(rng, 2, 3)),
            _stack(rng, ri(rng, 4, 6)),
            [(3, 2), (3, 2), (3, 2)][: ri(rng, 2, 3)],
            [(ri(rng, 2, 5), 1), (2, 2), (ri(rng, 2, 5), 1), (3, 3)],
            [(ri(rng, 2, 7), ri(rng, 1, 2))],
            [(1, 1), (ri(rng, 2, 3), 2), (1, 1), (ri(rng, 2, 5), 1)],
            [],
        ]
    cases = [_rf_case(ref, group, layers) for layers in stacks]
    if group == "hidden":
        item = "shapes.receptive_field"
        invalid = [
            raises_case(item, (("layers", [(3, 1), (2, 0)]),), {}, "a stride of 0"),
            raises_case(item, (("layers", [(0, 1)]),), {}, "a kernel size of 0"),
        ]
        cases.append(invalid[ri(rng, 0, 1)])
    return cases


GENERATORS = {
    "shapes.conv_output_length": gen_conv_output_length,
    "shapes.same_padding": gen_same_padding,
    "shapes.pool_output_length": gen_pool_output_length,
    "shapes.conv_param_count": gen_conv_param_count,
    "shapes.dense_param_count": gen_dense_param_count,
    "shapes.receptive_field": gen_receptive_field,
}
