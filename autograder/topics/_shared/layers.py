"""Helpers shared by the suites of shapes, conv, pooling and activations.

Case builders (expected values from the reference, wrong outputs filtered with
:func:`autograder.compare.matches`), random draws that return plain Python values, the TF 'same'
split and its usual wrong variants, and small numpy implementations of convolution and pooling
with explicit padding, from which the named mistakes are computed.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ...cases import Call, Case, Close, LazyText, Property, Raises
from ...compare import matches
from ...mistakes import LazyMistakes
from ...tolerance import ATOL_FLOOR, ATOL_SCALE, RTOL, close_arrays

# Mistake ids used by more than one module (same sentence everywhere).
SHARED_MISTAKES = {
    "same-extra-before": "Your output matches 'same' padding with the odd extra cell placed "
    "before (top/left): TF/Keras put total // 2 cells before and the odd extra one after "
    "(bottom/right).",
    "same-ignores-stride": "Your output matches 'same' padding of kernel_size - 1 cells in "
    "total, which is right only for stride 1: TF/Keras pad max((ceil(n/s) - 1)*s + k_eff - n, 0) "
    "cells.",
    "same-symmetric": "Your output matches padding (k_eff - 1) // 2 cells on each side: TF/Keras "
    "pad max((ceil(n/s) - 1)*s + k_eff - n, 0) cells in total, with the odd extra cell after.",
}


# --- random draws as plain Python values ----------------------------------------------------


def ri(rng: np.random.Generator, low: int, high: int) -> int:
    """A Python int in [low, high] (both included)."""
    return int(rng.integers(low, high + 1))


def pick(rng: np.random.Generator, options):
    """One of ``options`` (any Python objects), uniformly."""
    return options[int(rng.integers(len(options)))]


def plan_of(rng):
    """The plan stream of a ``Draws`` (a plain Generator is both)."""
    return getattr(rng, "plan", rng)


def values_of(rng):
    """The value stream of a ``Draws`` (a plain Generator is both)."""
    return getattr(rng, "values", rng)


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
_A = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.3577518672690,
    -30.66479806614716,
    2.506628274631000,
)
_B = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_C = (
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


# The constants as 0-d float64 arrays: numpy then skips converting a Python float at every
# operation (the same float64 operations on the same values: the same numbers, bit for bit).
_A0, _B0, _C0, _D0 = (tuple(np.array(v) for v in k) for k in (_A, _B, _C, _D))
_ONE, _HALF = np.array(1.0), np.array(0.5)  # (the denominators' constant terms are 1)
_P_LOW, _P_HIGH = np.array(0.02425), np.array(1 - 0.02425)


def _horner(coefs, x: np.ndarray) -> np.ndarray:
    """``(((c0 * x + c1) * x + c2) ...) * x + cn`` in place: the same operations in the same
    order as the written-out expression, so the same numbers."""
    out = coefs[0] * x
    for c in coefs[1:-1]:
        out += c
        out *= x
    out += coefs[-1]
    return out


def _ndtri(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    # The central formula on every entry (the same arithmetic per entry as on the central ones
    # alone), then the tails, rare, over it: fewer numpy calls, the same numbers. Both tails at
    # once: the upper one reads 1 - p and takes the sign -1.0 (an exact product), as when each
    # tail was computed on its own.
    q = p - _HALF
    r = q * q
    out = _horner(_A0, r)
    out *= q
    den = _horner(_B0 + (_ONE,), r)
    out /= den  # (a(r) * q) / b(r), with b's constant term 1
    high = p > _P_HIGH
    tails = (p < _P_LOW) | high
    if tails.any():
        pt, upper = p[tails], high[tails]
        pp = np.where(upper, 1 - pt, pt)
        q = np.sqrt(-2 * np.log(pp))
        top = _horner(_C0, q)
        top *= np.where(upper, -1.0, 1.0)
        top /= _horner(_D0 + (_ONE,), q)  # sign * c(q) / d(q), with d's constant term 1
        out[tails] = top
    return out


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


_U_SCALE, _U_LOW = np.array(0.98), np.array(0.01)


def normal(rng: np.random.Generator, shape, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    """A fresh float64 array of N(shift, scale**2) values whose ORDER and SIGNS are planned.

    The case plan decides the rank of every entry (a permutation from ``rng``'s plan); each
    student's values only move every entry inside its own quantile bin, kept 1 % of a bin away
    from the bin's edges. So every student's array sorts the same way (the same maxima win every
    pooling window, no tie, no accidental zero), and the sign of every entry is planned too: the
    bin holding 0 is split at 0, on a side the plan chooses.
    """
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape)
    plan = plan_of(rng)
    rank = plan.permutation(n)
    below = plan.random(n)
    u = values_of(rng).random(n)
    u *= _U_SCALE
    u += _U_LOW  # 0.01 + 0.98 * random (the same sum and product, in place)
    lo, hi = rank / n, (rank + 1) / n
    pz = _phi(-shift / scale) if scale else 0.5
    # The bin that holds pz strictly inside (at most one: the bins' edges are the same floats
    # rank / n on both sides) is split at pz, on the side its planned draw chose.
    guess = int(pz * n)
    for r in (guess - 1, guess, guess + 1):
        if 0 <= r < n and r / n < pz < (r + 1) / n:
            i = int((rank == r).argmax())  # the one entry of rank r
            if below[i] < 0.5:
                hi[i] = pz
            else:
                lo[i] = pz
            break
    hi -= lo
    hi *= u
    hi += lo  # lo + u * (hi - lo), in place
    x = _ndtri(hi)
    x *= scale
    x += shift  # shift + scale * x, in place: x is a fresh float64 array of its own
    x.shape = shape
    return x


def margin(got: Any, want: Any) -> float:
    """How far ``got`` is from passing against ``want``, in units of the float tolerance (0: the
    same, <= 1: it passes, inf: another structure). A value near 1 means a value accident could
    decide the case: a generator redraws its values (never its plan) until no known mistake is
    near the border."""
    if isinstance(want, dict) and isinstance(got, dict) and got.keys() == want.keys():
        return max((margin(got[k], want[k]) for k in want), default=0.0)
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        if len(got) != len(want):
            return float("inf")
        return max((margin(g, w) for g, w in zip(got, want, strict=True)), default=0.0)
    if type(want) in (int, float) and type(got) in (int, float):
        return _scalar_margin(float(got), float(want))  # the same number, without numpy
    if isinstance(want, np.ndarray | np.generic | float | int) and not isinstance(want, bool):
        w = np.asarray(want, dtype=np.float64)
        try:
            g = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return float("inf")
        if g.shape != w.shape:
            return float("inf")
        if w.size == 0:
            return 0.0
        finite = np.abs(w[np.isfinite(w)])
        tol = max(ATOL_SCALE * (float(finite.max()) if finite.size else 0.0), ATOL_FLOOR)
        with np.errstate(invalid="ignore", over="ignore"):
            ratio = np.atleast_1d(np.abs(g - w) / (tol + RTOL * np.abs(w)))
        ratio[np.atleast_1d(g == w)] = 0.0
        return float(np.nan_to_num(ratio, nan=np.inf).max())
    return 0.0 if got == want else float("inf")


def _scalar_margin(g: float, w: float) -> float:
    """:func:`margin` of two Python numbers, as numpy computes it for 0-d float64 arrays
    (``nan_to_num``: NaN -> inf, inf -> the largest float)."""
    if g == w:
        return 0.0
    tol = max(ATOL_SCALE * (abs(w) if math.isfinite(w) else 0.0), ATOL_FLOOR)
    ratio = abs(g - w) / (tol + RTOL * abs(w))
    if math.isnan(ratio):
        return math.inf
    return sys.float_info.max if ratio == math.inf else ratio


def near_border(value: float, low: float = 0.2, high: float = 5.0) -> bool:
    """A margin that a small change of the values could move across the pass/fail border."""
    return low < value < high


# --- case building -----------------------------------------------------------------------------


def _show(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return f"shape {value.shape}"
    if isinstance(value, list) and any(isinstance(v, np.ndarray) for v in value):
        return f"list of {len(value)} arrays"
    return value


def label(args: tuple, kwargs: dict) -> tuple[str, dict]:
    """A case name and its params: arrays appear as shapes, other values as ``repr``."""
    parts, params = [], {}
    for key, value in list(args) + list(kwargs.items()):
        shown = _show(value)
        params[key] = shown
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {value.shape}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts), params


def _arrays_and_atoms(value: Any) -> bool:
    """A list or tuple of arrays (and numbers, strings, None), at least one array."""
    if type(value) not in (list, tuple):
        return False
    arrays = [v for v in value if type(v) is np.ndarray]
    return (
        bool(arrays)
        and not any(a.dtype.hasobject for a in arrays)
        and all(type(v) in _ATOMS or type(v) is np.ndarray for v in value)
    )


def lazy_label(
    args: tuple, kwargs: dict, before: str = "", after: str = ""
) -> tuple[str | LazyText, dict]:
    """``before + name + after`` and the params of :func:`label`; when the name shows a list or
    tuple of arrays (their ``repr``: milliseconds each, issue #16), it is computed only when it
    is read (only a failing case's name is shown). Those values are copied now
    (:func:`_fresh`), so the name is the text :func:`label` gives at this moment, whatever
    happens to the arguments later."""
    parts: list[str | None] = []
    params, later = {}, []
    for key, value in list(args) + list(kwargs.items()):
        params[key] = _show(value)
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {value.shape}")
        elif _arrays_and_atoms(value):
            later.append((len(parts), key, _fresh(value, {})))  # (copies: the same repr)
            parts.append(None)
        else:
            parts.append(f"{key}={value!r}")
    if not later:
        return before + ", ".join(parts) + after, params

    def text() -> str:
        for at, key, value in later:
            parts[at] = f"{key}={value!r}"
        return before + ", ".join(parts) + after

    return LazyText(text), params


def _plain(value: Any) -> Any:
    """A numpy float scalar as a 0-d array, so that scalars and 0-d arrays are both accepted."""
    if isinstance(value, np.generic) and value.dtype.kind == "f":
        return np.asarray(value, dtype=np.float64)
    return value


_ATOMS = (int, float, bool, str, type(None))


def _fresh(value: Any, memo: dict) -> Any:
    """``copy.deepcopy(value, memo)``, faster for what case arguments are made of (arrays,
    numbers, strings, tuples, lists, dicts): arrays are copied in their own memory order and
    an array met twice is copied once, as deepcopy does; anything else goes to deepcopy."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is np.ndarray and not value.dtype.hasobject:
        found = memo.get(id(value))
        if found is None:
            found = memo[id(value)] = value.copy(order="K")
            memo.setdefault(id(memo), []).append(value)  # (kept alive, as deepcopy keeps it)
        return found
    if kind is tuple:
        return tuple(_fresh(v, memo) for v in value)
    if kind is list:
        return [_fresh(v, memo) for v in value]
    if kind is dict:
        return {_fresh(k, memo): _fresh(v, memo) for k, v in value.items()}
    return copy.deepcopy(value, memo)


def close_case(
    fn: Callable,
    item: str,
    group: str,
    args: tuple = (),
    kwargs: dict | None = None,
    wrong: dict[str, Callable[[], Any]] | None = None,
    exact: bool = False,
    name: str | None = None,
) -> Case:
    """A case whose answer is ``fn(*args, **kwargs)`` computed by the reference here.

    ``args`` is a tuple of ``(name, value)`` pairs, passed positionally; ``wrong`` maps a
    mistake id to a zero-argument function computing that mistake's output: it is kept only when
    it runs and does not match the expected answer.
    """
    kwargs = dict(kwargs or {})
    values = tuple(v for _, v in args)
    memo: dict = {}
    expected = _plain(fn(*_fresh(values, memo), **_fresh(kwargs, memo)))
    # computed when an answer does not match (the same ids and outputs as computing them here)
    mistakes = LazyMistakes(
        wrong or {},
        expected,
        lambda out, other: matches(out, other, exact),
        distinct=True,
        prepare=_plain,
    )
    text, params = lazy_label(args, kwargs)
    return Case(
        item=item,
        name=name or text,
        call=Call("call", item, values, kwargs),
        expect=Close(expected, exact=exact),
        group=group,
        params=params,
        mistakes=mistakes,
    )


def raises_case(item: str, args: tuple = (), kwargs: dict | None = None, why: str = "") -> Case:
    """A hidden case whose call must raise ValueError (invalid arguments)."""
    kwargs = dict(kwargs or {})
    before, after = (f"invalid: {why} (", ")") if why else ("invalid: ", "")
    text, params = lazy_label(args, kwargs, before, after)
    return Case(
        item=item,
        name=text,
        call=Call("call", item, tuple(v for _, v in args), kwargs),
        expect=Raises("ValueError"),
        group="hidden",
        params=params,
        check_mutation=False,
    )


def property_case(
    item: str,
    group: str,
    args: tuple,
    kwargs: dict,
    check: Callable[[Any], str | None],
    description: str,
) -> Case:
    """A metamorphic case: ``check`` judges the returned value on its own."""
    text, params = lazy_label(args, kwargs, f"property: {description} (", ")")
    return Case(
        item=item,
        name=text,
        call=Call("call", item, tuple(v for _, v in args), dict(kwargs)),
        expect=Property(check, description),
        group=group,
        oracle="property",
        params=params,
    )


def array_problem(value: Any, shape: tuple) -> str | None:
    """None when ``value`` is a finite float array of ``shape``, else one sentence."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return f"returned {type(value).__name__}; expected a float np.ndarray of shape {shape}."
    if value.shape != tuple(shape):
        return f"returned shape {value.shape}; expected shape {tuple(shape)}."
    if not np.all(np.isfinite(value)):
        return "returned NaN or infinite values for finite inputs."
    return None


def relation_problem(got: np.ndarray, want: np.ndarray, what: str) -> str | None:
    """None when ``got`` matches ``want`` within the float32 tolerance, else one sentence."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if close_arrays(got, want):
        return None
    err = float(np.max(np.abs(got - want)))
    return f"{what} does not hold (largest difference {err:.3g})."


# --- TF 'same' padding and its wrong variants -------------------------------------------------


def axis_pads(n: int, k: int, s: int, d: int, padding: str, variant: str = "tf") -> tuple:
    """(before, after) on one axis of length ``n``; ``variant`` names a wrong split."""
    if padding == "valid":
        return (0, 0)
    k_eff = (k - 1) * d + 1
    if variant in ("tf", "before"):
        total = max((-(-n // s) - 1) * s + k_eff - n, 0)
        before = total // 2
        return (before, total - before) if variant == "tf" else (total - before, before)
    if variant == "k-1":
        return ((k_eff - 1) // 2, k_eff - 1 - (k_eff - 1) // 2)
    if variant == "symmetric":
        return ((k_eff - 1) // 2, (k_eff - 1) // 2)
    raise AssertionError(variant)


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# --- numpy convolution and pooling with explicit padding (mistakes are computed with these) ---


def conv2d_pads(x, kernel, bias, stride, dilation, pads) -> np.ndarray:
    """Cross-correlation of ``x`` (N,H,W,C) zero-padded by ``pads``; no shape checks."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw = kernel.shape[:2]
    h_out = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    w_out = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError("no output")
    y = np.zeros((x.shape[0], h_out, w_out, kernel.shape[3]))
    for a in range(kh):
        for b in range(kw):
            win = xp[
                :,
                a * dh : a * dh + (h_out - 1) * sh + 1 : sh,
                b * dw : b * dw + (w_out - 1) * sw + 1 : sw,
                :,
            ]
            y += win @ kernel[a, b]
    return y if bias is None else y + bias


def conv2d_variant(x, kernel, bias, stride, padding, dilation, variant="tf") -> np.ndarray:
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    pads = (
        axis_pads(x.shape[1], kernel.shape[0], sh, dh, padding, variant),
        axis_pads(x.shape[2], kernel.shape[1], sw, dw, padding, variant),
    )
    return conv2d_pads(x, kernel, bias, (sh, sw), (dh, dw), pads)


def conv_mistakes(x, kernel, bias, stride, padding, dilation, dims: int = 2) -> dict:
    """Wrong convolutions for ``conv2d`` (``dims=2``) or ``conv1d`` (``dims=1``)."""
    if dims == 1:  # (N, L, C) as (N, L, 1, C); kernel (K, C, F) as (K, 1, C, F)
        x, kernel = x[:, :, None, :], kernel[:, None]
        stride, dilation = (stride, 1), (dilation, 1)

    def run(**change):
        a = dict(kernel=kernel, bias=bias, stride=stride, dilation=dilation, variant="tf")
        a.update(change)
        y = conv2d_variant(
            x, a["kernel"], a["bias"], a["stride"], padding, a["dilation"], a["variant"]
        )
        return y[:, :, 0, :] if dims == 1 else y

    wrong = {"conv-flipped-kernel": lambda: run(kernel=kernel[::-1, ::-1])}
    if padding == "same":
        # first the lecture's "(k - 1) // 2 on each side" (it wins when two variants coincide)
        for variant, mistake in (
            ("k-1", "same-ignores-stride"),
            ("symmetric", "same-symmetric"),
            ("before", "same-extra-before"),
        ):
            wrong[mistake] = lambda v=variant: run(variant=v)
    wrong["conv-stride-ignored"] = lambda: run(stride=(1, 1))
    wrong["conv-dilation-ignored"] = lambda: run(dilation=(1, 1))
    if pair(dilation) != (1, 1):

        def taps_adjacent():
            # size and padding from the dilated kernel, but the taps read adjacent cells
            (sh, sw), (dh, dw) = pair(stride), pair(dilation)
            pads = (
                axis_pads(x.shape[1], kernel.shape[0], sh, dh, padding),
                axis_pads(x.shape[2], kernel.shape[1], sw, dw, padding),
            )
            right = conv2d_pads(x, kernel, bias, (sh, sw), (dh, dw), pads)
            y = conv2d_pads(x, kernel, bias, (sh, sw), (1, 1), pads)
            y = y[:, : right.shape[1], : right.shape[2]]
            return y[:, :, 0, :] if dims == 1 else y

        wrong["conv-dilation-taps-adjacent"] = taps_adjacent
    if dims == 2:
        wrong["conv-stride-swapped"] = lambda: run(stride=pair(stride)[::-1])
        wrong["conv-kernel-hw-swapped"] = lambda: run(kernel=kernel.transpose(1, 0, 2, 3))
    if bias is not None:
        wrong["conv-bias-ignored"] = lambda: run(bias=None)
    return wrong


def pool2d_pads(x, pool, stride, pads, mode, fill=-np.inf, count_pad=False) -> np.ndarray:
    """Max or average pooling of ``x`` (N,H,W,C) padded by ``pads``; no shape checks."""
    (ph, pw), (sh, sw) = pair(pool), pair(stride)
    xp = np.pad(
        x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill if mode == "max" else 0.0
    )
    real = np.pad(np.ones(x.shape[1:3]), pads)
    h_out = (xp.shape[1] - ph) // sh + 1
    w_out = (xp.shape[2] - pw) // sw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError("no output")
    wins, counts = [], np.zeros((h_out, w_out))
    for a in range(ph):
        for b in range(pw):
            wins.append(xp[:, a : a + (h_out - 1) * sh + 1 : sh, b : b + (w_out - 1) * sw + 1 : sw])
            counts += real[a : a + (h_out - 1) * sh + 1 : sh, b : b + (w_out - 1) * sw + 1 : sw]
    if mode == "max":
        return np.max(wins, axis=0)
    return np.sum(wins, axis=0) / (ph * pw if count_pad else counts[None, :, :, None])


def pool_mistakes(x, pool, stride, padding, mode, dims: int = 2) -> dict:
    """Wrong poolings for the 1-D (``dims=1``, x (N,L,C)) and 2-D pooling functions."""
    if dims == 1:
        x = x[:, :, None, :]
        pool, stride = (pool, 1), (None if stride is None else (stride, 1))
    pool = pair(pool)
    real_stride = pool if stride is None else pair(stride)

    def run(stride=real_stride, variant="tf", fill=-np.inf, count_pad=False):
        pads = tuple(
            axis_pads(x.shape[1 + i], pool[i], stride[i], 1, padding, variant) for i in range(2)
        )
        y = pool2d_pads(x, pool, stride, pads, mode, fill, count_pad)
        return y[:, :, 0, :] if dims == 1 else y

    wrong = {}
    if mode == "max":
        wrong["pool-max-init-zero"] = lambda: np.maximum(run(), 0.0)
        if padding == "same":
            wrong["pool-zero-pad-max"] = lambda: run(fill=0.0)
    elif padding == "same":
        wrong["pool-count-pad"] = lambda: run(count_pad=True)
    if padding == "same":
        wrong["same-extra-before"] = lambda: run(variant="before")
    if stride is None:
        wrong["pool-stride-one"] = lambda: run(stride=(1, 1))
    else:
        wrong["pool-stride-ignored"] = lambda: run(stride=pool)
    return wrong
