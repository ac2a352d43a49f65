"""The float32 tolerance (keras-semantics.md §12), in one place: arrays match when, elementwise,
``|got - want| <= 1e-5 * max|want| + 1e-5 * |want|``. ``compare`` judges answers with it and
``diagnose`` uses it to find the wrong cells; it depends on neither."""

from __future__ import annotations

import math

import numpy as np

RTOL = 1e-5
ATOL_SCALE = 1e-5
ATOL_FLOOR = 1e-12


def _atol(scale: float) -> float:
    return max(ATOL_SCALE * scale, ATOL_FLOOR)


def absolute_tolerance(want: np.ndarray) -> float:
    finite = np.abs(want[np.isfinite(want)])
    return _atol(float(finite.max()) if finite.size else 0.0)


_F64 = np.dtype(np.float64)


def _as_float64(a: np.ndarray) -> np.ndarray:
    return a if a.dtype is _F64 else a.astype(np.float64)


def _bound(w: np.ndarray) -> np.ndarray:
    """``absolute_tolerance(w) + RTOL * |w|`` per entry of a float64 array, with one pass for
    the scale when every entry is finite (its largest magnitude is then the finite maximum)."""
    aw = np.abs(w)
    top = float(aw.max()) if aw.size else math.nan
    atol = _atol(top) if math.isfinite(top) else absolute_tolerance(w)
    return atol + RTOL * aw


def close_arrays(
    got: np.ndarray, want: np.ndarray, equal_nan: bool = False, bounds: dict | None = None
) -> bool:
    """True when ``got`` matches ``want`` within the float32 tolerance (same shape).

    NaN never matches, except NaN against NaN with ``equal_nan`` (the mistake lookup: a naive
    softmax that overflows is recognised by its NaNs). ``bounds``, a cache the caller keeps for
    as long as ``want`` lives, holds ``want``'s bound ``atol + rtol*|want|`` once computed."""
    if got.shape != want.shape:
        return False
    g = _as_float64(got)
    entry = None if bounds is None else bounds.get(id(want))
    if entry is None or entry[0] is not want:
        w = _as_float64(want)
        entry = (want, w, _bound(w))
        if bounds is not None:
            bounds[id(want)] = entry  # (holding ``want`` keeps its id its own)
    _, w, bound = entry
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.abs(g - w) <= bound
    if ok.all():
        return True
    ok |= g == w  # equal infinities
    if equal_nan:
        ok |= np.isnan(g) & np.isnan(w)
    return bool(ok.all())
