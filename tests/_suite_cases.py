"""Shared checks for the hidden-suite tests of optimizers, regularization, training and model.

Cases run in this process through the sandbox's own code (``autograder.sandbox.inprocess``:
the worker's programs and encoding, the runner's decoding), without the separate process.
"""

from __future__ import annotations

import numpy as np

from autograder.cases import Case, Close, Property, Raises, Rng
from autograder.compare import judge
from autograder.sandbox.inprocess import execute as run_in_process
from autograder.sandbox.inprocess import wire
from autograder.sandbox.runner import Outcome, arrays_in

SEEDS = (0, 1, 2)
GROUPS = ("public", "hidden")


def encode(value):
    """What the trusted side gets back from the worker for ``value``."""
    return wire(value)


def execute(ref, case: Case) -> Outcome:
    """Run ``case.call`` against the reference package through the worker's own code."""
    return run_in_process(ref, case.call, case.check_mutation)


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


# Items whose invalid arguments the contract's list does not name: no graded ValueError.
NO_GRADED_VALUE_ERROR = {
    "regularization.l2_penalty",
    "regularization.l2_grad",
    "training.categorical_crossentropy",
    "training.flatten",
}


def check_shape_of_suite(suite, ref, items):
    """Items in contract order; 3-4 public and 7-12 hidden cases with at most 2 Raises each
    (none where the contract lists no invalid argument of the item)."""
    assert list(suite.GENERATORS) == items
    for item, gen in suite.GENERATORS.items():
        public = gen(ref, np.random.default_rng(0), "public")
        hidden = gen(ref, np.random.default_rng(0), "hidden")
        assert 3 <= len(public) <= 4, item
        assert 7 <= len(hidden) <= 12, item
        raises = [c for c in hidden if isinstance(c.expect, Raises)]
        unlisted = item in NO_GRADED_VALUE_ERROR
        assert (len(raises) == 0) if unlisted else (1 <= len(raises) <= 2), item
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
