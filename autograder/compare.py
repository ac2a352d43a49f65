"""The one comparison helper: types, shapes, tolerances, input mutation and mistake lookup.

Every graded answer goes through :func:`judge`. Tolerances follow keras-semantics.md §12:
float32 answers are legitimate, so arrays match when, elementwise,
``|got - want| <= 1e-5 * max|want| + 1e-5 * |want|``. A failure message gives parameters,
shapes, the worst index and the error size; for hidden cases it never shows an expected value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cases import Case, Close, Property, Raises
from .diagnose import locate_error
from .sandbox.runner import NpScalar, Outcome, Unsupported, arrays_in
from .sandbox.wire import UNCHANGED, digest
from .tolerance import ATOL_FLOOR, ATOL_SCALE, RTOL, absolute_tolerance, close_arrays


@dataclass
class Verdict:
    passed: bool
    message: str = ""
    mistake: str | None = None  # the named mistake the answer matches, if any


class Mismatch(Exception):
    """Raised inside the structural comparison with a message for the student."""


def describe(value: Any) -> str:
    """A short, safe description of a student's value (type and shape, never contents)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, NpScalar):
        return f"a numpy scalar ({value.array.dtype})"
    if isinstance(value, Unsupported):
        return value.type_name
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def _array_message(got: np.ndarray, want: np.ndarray, where: str, reveal: bool) -> str:
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - w)
        err = np.where(np.isnan(err), np.inf, err)
        tol = absolute_tolerance(w) + RTOL * np.abs(w)
        bad = ~(err <= tol) & ~(g == w)
    idx = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), err.shape)
    idx_text = tuple(int(i) for i in idx)
    msg = (
        f"{where}{int(bad.sum())} of {bad.size} values are wrong; the largest error is "
        f"{float(err[idx]):.3g} at index {idx_text}"
    )
    if not np.isfinite(g[idx]):
        msg += f" (you returned {g[idx]})"
    if reveal:
        msg += f": you returned {g[idx]:.6g}, expected {w[idx]:.6g}"
    return msg + "."


def _compare(
    got: Any,
    want: Any,
    where: str,
    exact: bool,
    reveal: bool,
    equal_nan: bool = False,
    quiet: bool = False,
    bounds: dict | None = None,
) -> None:
    """Raise :class:`Mismatch` when ``got`` does not match ``want``. ``bounds``: the
    tolerance cache of :func:`close_arrays` for the arrays of this expectation."""
    kind = type(want)
    if (kind is int or kind is float) and type(got) is kind and got == want:
        return  # (what the int and float branches below decide for an equal answer)
    if isinstance(want, np.generic):  # a numpy scalar expectation is a 0-d array
        want = np.asarray(want)
        bounds = None  # (a fresh array each time: nothing to keep)
    if isinstance(want, np.ndarray):
        if want.ndim == 0 and isinstance(got, (NpScalar, int, float)) and not isinstance(got, bool):
            got = got.array if isinstance(got, NpScalar) else np.asarray(float(got))
        if not isinstance(got, np.ndarray):
            raise Mismatch(
                f"{where}returned {describe(got)}; expected a np.ndarray of shape {want.shape}."
            )
        if got.shape != want.shape:
            raise Mismatch(f"{where}returned shape {got.shape}; expected shape {want.shape}.")
        if want.dtype.kind in "biu" or exact:
            if got.dtype.kind not in "biuf" or not np.array_equal(got, want):
                kind = "integers" if want.dtype.kind in "iu" else "values"
                if got.dtype.kind == "f" and want.dtype.kind in "iu" and np.array_equal(got, want):
                    raise Mismatch(f"{where}returned floats ({got.dtype}); expected {kind}.")
                raise Mismatch(
                    f"{where}the {kind} are not the expected ones"
                    f"{'' if not reveal else f' (expected {want.tolist()})'}."
                )
            return
        if got.dtype.kind not in "biuf":
            raise Mismatch(f"{where}returned an array of dtype {got.dtype}; expected floats.")
        if not close_arrays(got, want, equal_nan, bounds):
            raise Mismatch("" if quiet else _array_message(got, want, where, reveal))
        return
    if isinstance(want, bool):
        if isinstance(got, NpScalar) and got.array.dtype.kind == "b":
            got = bool(got.array)
        if not isinstance(got, bool):
            raise Mismatch(f"{where}returned {describe(got)}; expected a bool.")
        if got != want:
            raise Mismatch(f"{where}returned {got}; expected {want}.")
        return
    if isinstance(want, int):
        if type(got) is not int:
            raise Mismatch(
                f"{where}returned {describe(got)}; expected a Python int "
                "(use int(...) or // rather than numpy or float arithmetic)."
            )
        if got != want:
            raise Mismatch(
                f"{where}returned {got}"
                + (f"; expected {want}." if reveal else ", which is not the expected value.")
            )
        return
    if isinstance(want, float):
        if isinstance(got, NpScalar) and got.array.dtype.kind in "iuf":
            got = float(got.array)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise Mismatch(f"{where}returned {describe(got)}; expected a float.")
        tol = max(ATOL_SCALE * abs(want), ATOL_FLOOR) + RTOL * abs(want)
        if not (abs(got - want) <= tol or got == want):
            err = abs(got - want) if math.isfinite(got) else math.inf
            raise Mismatch(
                f"{where}returned {got:.6g}, off by {err:.3g}"
                + (f" (expected {want:.6g})." if reveal else ".")
            )
        return
    if want is None:
        if got is not None:
            raise Mismatch(f"{where}returned {describe(got)}; expected None.")
        return
    if isinstance(want, str):
        if got != want:
            raise Mismatch(f"{where}returned {describe(got)}; expected the text {want!r}.")
        return
    if isinstance(want, (tuple, list)):
        kinds = (tuple,) if isinstance(want, tuple) else (list, tuple)
        if not isinstance(got, kinds):
            raise Mismatch(
                f"{where}returned {describe(got)}; expected a "
                f"{type(want).__name__} of length {len(want)}."
            )
        if len(got) != len(want):
            raise Mismatch(
                f"{where}returned a {type(got).__name__} of length {len(got)}; "
                f"expected length {len(want)}."
            )
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}] ", exact, reveal, equal_nan, quiet, bounds)
        return
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise Mismatch(f"{where}returned {describe(got)}; expected a dict.")
        for key, w in want.items():
            if key not in got:
                raise Mismatch(f"{where}is missing {key!r}.")
            _compare(got[key], w, f"{where}{key}: ", exact, reveal, equal_nan, quiet, bounds)
        return
    raise TypeError(f"the suite has an expectation of unsupported type {type(want).__name__}")


def matches(got: Any, want: Any, exact: bool = False) -> bool:
    """True when ``got`` would pass against ``want`` (used for the mistake lookup)."""
    try:
        _compare(got, want, "", exact, reveal=False, equal_nan=True, quiet=True)
    except Mismatch:
        return False
    return True


def _mutated(case: Case, outcome: Outcome, memo: dict) -> str | None:
    if not case.check_mutation or outcome.inputs_after is None:
        return None
    if outcome.inputs_after is UNCHANGED:  # the blob's bytes as the grader wrote them
        return None
    before = memo.get("inputs")
    if before is None:
        before = memo["inputs"] = arrays_in((list(case.call.args), dict(case.call.kwargs)))
    digests = memo.setdefault("digests", {})
    after = outcome.inputs_after
    if len(after) != len(before):
        return "the grader could not check whether your function changed its inputs."
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if isinstance(a, str):  # the worker's digest of the argument after the call
            if i not in digests:
                digests[i] = digest(np.asarray(b))
            same = a == digests[i]
        else:  # an array (in-process runs, e.g. the kit's own tests)
            same = (
                isinstance(a, np.ndarray)
                and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True)
            )
        if not same:
            return (
                f"it changed input array #{i + 1} in place; inputs must never be modified "
                "(work on a copy, e.g. np.pad or x.copy())."
            )
    return None


def _failed_call(outcome: Outcome) -> str:
    if outcome.status == "error":
        exc = outcome.exception or {}
        if exc.get("not_implemented"):
            return "not implemented yet (it raised NotImplementedError)."
        where = f" at {exc['where']}" if exc.get("where") else ""
        text = exc.get("message", "")
        return f"raised {exc.get('type', 'an exception')}{where}: {text}".rstrip(": ") + "."
    return outcome.detail.rstrip(".") + "."


def judge(case: Case, outcome: Outcome, memo: dict | None = None) -> Verdict:
    """Score one case. The only place where a student's answer is compared.

    ``memo``: what judging computes from the case alone (its input arrays' digests, its
    expected arrays' tolerance bounds), kept by the caller for a case judged many times (the
    public and bank cases every student shares); None: computed for this call only.
    """
    fresh = memo is None
    memo = {} if fresh else memo
    reveal = case.group == "public"
    expect = case.expect
    if isinstance(expect, Raises):
        if outcome.status == "error" and (outcome.exception or {}).get("value_error"):
            return Verdict(True)
        if outcome.status == "ok":
            return Verdict(
                False,
                f"returned {describe(outcome.value)} instead of raising "
                f"{expect.exception} for these invalid arguments.",
            )
        if outcome.status == "error" and (outcome.exception or {}).get("not_implemented"):
            return Verdict(False, _failed_call(outcome))
        return Verdict(False, f"expected {expect.exception}, but it {_failed_call(outcome)}")
    if outcome.status != "ok":
        return Verdict(False, _failed_call(outcome))
    mutation = _mutated(case, outcome, memo)
    if mutation:
        return Verdict(False, mutation, mistake="mutated-input")
    if isinstance(expect, Property):
        try:
            problem = expect.check(outcome.value)
        except Exception as exc:  # noqa: BLE001 - an odd answer must not crash the grader
            problem = f"returned {describe(outcome.value)}, which could not be checked ({exc})."
        mistake = None
        if isinstance(problem, tuple):  # (message, mistake id)
            problem, mistake = problem
        return Verdict(problem is None, problem or "", mistake=mistake)
    assert isinstance(expect, Close)
    try:
        bounds = None if fresh else memo.setdefault("bounds", {})
        _compare(outcome.value, expect.value, "", expect.exact, reveal, bounds=bounds)
    except Mismatch as mismatch:
        for name, wrong in case.mistakes.items():
            if matches(outcome.value, wrong, expect.exact):
                return Verdict(False, str(mismatch), mistake=name)
        where = locate_error(outcome.value, expect.value)
        return Verdict(False, f"{mismatch} {where}" if where else str(mismatch))
    return Verdict(True)
