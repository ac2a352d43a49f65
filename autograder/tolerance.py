"""The float32 tolerance (keras-semantics.md §12), in one place: arrays match when, elementwise,
``|got - want| <= 1e-5 * max|want| + 1e-5 * |want|``. ``compare`` judges answers with it and
``diagnose`` uses it to find the wrong cells; it depends on neither."""

from __future__ import annotations

import numpy as np

RTOL = 1e-5
ATOL_SCALE = 1e-5
ATOL_FLOOR = 1e-12


def absolute_tolerance(want: np.ndarray) -> float:
    finite = np.abs(want[np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 0.0
    return max(ATOL_SCALE * scale, ATOL_FLOOR)


def close_arrays(
    got: np.ndarray, want: np.ndarray, equal_nan: bool = False, bounds: dict | None = None
) -> bool:
    """True when ``got`` matches ``want`` within the float32 tolerance (same shape).

    NaN never matches, except NaN against NaN with ``equal_nan`` (the mistake lookup: a naive
    softmax that overflows is recognised by its NaNs). ``bounds``, a cache the caller keeps for
    as long as ``want`` lives, holds ``want``'s bound ``atol + rtol*|want|`` once computed: an
    answer within it matches (the same test, fewer numpy calls); any other answer is judged
    the full way below."""
    if got.shape != want.shape:
        return False
    if bounds is not None:
        entry = bounds.get(id(want))
        if entry is None or entry[0] is not want:
            w = want.astype(np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                entry = (want, w, absolute_tolerance(w) + RTOL * np.abs(w))
            bounds[id(want)] = entry  # (holding ``want`` keeps its id its own)
        g = got if got.dtype == np.float64 else got.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            if bool((np.abs(g - entry[1]) <= entry[2]).all()):
                return True
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - w)
        ok = err <= absolute_tolerance(w) + RTOL * np.abs(w)
    ok |= g == w  # equal infinities
    if equal_nan:
        ok |= np.isnan(g) & np.isnan(w)
    return bool(ok.all())
