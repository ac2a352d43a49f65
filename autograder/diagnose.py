"""Where a wrong array is wrong: one sentence that helps without revealing expected values.

:func:`locate_error` looks at the pattern of the wrong cells of a failing answer (the answer
matched no known mistake of the suite) and names it: a different axis order (channels-first),
a constant factor or offset, channels mixed up or only some channels wrong, only the border
cells wrong (padding), wrong cells repeating every p-th position (stride). It reports shapes,
axes, indices and rough factors only, never an expected value.
"""

from __future__ import annotations

import itertools

import numpy as np

from .tolerance import ATOL_FLOOR, ATOL_SCALE, RTOL, close_arrays

MAX_PERMUTED_NDIM = 5  # at most 120 axis orders are tried


def _bad(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The wrong cells, with the tolerance of :func:`autograder.tolerance.close_arrays`."""
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    tol = max(ATOL_SCALE * scale, ATOL_FLOOR) + RTOL * np.abs(want)
    with np.errstate(invalid="ignore", over="ignore"):
        return ~((np.abs(got - want) <= tol) | (got == want))


def _spatial_axes(ndim: int) -> tuple[int, ...]:
    """(N, ..., C) arrays: the axes between batch and channels; a 1-D array: its axis."""
    if ndim >= 3:
        return tuple(range(1, ndim - 1))
    return (0,) if ndim == 1 else ()


def _layout(got: np.ndarray, want: np.ndarray) -> str | None:
    if got.ndim != want.ndim or got.ndim < 2 or got.ndim > MAX_PERMUTED_NDIM:
        return None
    if sorted(got.shape) != sorted(want.shape):
        return None
    for perm in itertools.permutations(range(got.ndim)):
        if perm == tuple(range(got.ndim)):
            continue
        moved = np.transpose(got, perm)
        if moved.shape == want.shape and close_arrays(moved, want):
            order = ", ".join(str(p) for p in perm)
            hint = ""
            if got.ndim >= 3 and perm[-1] != got.ndim - 1:
                hint = " (channels-first instead of channels-last?)"
            return (
                f"Your values are right but your axes are in another order{hint}: "
                f"np.transpose(your_output, ({order})) would match."
            )
    return None


def _scale_or_offset(got: np.ndarray, want: np.ndarray) -> str | None:
    ww = float(np.sum(want * want))
    if ww > 0:
        c = float(np.sum(got * want)) / ww
        if close_arrays(got, c * want):
            if abs(c) < 1e-6:
                return "Your output is (almost) all zeros."
            if abs(c - 1) > 1e-4:
                return (
                    f"Every value is off by the same factor: yours are about {c:.2g} times the "
                    "expected ones (a missing or extra scaling, e.g. 1/(1 - rate), 1/2 or a sign)."
                )
    offset = float(np.mean(got - want))
    if abs(offset) > 0 and close_arrays(got, want + offset):
        return "Every value is off by the same constant (a missing or extra offset or bias?)."
    if got.ndim >= 2 and got.shape[-1] >= 1:
        per_channel = np.mean((got - want).reshape(-1, got.shape[-1]), axis=0)
        if np.any(per_channel != 0) and close_arrays(got, want + per_channel):
            return (
                "Your values are off by a constant per channel (last axis): check the bias "
                "(added once per output channel)."
            )
    return None


def _channels(got: np.ndarray, want: np.ndarray, bad: np.ndarray) -> str | None:
    if got.ndim < 2 or got.shape[-1] < 2:
        return None
    c = got.shape[-1]
    wrong = [j for j in range(c) if bad[..., j].any()]
    sources = {
        j: [k for k in range(c) if k != j and close_arrays(got[..., j], want[..., k])]
        for j in wrong
    }
    if len(wrong) == c:
        if all(sources.values()):
            return (
                "Your channels (last axis) are mixed up: each of your channels holds the "
                "values of another channel."
            )
        return None
    moved = [(j, ks[0]) for j, ks in sources.items() if ks]
    if moved:
        j, k = moved[0]
        return (
            f"Channel {j} (last axis) holds what channel {k} should hold: the channels are "
            "mixed up."
        )
    listed = ", ".join(str(j) for j in wrong)
    which = f"channel {listed} is" if len(wrong) == 1 else f"channels {listed} are"
    return f"Only {which} wrong (of {c} on the last axis); the other channels are right."


def _border(bad: np.ndarray, axes: tuple[int, ...]) -> str | None:
    if not axes:
        return None
    dist = None
    for a in axes:
        n = bad.shape[a]
        idx = np.arange(n)
        d = np.minimum(idx, n - 1 - idx)
        shape = [1] * bad.ndim
        shape[a] = n
        d = d.reshape(shape)
        dist = d if dist is None else np.minimum(dist, d)
    dist = np.broadcast_to(dist, bad.shape)
    width = int(dist[bad].max()) + 1  # wrong cells lie within this many cells of the border
    if width > 2 or not (dist >= width).any():
        return None
    rows = "row/column" if len(axes) == 2 else "cell"
    plural = "s" if width > 1 else ""
    return (
        f"Only cells within {width} {rows}{plural} of the border are wrong; the interior is "
        "right: check the padding (how much, on which side, and with which value)."
    )


def _periodic(bad: np.ndarray, axes: tuple[int, ...]) -> str | None:
    for a in axes:
        n = bad.shape[a]
        other = tuple(i for i in range(bad.ndim) if i != a)
        flags = bad.any(axis=other)
        if flags.all() or not flags.any():
            continue
        for p in range(2, n // 2 + 1):
            if all(flags[i] == flags[i % p] for i in range(n)):
                right = [i for i in range(p) if not flags[i]]
                where = (
                    f"positions {', '.join(str(i) for i in right)} (mod {p}) are right"
                    if right
                    else "some positions are right"
                )
                return (
                    f"The wrong cells repeat every {p} positions along axis {a} ({where}): "
                    "check the stride (window i starts at i * stride) and the step between "
                    "kernel taps."
                )
    return None


def locate_error(got, want) -> str | None:
    """One sentence on where ``got`` differs from ``want`` (both arrays), or None.

    Called only for answers that already failed and matched no known mistake. It never
    reveals an expected value: only axes, indices, channel numbers and rough factors.
    """
    if not isinstance(got, np.ndarray) or not isinstance(want, np.ndarray):
        return None
    if got.dtype.kind not in "biuf" or want.dtype.kind not in "biuf" or want.size == 0:
        return None
    got = got.astype(np.float64)
    want = want.astype(np.float64)
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return None
    if got.shape != want.shape:
        return _layout(got, want)
    bad = _bad(got, want)
    if not bad.any():
        return None
    axes = _spatial_axes(got.ndim)
    return (
        _layout(got, want)
        or _scale_or_offset(got, want)
        or _channels(got, want, bad)
        or _border(bad, axes)
        or _periodic(bad, axes)
    )
