"""The grader's comparison rules, as a small standalone copy for the public tests.

A test here passes exactly when the grader would accept the same answer: floats within the
float32 tolerance ``|got - want| <= 1e-5 * max|want| + 1e-5 * |want|`` (float32 answers are fine),
an exact ``np.ndarray`` where an array is expected, a Python ``int`` for sizes and counts, the
expected shape, and inputs left unchanged. The kit checks that this copy agrees with the
grader's own rules on a set of cases, so you can rely on it; you do not need to read it.
"""

from __future__ import annotations

import base64
import importlib
import math
import os
import signal
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RTOL = 1e-5
ATOL_SCALE = 1e-5
ATOL_FLOOR = 1e-12


@dataclass(frozen=True)
class NpScalar:
    """A numpy scalar returned by your code (``np.float64(3.0)``), kept as a 0-d array."""

    array: np.ndarray


@dataclass(frozen=True)
class Unsupported:
    type_name: str


class Mismatch(Exception):
    """An answer that does not match; the message is for you."""


# --- values as the grader sees them -----------------------------------------------------------


def _unpack(spec: dict) -> np.ndarray:
    data = base64.b64decode(spec["b64"])
    return np.frombuffer(data, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy()


def decode(value: Any) -> Any:
    """The JSON of ``public_cases.json`` back to Python values."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$arr" in value:
            return _unpack(value["$arr"])
        if "$npscalar" in value:
            return _unpack(value["$npscalar"])[()]
        if "$rng" in value:
            return np.random.default_rng(value["$rng"])
        if "$tuple" in value:
            return tuple(decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {k: decode(v) for k, v in value["$dict"]}
    return value


def wire(value: Any, depth: int = 0) -> Any:
    """Your return value as the grader receives it from the sandbox."""
    t = type(value)
    if depth > 20:
        return Unsupported("a structure nested too deeply")
    if t is np.ndarray:
        if value.dtype.kind not in "biuf" or value.dtype.fields is not None:
            return Unsupported(f"np.ndarray of dtype {value.dtype}")
        return value.copy()
    if isinstance(value, np.generic) and t.__module__ == "numpy":
        if np.dtype(t).kind not in "biuf":
            return Unsupported(f"numpy scalar {t.__name__}")
        return NpScalar(np.asarray(value))
    if t in (bool, int, float, str) or value is None:
        return value
    if t is tuple:
        return tuple(wire(v, depth + 1) for v in value)
    if t is list:
        return [wire(v, depth + 1) for v in value]
    if t is dict:
        return {str(k): wire(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return Unsupported(f"a subclass of np.ndarray ({t.__qualname__})")
    mod = getattr(t, "__module__", "") or ""
    return Unsupported(f"{mod}.{t.__qualname__}" if mod and mod != "builtins" else t.__qualname__)


def describe(value: Any) -> str:
    """A short description of a value (type and shape)."""
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


# --- the comparison (the grader's rules) ------------------------------------------------------


def _tolerance(want: np.ndarray) -> float:
    finite = np.abs(want[np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 0.0
    return max(ATOL_SCALE * scale, ATOL_FLOOR)


def close_arrays(got: np.ndarray, want: np.ndarray, equal_nan: bool = False) -> bool:
    if got.shape != want.shape:
        return False
    g, w = got.astype(np.float64), want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.abs(g - w) <= _tolerance(w) + RTOL * np.abs(w)
    ok |= g == w
    if equal_nan:
        ok |= np.isnan(g) & np.isnan(w)
    return bool(ok.all())


def _array_message(got: np.ndarray, want: np.ndarray, where: str) -> str:
    g, w = got.astype(np.float64), want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - w)
        err = np.where(np.isnan(err), np.inf, err)
        bad = ~(err <= _tolerance(w) + RTOL * np.abs(w)) & ~(g == w)
    idx = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), err.shape)
    idx_text = tuple(int(i) for i in idx)
    msg = (
        f"{where}{int(bad.sum())} of {bad.size} values are wrong; the largest error is "
        f"{float(err[idx]):.3g} at index {idx_text}"
    )
    if not np.isfinite(g[idx]):
        msg += f" (you returned {g[idx]})"
    return msg + f": you returned {g[idx]:.6g}, expected {w[idx]:.6g}."


def compare(got: Any, want: Any, where: str = "", exact: bool = False, equal_nan=False) -> None:
    """Raise :class:`Mismatch` when ``got`` (as :func:`wire` gives it) does not match ``want``."""
    if isinstance(want, np.generic):
        want = np.asarray(want)
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
                    f"{where}the {kind} are not the expected ones (expected {want.tolist()})."
                )
            return
        if got.dtype.kind not in "biuf":
            raise Mismatch(f"{where}returned an array of dtype {got.dtype}; expected floats.")
        if not close_arrays(got, want, equal_nan):
            raise Mismatch(_array_message(got, want, where))
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
            raise Mismatch(f"{where}returned {got}; expected {want}.")
        return
    if isinstance(want, float):
        if isinstance(got, NpScalar) and got.array.dtype.kind in "iuf":
            got = float(got.array)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise Mismatch(f"{where}returned {describe(got)}; expected a float.")
        tol = max(ATOL_SCALE * abs(want), ATOL_FLOOR) + RTOL * abs(want)
        if not (abs(got - want) <= tol or got == want):
            err = abs(got - want) if math.isfinite(got) else math.inf
            raise Mismatch(f"{where}returned {got:.6g}, off by {err:.3g} (expected {want:.6g}).")
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
            compare(g, w, f"{where}[{i}] ", exact, equal_nan)
        return
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise Mismatch(f"{where}returned {describe(got)}; expected a dict.")
        for key, w in want.items():
            if key not in got:
                raise Mismatch(f"{where}is missing {key!r}.")
            compare(got[key], w, f"{where}{key}: ", exact, equal_nan)
        return
    raise TypeError(f"unsupported expected value of type {type(want).__name__}")


def matches(got: Any, want: Any, exact: bool = False) -> bool:
    try:
        compare(got, want, "", exact, equal_nan=True)
    except Mismatch:
        return False
    return True


def expect_close(got: Any, want: Any, what: str, exact: bool = False) -> None:
    """For the hand-written tests: fail with ``what`` and the grader's message on a mismatch."""
    __tracebackhide__ = True
    try:
        compare(wire(got), want, "", exact)
    except Mismatch as exc:
        raise AssertionError(f"{what}: {exc}") from None


# --- running one of the grader's public cases in your package ---------------------------------


@dataclass
class Outcome:
    status: str  # "ok" | "error" | "timeout"
    value: Any = None
    exception: dict = field(default_factory=dict)
    changed_input: int | None = None  # 1-based index of an input array changed in place


def _counter(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def _run_optimizer(cls, args, kwargs):
    params, grads = args
    opt = cls(**kwargs)
    trajectory: list[list] = [[] for _ in params]
    iterations = []
    for step_grads in grads:
        opt.step(params, step_grads)
        for k, p in enumerate(params):
            trajectory[k].append(np.array(p, dtype=np.float64, copy=True))
        iterations.append(_counter(opt.iterations))
    return {"params": [np.stack(t) for t in trajectory], "iterations": iterations}


def _analytic(spec):
    """The grader's analytic function for a numerical_gradient case (not yours):
    f(x) = sum(a sin(b x)) + sum(c x**3) / 3 + d (sum x)**2 / 2."""
    a, b, c, d = (np.asarray(spec[k], dtype=np.float64) for k in ("a", "b", "c", "d"))

    def f(x):
        x = np.asarray(x, dtype=np.float64)
        return float(np.sum(a * np.sin(b * x)) + np.sum(c * x**3) / 3 + d * np.sum(x) ** 2 / 2)

    return f


def _run_gradcheck(fn, args, kwargs):
    spec, x = args
    return fn(_analytic(spec), x, **kwargs)


def _run_training(fn, args, kwargs):
    x, y, weights, name, opt_kwargs = args
    optimizer = getattr(importlib.import_module("cnn.optimizers"), name)(**opt_kwargs)
    return fn(x, y, weights, optimizer, **kwargs)


def _run_early_stopping(cls, args, kwargs):
    values, monitor = args
    es = cls(**kwargs)
    es.on_train_begin()
    epochs_run = 0
    weights = [np.zeros(2)]
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        weights[0][...] = epoch + 1.0
        if es.on_epoch_end(epoch, {monitor: value}, weights=weights):
            break
    restored = es.on_train_end()
    if restored is not None:
        try:
            restored = float(np.asarray(restored[0]).ravel()[0])
        except Exception:  # noqa: BLE001
            restored = Unsupported(type(restored).__qualname__)
    best = es.best
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": _counter(es.stopped_epoch),
        "best": None if best is None else float(best),
        "best_epoch": _counter(es.best_epoch),
        "wait": _counter(es.wait),
        "restored": restored,
    }


def _arrays(value: Any, found: list) -> list:
    if type(value) is np.ndarray:
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _arrays(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _arrays(v, found)
    return found


def _where(exc: BaseException) -> str:
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.sep + "cnn" + os.sep in frame.filename:
            where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    return where


def _run_call(fn, args, kwargs):
    return fn(*args, **kwargs)


# The grader's worker programs (autograder/sandbox/worker.py PROGRAMS), copied for the handout.
PROGRAMS = {
    "call": _run_call,
    "optimizer": _run_optimizer,
    "early_stopping": _run_early_stopping,
    "gradcheck": _run_gradcheck,
    "training": _run_training,
}


class TimeUp(BaseException):
    """The call ran longer than the grader's time limit per call."""


def _alarm(signum, frame):  # noqa: ARG001
    raise TimeUp


def run(case: dict, timeout: float = 0.0) -> Outcome:
    """Make the grader's call for ``case`` in the package ``cnn`` and return what came back.

    With ``timeout`` (seconds, POSIX main thread only) a call that runs longer fails as it does
    in the grader."""
    module, name = case["target"].split(".")
    args = decode(case["args"])
    kwargs = decode({"$dict": case["kwargs"]})
    before = [a.copy() for a in _arrays((args, kwargs), [])]
    timed = (
        timeout > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if timed:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        target = getattr(importlib.import_module("cnn." + module), name)
        value = PROGRAMS[case["program"]](target, args, kwargs)
    except TimeUp:
        return Outcome("timeout")
    except Exception as exc:  # noqa: BLE001 - reported as the grader reports it
        return Outcome(
            "error",
            exception={
                "type": type(exc).__name__,
                "value_error": isinstance(exc, ValueError),
                "not_implemented": isinstance(exc, NotImplementedError),
                "message": str(exc)[:2000],
                "where": _where(exc),
            },
        )
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    out = Outcome("ok", value=wire(value))
    if case.get("mutation"):
        after = _arrays((args, kwargs), [])
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=True):
                out.changed_input = i + 1
                break
    return out


def _failed_call(exc: dict) -> str:
    if exc.get("not_implemented"):
        return "not implemented yet (it raised NotImplementedError)."
    where = f" at {exc['where']}" if exc.get("where") else ""
    return (
        f"raised {exc.get('type', 'an exception')}{where}: {exc.get('message', '')}".rstrip(": ")
        + "."
    )


# --- the metamorphic checks of the public cases -----------------------------------------------


def _dropout_statistics(out, x, rate):
    n = x.size
    sigma = np.sqrt(rate * (1 - rate) / n)
    if not isinstance(out, np.ndarray) or out.shape != x.shape:
        return f"expected an np.ndarray of shape {x.shape}."
    out = out.astype(np.float64)
    scaled = x / (1 - rate)
    tol = 1e-5 * np.abs(scaled).max() + 1e-5 * np.abs(scaled)
    kept = np.abs(out - scaled) <= tol
    dropped = out == 0
    if not np.all(kept | dropped):
        if np.all((np.abs(out - x) <= tol) | dropped):
            return "the kept units are not scaled: each must be x / (1 - rate)."
        return "every output must be either 0 (dropped) or x / (1 - rate) (kept)."
    frac = kept.mean()
    if abs(frac - (1 - rate)) > 4 * sigma:
        hint = (
            " (about `rate` of the units are kept: rate is the drop probability)"
            if abs(frac - rate) <= 4 * sigma
            else ""
        )
        return (
            f"{frac:.3f} of the units are kept; with rate={rate} about {1 - rate:.3f} "
            f"should be{hint}."
        )
    return None


def _shuffled_batches(out, n, b):
    k = -(-n // b)
    sizes = [b] * (k - 1) + ([n - (k - 1) * b] if k else [])
    if not isinstance(out, (list, tuple)):
        return "expected a list of 1-D integer arrays, one per batch."
    if len(out) != k:
        return f"returned {len(out)} batches; expected ceil({n}/{b}) = {k}."
    for i, (batch, size) in enumerate(zip(out, sizes, strict=True)):
        if not isinstance(batch, np.ndarray) or batch.ndim != 1 or batch.dtype.kind not in "iu":
            return f"batch {i} is not a 1-D integer np.ndarray."
        if batch.size != size:
            return f"batch {i} has {batch.size} indices; expected {size}."
    order = np.concatenate(out) if out else np.zeros(0, dtype=int)
    if not np.array_equal(np.sort(order), np.arange(n)):
        return "the batches are not a permutation: every index must appear exactly once."
    if n >= 8 and np.array_equal(order, np.arange(n)):
        return "the indices are in order although shuffle=True."
    return None


def _training_changes_output(out, inference):
    n = inference.shape[0]
    if not isinstance(out, np.ndarray) or out.shape != (n, 10):
        return f"expected an np.ndarray of shape ({n}, 10)."
    out = out.astype(np.float64)
    if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1 + 1e-6:
        return "the outputs must be probabilities in [0, 1]."
    if not np.allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-5):
        return "every row must sum to 1 (softmax output)."
    if matches(out, inference):
        return "with training=True, dropout must change the output (it equals inference)."
    return None


PROPERTIES = {
    "dropout-statistics": _dropout_statistics,
    "shuffled-batches": _shuffled_batches,
    "training-changes-output": _training_changes_output,
}


@dataclass
class Verdict:
    passed: bool
    message: str = ""
    mistake: str = ""  # the sentence naming a known mistake the answer matches


def judge(case: dict, outcome: Outcome) -> Verdict:
    """The grader's verdict on one public case."""
    expect = case["expect"]
    if outcome.status == "timeout":
        return Verdict(False, "it ran longer than the grader's time limit per call.")
    if outcome.status == "skipped":
        return Verdict(False, "not run: this function timed out twice, as in the grader.")
    if expect["kind"] == "raises":
        if outcome.status == "error" and outcome.exception.get("value_error"):
            return Verdict(True)
        if outcome.status == "ok":
            return Verdict(
                False,
                f"returned {describe(outcome.value)} instead of raising "
                f"{expect['exception']} for these invalid arguments.",
            )
        if outcome.exception.get("not_implemented"):
            return Verdict(False, _failed_call(outcome.exception))
        return Verdict(False, f"expected ValueError, but it {_failed_call(outcome.exception)}")
    if outcome.status != "ok":
        return Verdict(False, _failed_call(outcome.exception))
    if outcome.changed_input:
        return Verdict(
            False,
            f"it changed input array #{outcome.changed_input} in place; inputs must never be "
            "modified (work on a copy, e.g. np.pad or x.copy()).",
            "Your function changed an input array in place; Keras never modifies its inputs "
            "(work on a copy).",
        )
    if expect["kind"] == "property":
        data = {k: decode(v) for k, v in expect["data"].items()}
        try:
            problem = PROPERTIES[expect["property"]](outcome.value, **data)
        except Exception as exc:  # noqa: BLE001
            problem = f"returned {describe(outcome.value)}, which could not be checked ({exc})."
        return Verdict(problem is None, problem or "")
    want = decode(expect["value"])
    try:
        compare(outcome.value, want, "", expect["exact"])
    except Mismatch as mismatch:
        for _name, text, wrong in case["mistakes"]:
            if matches(outcome.value, decode(wrong), expect["exact"]):
                return Verdict(False, str(mismatch), text)
        return Verdict(False, str(mismatch))
    return Verdict(True)


# For the hand-written tests: never stricter than the grader.
GRADER_REL = 2e-5  # the grader's scalar tolerance: max(1e-5 |want|, 1e-12) + 1e-5 |want|


def assert_allclose(actual, desired, rtol=1e-7, atol=0.0, err_msg="", **kwargs) -> None:
    """``np.testing.assert_allclose``, but passing whatever the grader's tolerance accepts."""
    __tracebackhide__ = True
    try:
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, **kwargs)
        return
    except AssertionError:
        pass
    got = np.asarray(actual)
    want = np.broadcast_to(np.asarray(desired, dtype=np.float64), got.shape)
    if got.dtype.kind in "biuf" and close_arrays(got, want):
        return
    if got.shape != want.shape or got.dtype.kind not in "biuf":
        message = f"returned {describe(got)}; expected shape {np.shape(desired)}"
    else:
        message = _array_message(got, want, "")
    raise AssertionError(f"{err_msg}: {message}" if err_msg else message)
