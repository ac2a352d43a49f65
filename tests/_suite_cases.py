"""Run hidden-suite cases in-process against the reference, the way the sandbox worker would.

Used by tests/test_suite_{optimizers,regularization,training,model}.py. The worker itself
(autograder/sandbox/worker.py) is standalone and cannot be imported, so its three programs
and its result encoding are replicated here in a few lines.
"""

from __future__ import annotations

import copy

import numpy as np

from autograder.cases import Case, Close, Property, Raises, Rng
from autograder.compare import judge
from autograder.sandbox.runner import NpScalar, Outcome, arrays_in

SEEDS = (0, 1, 2)
GROUPS = ("public", "hidden")


def _decode(value):
    if isinstance(value, Rng):
        return np.random.default_rng(value.seed)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return copy.copy(value)


def encode(value):
    """What the trusted side gets back from the worker for ``value``."""
    if type(value) is np.ndarray:
        # the worker uses np.ascontiguousarray, which turns a 0-d array into shape (1,)
        # (reported to the lead); here a 0-d array stays 0-d
        return np.array(value, order="C", copy=True)
    if isinstance(value, np.generic):
        return NpScalar(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(encode(v) for v in value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def _run_optimizer(cls, args, kwargs):
    params, grads = args
    opt = cls(**kwargs)
    trajectory = [[] for _ in params]
    iterations = []
    for step_grads in grads:
        opt.step(params, step_grads)
        for k, p in enumerate(params):
            trajectory[k].append(np.array(p, dtype=np.float64, copy=True))
        iterations.append(opt.iterations)
    return {"params": [np.stack(t) for t in trajectory], "iterations": iterations}


def _run_early_stopping(cls, args, kwargs):
    values, monitor = args
    es = cls(**kwargs)
    es.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        if es.on_epoch_end(epoch, {monitor: value}, weights=[np.full(2, epoch + 1.0)]):
            break
    restored = es.on_train_end()
    if restored is not None:
        restored = float(np.asarray(restored[0]).ravel()[0])
    best = es.best
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": es.stopped_epoch,
        "best": None if best is None else float(best),
        "best_epoch": es.best_epoch,
        "wait": es.wait,
        "restored": restored,
    }


PROGRAMS = {
    "call": lambda fn, a, k: fn(*a, **k),
    "optimizer": _run_optimizer,
    "early_stopping": _run_early_stopping,
}


def execute(ref, case: Case) -> Outcome:
    """Run ``case.call`` against the reference package like the worker would."""
    args, kwargs = _decode(case.call.args), _decode(case.call.kwargs)
    module, name = case.call.target.split(".")
    target = getattr(getattr(ref, module), name)
    try:
        value = PROGRAMS[case.call.program](target, args, kwargs)
    except Exception as exc:  # noqa: BLE001 - turned into an outcome like the worker does
        return Outcome(
            "error",
            exception={
                "type": type(exc).__name__,
                "value_error": isinstance(exc, ValueError),
                "not_implemented": False,
                "message": str(exc),
            },
        )
    after = [np.array(a, copy=True) for a in arrays_in((list(args), dict(kwargs)))]
    return Outcome("ok", value=encode(value), inputs_after=after)


def all_cases(suite, ref, seeds=SEEDS, groups=GROUPS):
    """(seed, group, case) for every generator of ``suite``."""
    for seed in seeds:
        for group in groups:
            for item, gen in suite.GENERATORS.items():
                for case in gen(ref, np.random.default_rng(seed), group):
                    assert case.item == item
                    yield seed, group, case


def check_reference_passes(suite, ref, seeds=SEEDS):
    counts = {}
    for seed, group, case in all_cases(suite, ref, seeds):
        verdict = judge(case, execute(ref, case))
        assert verdict.passed, f"seed {seed} {group} {case.item} [{case.name}]: {verdict.message}"
        counts[(case.item, group, type(case.expect).__name__)] = (
            counts.get((case.item, group, type(case.expect).__name__), 0) + 1
        )
    return counts


def check_mistakes_named(suite, ref, seeds=SEEDS):
    """Every mistake id is attached somewhere, fails, and is named by judge()."""
    named = set()
    for _, _, case in all_cases(suite, ref, seeds):
        assert set(case.mistakes) <= set(suite.MISTAKES), case.name
        for mid, wrong in case.mistakes.items():
            verdict = judge(case, Outcome("ok", value=encode(wrong)))
            assert not verdict.passed, f"{mid} passes [{case.name}]"
            if verdict.mistake == mid:
                named.add(mid)
    missing = set(suite.MISTAKES) - named
    assert not missing, f"mistakes never caught and named: {sorted(missing)}"


def check_shape_of_suite(suite, ref, items):
    """Items in contract order; 3-4 public and 8-12 hidden cases with 1-2 Raises each."""
    assert list(suite.GENERATORS) == items
    for item, gen in suite.GENERATORS.items():
        public = gen(ref, np.random.default_rng(0), "public")
        hidden = gen(ref, np.random.default_rng(0), "hidden")
        assert 3 <= len(public) <= 4, item
        assert 8 <= len(hidden) <= 12, item
        raises = [c for c in hidden if isinstance(c.expect, Raises)]
        assert 1 <= len(raises) <= 2, item
        assert all(not c.check_mutation for c in raises)
        assert all(c.group == "public" for c in public) and all(c.group == "hidden" for c in hidden)
        for c in public + hidden:
            assert isinstance(c.expect, (Close, Raises, Property))
            assert (c.oracle == "property") == isinstance(c.expect, Property), c.name


def _fingerprint(case):
    arrays = arrays_in((list(case.call.args), dict(case.call.kwargs)))
    rngs = []

    def walk(v):
        if isinstance(v, Rng):
            rngs.append(v.seed)
        elif isinstance(v, (list, tuple)):
            for w in v:
                walk(w)
        elif isinstance(v, dict):
            for w in v.values():
                walk(w)

    walk((case.call.args, case.call.kwargs))
    return (
        case.name,
        repr(case.params),
        tuple(rngs),
        tuple((a.shape, a.tobytes()) for a in arrays),
    )


def check_determinism(suite, ref):
    for item, gen in suite.GENERATORS.items():
        for group in GROUPS:
            a = [_fingerprint(c) for c in gen(ref, np.random.default_rng(7), group)]
            b = [_fingerprint(c) for c in gen(ref, np.random.default_rng(7), group)]
            assert a == b, f"{item} {group} is not deterministic"
        h1 = [_fingerprint(c) for c in gen(ref, np.random.default_rng(1), "hidden")]
        h2 = [_fingerprint(c) for c in gen(ref, np.random.default_rng(2), "hidden")]
        assert h1 != h2, f"{item}: hidden cases do not depend on the seed"
