"""Shared checks for the hidden-suite tests of shapes, conv, pooling and activations.

``run`` executes a case's call in this process through the sandbox's own code
(``autograder.sandbox.inprocess``: the worker's program and encoding, the runner's decoding);
``inputs_after`` is ``wire.UNCHANGED`` or the array arguments' digests, as from a real worker.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from autograder.cases import Call, Case, Close, Property, Raises, Rng
from autograder.compare import judge
from autograder.sandbox.inprocess import execute as run_in_process
from autograder.sandbox.inprocess import wire
from autograder.sandbox.runner import Outcome, arrays_in

SEEDS = (0, 1, 2, 3, 4, 5)
GROUPS = ("public", "hidden")


def to_wire(value: Any) -> Any:
    """A returned value as the runner decodes it."""
    return wire(value)


def run(package: ModuleType, case: Case) -> Outcome:
    """Run ``case.call`` in ``package`` through the worker's own code (in this process)."""
    assert case.call.program == "call"
    return run_in_process(package, case.call, case.check_mutation)


def answer(case: Case, value: Any) -> Outcome:
    """An outcome returning ``value`` without touching the inputs."""
    after = [a.copy() for a in arrays_in((list(case.call.args), dict(case.call.kwargs)))]
    return Outcome("ok", value=to_wire(value), inputs_after=after)


def cases_of(suite: ModuleType, ref: ModuleType, seeds=SEEDS, groups=GROUPS):
    """(item, group, seed, cases) for every item of ``suite``."""
    for item, gen in suite.GENERATORS.items():
        for group in groups:
            for seed in seeds:
                yield item, group, seed, gen(ref, np.random.default_rng(seed), group)


# --- the checks every suite module must pass --------------------------------------------------


# First small steps of the student's own (one window of one channel): public functions of the
# solutions with student regions and public tests, but not graded items of the contract.
UNGRADED_HELPERS = {"conv": {"conv2d_one_window"}, "pooling": {"pool2d_one_window"}}


def check_items(suite: ModuleType, ref: ModuleType, module: str, expected: list[str]) -> None:
    assert list(suite.GENERATORS) == [f"{module}.{name}" for name in expected]
    public = {n for n in dir(getattr(ref, module)) if not n.startswith("_")}
    public -= UNGRADED_HELPERS.get(module, set())
    public = {
        n
        for n in public
        if callable(getattr(getattr(ref, module), n))
        and getattr(getattr(getattr(ref, module), n), "__module__", "").endswith(module)
    }
    assert public == set(expected), public ^ set(expected)


def check_reference_passes(suite: ModuleType, ref: ModuleType) -> None:
    for item, group, seed, cases in cases_of(suite, ref):
        for case in cases:
            assert case.item == item and case.call.target == item and case.group == group
            outcome = run(ref, case)
            verdict = judge(case, outcome)
            assert verdict.passed, f"{item} {group} seed {seed} {case.name}: {verdict.message}"
            if isinstance(case.expect, Raises):
                assert outcome.status == "error" and outcome.exception["value_error"]


def check_shape_of_suite(suite: ModuleType, ref: ModuleType) -> None:
    """Counts per group, Raises only hidden and unchecked for mutation, argument types."""
    for item, group, seed, cases in cases_of(suite, ref):
        where = f"{item} {group} seed {seed}"
        raises = [c for c in cases if isinstance(c.expect, Raises)]
        if group == "public":
            assert 3 <= len(cases) <= 4 and not raises, where
        else:
            # ValueError cases only where the contract lists the invalid argument (none for
            # the activations).
            most = 0 if item.startswith("activations.") else 2
            assert 7 <= len(cases) <= 13 and min(1, most) <= len(raises) <= most, where
        for case in cases:
            assert isinstance(case.expect, (Close, Raises, Property)), where
            assert case.check_mutation == (not isinstance(case.expect, Raises)), where
            assert (case.oracle == "property") == isinstance(case.expect, Property), where
            _check_types((case.call.args, case.call.kwargs), f"{where} {case.name}")
            assert set(case.mistakes) <= set(suite.MISTAKES), (where, set(case.mistakes))
            assert case.name and isinstance(case.params, dict), where
            if isinstance(case.expect, Close) and isinstance(case.expect.value, np.ndarray):
                assert case.expect.value.dtype == np.float64, where


def _check_types(value: Any, where: str) -> None:
    if isinstance(value, np.ndarray):
        assert value.dtype == np.float64, where
    elif isinstance(value, (tuple, list)):
        for v in value:
            _check_types(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), where
            _check_types(v, where)
    else:
        assert value is None or type(value) in (bool, int, float, str, Rng), (where, value)


def check_mistakes_named(suite: ModuleType, ref: ModuleType) -> None:
    """Every attached wrong output fails and is named; every mistake id occurs somewhere."""
    seen = set()
    for item, group, seed, cases in cases_of(suite, ref):
        for case in cases:
            for mistake, wrong in case.mistakes.items():
                verdict = judge(case, answer(case, wrong))
                assert not verdict.passed, (item, group, seed, case.name, mistake)
                assert verdict.mistake == mistake, (item, seed, case.name, mistake, verdict.mistake)
                seen.add(mistake)
    assert seen == set(suite.MISTAKES), set(suite.MISTAKES) ^ seen


def check_deterministic(suite: ModuleType, ref: ModuleType) -> None:
    for item, gen in suite.GENERATORS.items():
        for group in GROUPS:
            a = gen(ref, np.random.default_rng(7), group)
            b = gen(ref, np.random.default_rng(7), group)
            assert _fingerprint(a) == _fingerprint(b), (item, group)
        hidden = {_fingerprint(gen(ref, np.random.default_rng(s), "hidden")) for s in SEEDS}
        assert len(hidden) == len(SEEDS), item


def _fingerprint(cases: list[Case]) -> str:
    parts = []
    for case in cases:
        parts.append(case.name)
        for a in arrays_in((list(case.call.args), dict(case.call.kwargs))):
            parts.append(a.tobytes().hex())
        parts.append(
            repr(sorted(case.call.kwargs.items(), key=lambda kv: kv[0]))
            if not arrays_in(case.call.kwargs)
            else ""
        )
        parts.append(repr([a for a in case.call.args if not isinstance(a, np.ndarray)]))
    return "|".join(parts)


def check_stubs(suite: ModuleType, ref: ModuleType, stubs: ModuleType) -> None:
    """On the stubs, Raises cases pass (validation is given code) and the others fail."""
    for item, group, seed, cases in cases_of(suite, ref, seeds=(0,)):
        for case in cases:
            verdict = judge(case, run(stubs, case))
            assert verdict.passed == isinstance(case.expect, Raises), (
                item,
                group,
                seed,
                case.name,
                verdict,
            )


def _to_float32(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.astype(np.float32)
    if isinstance(value, tuple):
        return tuple(_to_float32(v) for v in value)
    if isinstance(value, list):
        return [_to_float32(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value


def check_float32_passes(suite: ModuleType, ref: ModuleType) -> None:
    """The reference fed float32 inputs (computing like Keras) passes every Close and Property
    case (the suite must not demand more than float32 precision)."""
    for item, group, seed, cases in cases_of(suite, ref):
        for case in cases:
            if isinstance(case.expect, Raises):
                continue
            call = case.call
            f32_call = Call(
                call.program, call.target, _to_float32(call.args), _to_float32(call.kwargs)
            )
            f32 = Case(case.item, case.name, f32_call, case.expect)
            outcome = run(ref, f32)
            assert outcome.status == "ok", (item, case.name, outcome.exception)
            verdict = judge(case, answer(case, outcome.value))
            assert verdict.passed, f"{item} {group} seed {seed} {case.name}: {verdict.message}"
