"""Hidden suite for cnn/activations.py: activations, softmax and element-wise derivatives.

Inputs mix random values with the hard spots of keras-semantics.md §5: exact zeros (also -0.0,
where relu' and leaky_relu' are graded), tiny values, and |x| up to 1e4 where a naive exp
overflows. Properties check symmetries on huge inputs (sigmoid(-x) = 1 - sigmoid(x), tanh odd,
softmax invariant to adding a constant).
"""

from __future__ import annotations

import numpy as np

from .._shared.layers import (
    array_problem,
    close_case,
    normal,
    pick,
    property_case,
    relation_problem,
    ri,
)

MISTAKES = {
    "sigmoid-sign-flipped": "Your output matches 1 / (1 + exp(x)), i.e. sigmoid(-x): the "
    "sigmoid is 1 / (1 + exp(-x)).",
    "sigmoid-grad-of-output": "Your output matches x * (1 - x), the derivative written for the "
    "sigmoid's output: the derivative with respect to the input x is s * (1 - s) with "
    "s = sigmoid(x).",
    "tanh-grad-of-output": "Your output matches 1 - x**2, the derivative written for tanh's "
    "output: the derivative with respect to the input x is 1 - tanh(x)**2.",
    "tanh-grad-no-square": "Your output matches 1 - tanh(x): the derivative of tanh is "
    "1 - tanh(x)**2.",
    "relu-grad-at-zero-one": "Your output is 1 at x == 0: TF/Keras's relu derivative is 0 at "
    "x == 0 (and at -0.0), 1 only where x > 0.",
    "leaky-grad-at-zero-one": "Your output is 1 at x == 0: TF/Keras's leaky_relu derivative is "
    "negative_slope at x == 0, 1 only where x > 0.",
    "leaky-slope-0.3": "Your output matches a negative slope of 0.3 (the default of the layer "
    "keras.layers.LeakyReLU): keras.activations.leaky_relu, graded here, defaults to 0.2.",
    "leaky-slope-0.01": "Your output matches a negative slope of 0.01 (PyTorch's default): "
    "keras.activations.leaky_relu defaults to 0.2.",
    "leaky-slope-ignored": "Your output matches a negative slope of 0.2 although another "
    "negative_slope was given: use the argument.",
    "softmax-axis-ignored": "Your output matches softmax over the last axis although another "
    "axis was given: normalise along `axis`.",
    "softmax-global-sum": "Your output matches exp(x) divided by the sum over the WHOLE array: "
    "each slice along `axis` must sum to 1 (np.sum(..., axis=axis, keepdims=True)).",
}

SPECIAL = [
    0.0,
    -0.0,
    1e-30,
    -1e-30,
    1e-8,
    -1e-8,
    1.0,
    -1.0,
    20.0,
    -20.0,
    88.0,
    -88.0,
    100.0,
    -100.0,
    800.0,
    -800.0,
    1e4,
    -1e4,
]


# --- inputs -----------------------------------------------------------------------------------


def _with_zeros(rng, x, fraction=0.2):
    """``x`` with about ``fraction`` of its entries set to 0.0 or -0.0."""
    flat = x.reshape(-1)
    for i in range(flat.size):
        if rng.random() < fraction:
            flat[i] = pick(rng, [0.0, -0.0])
    return x


def _with_moderate(rng, x):
    """``x`` with one entry in (-2, 2): derivatives are graded relative to their largest value,
    and an all-saturated input would demand more than float32 precision of the tiny ones."""
    x.flat[ri(rng, 0, x.size - 1)] = float(rng.uniform(-2, 2))
    return x


def _inputs(rng, group):
    """The x of each element-wise case: arrays of several shapes and one Python float."""
    if group == "public":
        return [
            np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]),
            _with_zeros(rng, normal(rng, (4, 5), 2.0)),
            normal(rng, (2, 3, 3, 2), 3.0),
        ]
    special = np.array(SPECIAL)[rng.permutation(len(SPECIAL))]
    return [
        _with_zeros(rng, normal(rng, (ri(rng, 5, 30),), 4.0)),
        _with_zeros(rng, normal(rng, (ri(rng, 1, 3), ri(rng, 2, 4), ri(rng, 2, 4), 2), 2.0)),
        special.reshape(pick(rng, [(18,), (3, 6), (2, 9)])),
        _scalar(rng),
        _with_zeros(rng, normal(rng, (ri(rng, 3, 8), 3), 1e-6)),
        _with_moderate(rng, _with_zeros(rng, normal(rng, (ri(rng, 2, 5), ri(rng, 2, 5)), 1e3))),
        np.array(pick(rng, [[0.0, -0.0, 0.0], [-0.0, 0.0, 1.0, -1.0]])),
    ]


def _scalar(rng):
    """A Python float: 0.0 where the plan says so, else away from 0 with a planned sign."""
    if ri(rng, 0, 1) == 0:
        return 0.0
    return round(pick(rng, [-1.0, 1.0]) * float(rng.uniform(0.5, 3.0)), 3)


def _f32_exact(a, step=1 / 64):
    """``a`` rounded to multiples of ``step``: exact in float32 up to |a| ~ 2**17, so that a
    float32 implementation (like Keras) loses nothing on large softmax inputs."""
    return np.round(a / step) * step


def _arr(x):
    return np.asarray(x, dtype=np.float64)


# --- element-wise functions -------------------------------------------------------------------


def _wrong(name, x, slope):
    """The mistakes of one element-wise function at input x (slope: the given or None)."""
    a = _arr(x)
    s = 1.0 / (1.0 + np.exp(-np.clip(a, -500, 500)))
    t = np.tanh(a)
    eff = 0.2 if slope is None else slope
    if name == "sigmoid":
        return {"sigmoid-sign-flipped": lambda: 1.0 - s}
    if name == "sigmoid_grad":
        return {"sigmoid-grad-of-output": lambda: a * (1.0 - a)}
    if name == "tanh_grad":
        return {"tanh-grad-of-output": lambda: 1.0 - a * a, "tanh-grad-no-square": lambda: 1 - t}
    if name == "relu_grad":
        return {"relu-grad-at-zero-one": lambda: (a >= 0).astype(np.float64)}
    if name not in ("leaky_relu", "leaky_relu_grad"):
        return {}

    def leaky(k, zero_is_one=False):
        if name == "leaky_relu":
            return lambda: np.where(a > 0, a, k * a)
        return lambda: np.where((a >= 0) if zero_is_one else (a > 0), 1.0, k)

    wrong = {}
    if name == "leaky_relu_grad":
        wrong["leaky-grad-at-zero-one"] = leaky(eff, zero_is_one=True)
    if slope is None:
        wrong["leaky-slope-0.3"] = leaky(0.3)
        wrong["leaky-slope-0.01"] = leaky(0.01)
    else:
        wrong["leaky-slope-ignored"] = leaky(0.2)
    return wrong


def _elementwise_property(ref, rng, group, name):
    """sigmoid(-x) = 1 - sigmoid(x), tanh(-x) = -tanh(x), on [x, -x] with huge entries."""
    x = normal(rng, (ri(rng, 4, 8),), 50.0)
    x[:3] = pick(rng, [[800.0, -1e4, 88.0], [-800.0, 1e4, -100.0]])
    batch = np.stack([x, -x])
    shape = batch.shape

    big = np.abs(batch) >= 40  # saturated: sigmoid is 0 or 1 there, tanh is -1 or 1
    limit = (batch > 0) * 1.0 if name == "sigmoid" else np.sign(batch)

    def check(out):
        problem = array_problem(out, shape)
        if problem:
            return problem
        saturation = relation_problem(out[big], limit[big], f"{name}(x) saturating for |x| >= 40")
        if saturation:
            return saturation
        if name == "sigmoid":
            if np.any(out < 0) or np.any(out > 1):
                return "returned values outside [0, 1]."
            return relation_problem(
                out[0] + out[1], np.ones(len(x)), "sigmoid(-x) == 1 - sigmoid(x)"
            )
        return relation_problem(out[1], -out[0], "tanh(-x) == -tanh(x)")

    what = "sigmoid(-x) == 1 - sigmoid(x)" if name == "sigmoid" else "tanh(-x) == -tanh(x)"
    return property_case(
        f"activations.{name}", group, (("x", batch),), {}, check, f"{what} for |x| up to 1e4"
    )


def _gen_elementwise(name):
    item = f"activations.{name}"
    leaky = name.startswith("leaky")

    def gen(ref, rng, group):
        fn = getattr(ref.activations, name)
        cases = []
        for i, x in enumerate(_inputs(rng, group)):
            kwargs = {}
            if leaky and i % 2 == 1:
                kwargs["negative_slope"] = pick(rng, [0.01, 0.1, 0.3, 0.5])
            if isinstance(x, np.ndarray):
                x = x.copy()  # every case owns its input
            wrong = _wrong(name, x, kwargs.get("negative_slope"))
            cases.append(close_case(fn, item, group, (("x", x),), kwargs, wrong))
        if group == "hidden":
            if name in ("sigmoid", "tanh"):
                cases.append(_elementwise_property(ref, rng, group, name))
            # No ValueError case: the contract's list of graded invalid arguments has none for
            # the activations (a non-numeric x or slope is not graded).
        return cases

    gen.__name__ = f"gen_{name}"
    return gen


# --- softmax ----------------------------------------------------------------------------------


def _softmax_wrong(x, axis):
    a = _arr(x)

    def along(ax):
        e = np.exp(a - a.max(axis=ax, keepdims=True))
        return e / e.sum(axis=ax, keepdims=True)

    return {
        "softmax-axis-ignored": lambda: along(-1),
        "softmax-global-sum": lambda: np.exp(a - a.max()) / np.exp(a - a.max()).sum(),
    }


def _softmax_case(ref, group, x, axis=None):
    kwargs = {} if axis is None else {"axis": axis}
    return close_case(
        ref.activations.softmax,
        "activations.softmax",
        group,
        (("x", x),),
        kwargs,
        _softmax_wrong(x, -1 if axis is None else axis),
    )


def _softmax_property(ref, rng, group):
    """softmax(x + c) == softmax(x) for a huge c, and every row sums to 1."""
    x = _f32_exact(normal(rng, (ri(rng, 2, 4), ri(rng, 3, 6)), 3.0))
    c = pick(rng, [1000.0, -1000.0, 1e4])
    batch = np.stack([x, x + c])
    shape = batch.shape

    def check(out):
        problem = array_problem(out, shape)
        if problem:
            return problem + " Subtract the maximum along the axis before np.exp."
        return relation_problem(
            out[1], out[0], f"softmax(x + {c:g}) == softmax(x)"
        ) or relation_problem(out.sum(axis=-1), np.ones(shape[:2]), "every row sums to 1")

    return property_case(
        "activations.softmax",
        group,
        (("x", batch),),
        {},
        check,
        "softmax(x + c) == softmax(x) for a huge c",
    )


def gen_softmax(ref, rng, group):
    if group == "public":
        specs = [
            (normal(rng, (3, 4)), None),
            (normal(rng, (2, 5)), 0),
            (np.array([1000.0, 1001.0, 1002.0]), None),
        ]
    else:
        specs = [
            (normal(rng, (ri(rng, 2, 5), ri(rng, 3, 10)), 3.0), None),
            (normal(rng, (ri(rng, 2, 3), ri(rng, 3, 5), ri(rng, 2, 4)), 2.0), 1),
            (normal(rng, (ri(rng, 3, 6), ri(rng, 2, 4)), 2.0), 0),
            (normal(rng, (2, ri(rng, 2, 4), ri(rng, 2, 4), 3), 2.0), -2),
            (_f32_exact(normal(rng, (ri(rng, 2, 4), 5), 3.0) + normal(rng, (1, 1), 1e3)), -1),
            (_f32_exact(normal(rng, (ri(rng, 4, 10),), 1e3)), None),
            (normal(rng, (ri(rng, 2, 4), 1), 5.0), None),  # one class: all ones
            (normal(rng, (ri(rng, 2, 3), ri(rng, 3, 5)), 1e-6) - 1e4, None),
        ]
    cases = [_softmax_case(ref, group, x, axis) for x, axis in specs]
    if group == "hidden":
        cases.append(_softmax_property(ref, rng, group))
        # No ValueError case: an out-of-range axis or a 0-d x is not in the contract's list.
    return cases


GENERATORS = {
    "activations.sigmoid": _gen_elementwise("sigmoid"),
    "activations.tanh": _gen_elementwise("tanh"),
    "activations.relu": _gen_elementwise("relu"),
    "activations.leaky_relu": _gen_elementwise("leaky_relu"),
    "activations.softmax": gen_softmax,
    "activations.sigmoid_grad": _gen_elementwise("sigmoid_grad"),
    "activations.tanh_grad": _gen_elementwise("tanh_grad"),
    "activations.relu_grad": _gen_elementwise("relu_grad"),
    "activations.leaky_relu_grad": _gen_elementwise("leaky_relu_grad"),
}
