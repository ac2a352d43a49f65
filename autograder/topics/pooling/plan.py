"""Hidden suite for cnn/pooling.py: max/average pooling in 1-D and 2-D, global pooling.

The hidden scenarios stress what Keras does differently from the naive versions: 'same' windows
hanging over the border (padding never wins a max and never counts in an average), the odd extra
cell after, stride=None meaning stride=pool_size, trailing cells dropped by 'valid', overlapping
and non-square windows. Inputs are often shifted to be mostly negative so that a zero padding or
a maximum started at 0 shows.
"""

from __future__ import annotations

import numpy as np

from .._shared.layers import (
    SHARED_MISTAKES,
    array_problem,
    close_case,
    normal,
    pick,
    pool_mistakes,
    property_case,
    raises_case,
    relation_problem,
    ri,
)

MISTAKES = {
    "pool-max-init-zero": "Your output matches max(0, true maximum): the running maximum "
    "started at 0, but Keras's maximum of all-negative values is negative (start at -inf or "
    "at the first value).",
    "pool-zero-pad-max": "Your output matches max pooling with 'same' padding filled with 0: "
    "Keras pads with -inf, so a padded cell never wins.",
    "pool-count-pad": "Your output matches dividing by the full window size: with 'same' Keras "
    "averages over the real (unpadded) cells of each window only.",
    "pool-stride-one": "Your output matches pooling with stride 1 when stride=None: Keras "
    "uses stride = pool_size when no stride is given.",
    "pool-stride-ignored": "Your output matches pooling with stride = pool_size: the given "
    "stride must be used.",
    "global-keepdims": "Your output keeps the spatial axes, shape (N, 1, 1, C): Keras's global "
    "pooling returns shape (N, C).",
    "global-channels-first": "Your output reduces axes 2 and 3 as if x were (N, C, H, W): Keras "
    "is channels-last and reduces H and W, axes 1 and 2.",
}
MISTAKES["same-extra-before"] = SHARED_MISTAKES["same-extra-before"]


def _fn(ref, dims, mode):
    return getattr(ref.pooling, f"{mode}_pool{dims}d")


def _pool_case(
    ref,
    rng,
    group,
    dims,
    mode,
    size,
    pool=None,
    stride=None,
    padding="valid",
    shift=0.0,
    n=None,
    c=None,
):
    """``pool=None`` omits pool_size (max pooling's default 2); ``stride=None`` omits stride."""
    n = ri(rng, 1, 2) if n is None else n
    c = ri(rng, 1, 3) if c is None else c
    spatial = (size,) if dims == 1 else tuple(size)
    x = normal(rng, (n, *spatial, c), shift=shift)
    kwargs = {}
    if pool is not None:
        kwargs["pool_size"] = pool
    if stride is not None:
        kwargs["stride"] = stride
    if padding != "valid" or pick(rng, [True, False]):
        kwargs["padding"] = padding
    real_pool = 2 if pool is None else pool
    wrong = pool_mistakes(x, real_pool, stride, padding, mode, dims)
    return close_case(
        _fn(ref, dims, mode), f"pooling.{mode}_pool{dims}d", group, (("x", x),), kwargs, wrong
    )


def _specs(rng, group, dims, mode):
    """Keyword arguments of _pool_case for one pooling function."""
    default_pool = None if mode == "max" else 2

    def sz(low, high):
        return ri(rng, low, high) if dims == 1 else (ri(rng, low, high), ri(rng, low, high))

    def odd(low, high):
        return 2 * ri(rng, low, high) + 1

    def even(low, high):
        return 2 * ri(rng, low, high)

    def two(one_d, two_d):
        return one_d if dims == 1 else two_d

    if group == "public":
        return [
            dict(size=two(6, (6, 6)), pool=default_pool),
            dict(size=two(7, (7, 7)), pool=default_pool),  # trailing row/column dropped
            dict(size=two(7, (7, 6)), pool=3, stride=2, padding="same", shift=-1.0),
            dict(size=two(5, (5, 5)), pool=3, stride=1, padding="same"),
        ]
    neg = pick(rng, [-1.0, -0.5])
    return [
        dict(size=two(odd(2, 4), (odd(2, 4), odd(2, 4))), pool=default_pool, shift=neg),
        dict(size=sz(5, 9), pool=3, stride=1),
        dict(size=sz(6, 9), pool=two(3, (3, 2)), stride=two(2, (1, 2))),
        dict(
            size=two(odd(2, 4), (odd(2, 4), even(2, 4))),
            pool=default_pool,
            padding="same",
            shift=neg,
        ),
        dict(
            size=two(even(3, 5), (even(3, 5), even(3, 5))),
            pool=3,
            stride=2,
            padding="same",
            shift=neg,
        ),
        dict(size=sz(4, 9), pool=3, stride=1, padding="same", shift=neg),
        dict(
            size=sz(5, 9),
            pool=two(ri(rng, 2, 4), (3, 2)),
            stride=two(ri(rng, 1, 3), (2, 1)),
            padding="same",
            shift=neg,
        ),
        dict(size=sz(2, 5), pool="input"),  # window as large as the input
        dict(size=sz(4, 9), pool=1, stride=ri(rng, 2, 3), padding=pick(rng, ["valid", "same"])),
    ]


def _property_case(ref, rng, group, dims, mode):
    """Pooling commutes with x -> 2x + 3 (and max pooling with tanh); average pooling is linear."""
    size = (ri(rng, 5, 9),) if dims == 1 else (ri(rng, 5, 9), ri(rng, 5, 9))
    c = ri(rng, 1, 3)
    x, y = normal(rng, (1, *size, c), shift=-1.5), normal(rng, (1, *size, c))
    third, fourth = (np.tanh(x), y) if mode == "max" else (x + y, y)
    batch = np.concatenate([x, 2 * x + 3, third, fourth])
    kwargs = {"pool_size": 3, "stride": ri(rng, 1, 2), "padding": "same"}
    fn = _fn(ref, dims, mode)
    shape = fn(batch, **kwargs).shape

    def check(out):
        problem = array_problem(out, shape)
        if problem:
            return problem
        first = relation_problem(out[1], 2 * out[0] + 3, "pool(2x + 3) == 2 * pool(x) + 3")
        if mode == "max":
            return first or relation_problem(
                out[2], np.tanh(out[0]), "max_pool(tanh(x)) == tanh(max_pool(x))"
            )
        return first or relation_problem(
            out[2], out[0] + out[3], "avg_pool(x + y) == avg_pool(x) + avg_pool(y)"
        )

    what = "commutes with 2x + 3 and tanh" if mode == "max" else "affine: 2x + 3 and x + y"
    return property_case(
        f"pooling.{mode}_pool{dims}d",
        group,
        (("x", batch),),
        kwargs,
        check,
        f"{what}, padding='same'",
    )


def _window_property_case(rng, group, mode):
    """'valid' 2-D pooling against a uniform-kernel convolution of the same windows:
    average pooling equals it; max pooling is never below it."""
    p, s = ri(rng, 2, 3), ri(rng, 1, 3)
    x = normal(rng, (1, ri(rng, 5, 9), ri(rng, 5, 9), ri(rng, 1, 3)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (p, p), axis=(1, 2))[:, ::s, ::s]
    uniform = np.einsum("nhwcij->nhwc", windows) / (p * p)  # conv with a 1/p^2 kernel

    def check(out):
        problem = array_problem(out, uniform.shape)
        if problem or mode == "avg":
            return problem or relation_problem(
                out, uniform, "avg_pool == convolution with a uniform 1/p^2 kernel"
            )
        if (np.asarray(out) < uniform - 1e-9 * (1 + np.abs(uniform))).any():
            return "max_pool is below the average of a window somewhere (max >= mean fails)."
        return None

    what = "equals a uniform-kernel convolution" if mode == "avg" else ">= the window averages"
    return property_case(
        f"pooling.{mode}_pool2d",
        group,
        (("x", x),),
        {"pool_size": p, "stride": s, "padding": "valid"},
        check,
        what,
    )


def _invalid(rng, dims, mode):
    item = f"pooling.{mode}_pool{dims}d"
    x = normal(rng, (1, 5, 2) if dims == 1 else (1, 5, 5, 2))
    wrong_rank = normal(rng, (1, 5, 5, 2) if dims == 1 else (1, 5, 2))
    invalid = [
        raises_case(item, (("x", x),), {"pool_size": 0}, "pool_size 0"),
        raises_case(item, (("x", x),), {"pool_size": 2, "padding": "full"}, "unknown padding"),
        raises_case(item, (("x", x),), {"pool_size": 6}, "'valid' window larger than the input"),
        raises_case(item, (("x", wrong_rank),), {"pool_size": 2}, f"x not {dims + 2}-D"),
        raises_case(item, (("x", x),), {"pool_size": 2, "stride": 0}, "stride 0"),
    ]
    return [invalid.pop(ri(rng, 0, 4)), invalid.pop(ri(rng, 0, 3))]


def _gen_pool(dims, mode):
    def gen(ref, rng, group):
        cases = []
        for spec in _specs(rng, group, dims, mode):
            if spec.get("pool") == "input":
                spec["pool"] = spec["size"]
            cases.append(_pool_case(ref, rng, group, dims, mode, **spec))
        if group == "hidden":
            cases.append(_property_case(ref, rng, group, dims, mode))
            if dims == 2:
                cases.append(_window_property_case(rng, group, mode))
            cases += _invalid(rng, dims, mode)
        return cases

    gen.__name__ = f"gen_{mode}_pool{dims}d"
    return gen


# --- global pooling ---------------------------------------------------------------------------


def _global_case(ref, rng, group, mode, shape, shift=0.0, scale=1.0):
    x = normal(rng, shape, scale, shift)
    reduce = np.max if mode == "max" else np.mean
    wrong = {
        "global-keepdims": lambda: reduce(x, axis=(1, 2), keepdims=True),
        "global-channels-first": lambda: reduce(x, axis=(2, 3)),
    }
    if mode == "max":
        wrong["pool-max-init-zero"] = lambda: np.maximum(x.max(axis=(1, 2)), 0.0)
    fn = getattr(ref.pooling, f"global_{mode}_pool2d")
    return close_case(fn, f"pooling.global_{mode}_pool2d", group, (("x", x),), {}, wrong)


def _gen_global(mode):
    def gen(ref, rng, group):
        if group == "public":
            specs = [((2, 4, 4, 3), 0.0, 1.0), ((1, 5, 7, 2), -3.0, 1.0), ((2, 3, 3, 1), 0.0, 1.0)]
        else:

            def dim(low, high):
                return ri(rng, low, high)

            specs = [
                ((dim(1, 3), dim(2, 8), dim(2, 8), dim(1, 4)), 0.0, 1.0),
                ((dim(1, 3), 1, 1, dim(1, 4)), 0.0, 1.0),
                ((dim(1, 3), dim(2, 6), dim(2, 6), dim(2, 4)), -5.0, 1.0),
                ((dim(1, 3), dim(2, 6), dim(2, 6), dim(1, 4)), 1e3, 1e3),
                ((dim(1, 2), 1, dim(5, 10), dim(1, 3)), 0.0, 1.0),
                ((1, dim(2, 6), dim(2, 6), 1), -1.0, 1e-3),
                ((dim(3, 4), 10, 10, dim(2, 3)), 0.0, 1.0),
            ]
        cases = [_global_case(ref, rng, group, mode, *spec) for spec in specs]
        if group == "hidden":
            item = f"pooling.global_{mode}_pool2d"
            # (an empty axis is not in the contract's list of invalid arguments: not graded)
            cases.append(raises_case(item, (("x", normal(rng, (2, 4, 3))),), {}, "x not 4-D"))
        return cases

    gen.__name__ = f"gen_global_{mode}_pool2d"
    return gen


GENERATORS = {
    "pooling.max_pool1d": _gen_pool(1, "max"),
    "pooling.avg_pool1d": _gen_pool(1, "avg"),
    "pooling.max_pool2d": _gen_pool(2, "max"),
    "pooling.avg_pool2d": _gen_pool(2, "avg"),
    "pooling.global_max_pool2d": _gen_global("max"),
    "pooling.global_avg_pool2d": _gen_global("avg"),
}
