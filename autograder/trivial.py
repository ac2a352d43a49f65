"""Nothing for doing nothing: which cases an answer that computes nothing could pass.

An item earns points only once the function gets right a case that no constant, zero, identity
or input-echo answer can pass (a *discriminating* case). Property cases, trivially satisfiable
cases and argument checks (given code) count only then. For a function that returns a scalar or
a tuple of ints (sizes, counts, the L2 penalty), any one expected value is some constant's: there,
the function must get right cases with at least two different expected values.

The answers that compute nothing are derived here, in the trusted process, from the case alone:
constants of the expected structure (a constant array passes exactly when the expected array is
constant), each array argument echoed back, optimizers that never move their parameters, and
early-stopping callbacks that do nothing (never stop, or always stop).
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from .cases import Case, Close, Raises
from .compare import matches


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, list | tuple):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    return []


def scalar_like(value: Any) -> bool:
    """True for answers without arrays (ints, floats, tuples of ints, None)."""
    return not _arrays(value) and not isinstance(value, dict)


def _constant(value: Any) -> bool:
    """Every array of ``value`` constant (or empty): some constant answer passes it."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        a = np.asarray(value)
        if a.size == 0:
            return True
        if a.dtype.kind not in "biuf":
            return False
        return matches(np.full_like(a, a.flat[0]), a)
    if isinstance(value, list | tuple):
        return all(_constant(v) for v in value)
    return True


def _echoes(value: Any, inputs: list[np.ndarray]) -> bool:
    """Some part of ``value`` is an input handed back (the identity)."""
    for want in _arrays(value):
        if want.size and any(
            x.shape == want.shape and matches(np.asarray(x, dtype=want.dtype), want)
            for x in inputs
            if x.dtype.kind in "biuf" and want.dtype.kind in "biuf"
        ):
            return True
    return False


def _noop_optimizer(case: Case) -> list[Any]:
    params, grads = case.call.args
    steps = len(grads)
    frozen = [np.stack([np.asarray(p, dtype=np.float64)] * steps) for p in params]
    zeros = [np.zeros_like(f) for f in frozen]
    return [
        {"params": p, "iterations": it}
        for p in (frozen, zeros)
        for it in ([0] * steps, list(range(1, steps + 1)))
    ]


def _noop_callbacks(ref: ModuleType, case: Case) -> list[Any]:
    from .sandbox.inprocess import execute  # the worker's own program, in this process

    base = ref.regularization.EarlyStopping
    answers = []
    for stop in (False, True):

        class Idle(base):  # type: ignore[misc, valid-type]
            def on_train_begin(self, logs=None):
                return None

            def on_epoch_end(self, epoch, logs=None, weights=None, _stop=stop):
                return _stop

            def on_train_end(self, logs=None):
                return None

        package = SimpleNamespace(regularization=SimpleNamespace(EarlyStopping=Idle))
        outcome = execute(package, case.call, mutation=False)  # type: ignore[arg-type]
        if outcome.status == "ok":
            answers.append(outcome.value)
    return answers


def discriminating(case: Case, ref: ModuleType) -> bool:
    """True when no answer that computes nothing passes ``case``.

    Scalar answers are never discriminating alone (see :func:`works`); property and ValueError
    cases never are.
    """
    expect = case.expect
    if isinstance(expect, Raises) or not isinstance(expect, Close):
        return False
    want = expect.value
    program = case.call.program
    if program == "optimizer":
        return not any(matches(a, want, expect.exact) for a in _noop_optimizer(case))
    if program == "early_stopping":
        try:
            idle = _noop_callbacks(ref, case)
        except Exception:  # noqa: BLE001 - the reference refused: then it is not trivial
            idle = []
        return not any(matches(a, want, expect.exact) for a in idle)
    if scalar_like(want):
        return False
    if _constant(want):
        return False
    return not _echoes(want, _arrays(list(case.call.args) + list(case.call.kwargs.values())))


DISCRIMINATING = "disc"  # what :func:`counts_as` says for a discriminating case


def counts_as(case: Case, ref: ModuleType | None, disc: bool | None = None) -> str | None:
    """What passing ``case`` shows about its function: the one rule, used by the grader
    (:func:`works`) and by the handout's public tests (``lms.public_cases``).

    :data:`DISCRIMINATING` when no answer computing nothing passes it (``disc``, when already
    known, saves computing :func:`discriminating` again); for a size, count or other scalar
    answer that is not an echoed argument, the repr of its expected value (two different ones
    are needed, see :func:`enough`); else None (it shows nothing alone).
    """
    if disc is None:
        disc = discriminating(case, ref)  # type: ignore[arg-type]
    if disc:
        return DISCRIMINATING
    expect = case.expect
    if (
        isinstance(expect, Close)
        and case.call.program == "call"
        and scalar_like(expect.value)
        and not _scalar_echo(case)
    ):
        return repr(expect.value)
    return None


def enough(evidence: list[str | None]) -> bool:
    """Whether the :func:`counts_as` of an item's passed cases show that it computes something:
    one discriminating case, or two different scalar expected values."""
    if DISCRIMINATING in evidence:
        return True
    return len({e for e in evidence if e is not None}) >= 2


def works(passed: list[tuple[Case, bool]]) -> bool:
    """Whether an item's passed cases show that the function computes something.

    ``passed``: (case, discriminating) for every case of the item the submission passed.
    """
    return enough([counts_as(case, None, disc) for case, disc in passed])


def _scalar_echo(case: Case) -> bool:
    want = case.expect.value  # type: ignore[union-attr]
    inputs = [v for v in list(case.call.args) + list(case.call.kwargs.values())]
    return any(_same_scalar(want, v) for v in inputs)


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return a == b
    return False
