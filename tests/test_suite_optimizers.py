"""The hidden suite for cnn/optimizers.py: the reference passes, every mistake is caught."""

from __future__ import annotations

import numpy as np
import pytest
from _suite_cases import (
    all_cases,
    check_determinism,
    check_mistakes_named,
    check_reference_passes,
    check_shape_of_suite,
    execute,
)

from autograder.cases import Close, Raises
from autograder.compare import matches
from autograder.topics.optimizers import plan as suite

ITEMS = ["optimizers.SGD", "optimizers.Adagrad", "optimizers.RMSprop", "optimizers.Adam"]


@pytest.fixture(scope="module")
def ref(sol):
    return sol


def test_items_counts_and_raises(ref):
    check_shape_of_suite(suite, ref, ITEMS)


def test_reference_passes_every_case(ref):
    check_reference_passes(suite, ref)


def test_every_mistake_is_caught_and_named(ref):
    check_mistakes_named(suite, ref)


def test_raises_cases_raise_value_error_on_the_reference(ref):
    for _, _, case in all_cases(suite, ref):
        if isinstance(case.expect, Raises):
            outcome = execute(ref, case)
            assert outcome.status == "error" and outcome.exception["value_error"], case.name


def test_generators_are_deterministic_and_seeded(ref):
    check_determinism(suite, ref)


def test_correct_rules_reproduce_the_reference(ref):
    """The private simulator with Keras's rules equals the reference (so mistakes are fair)."""
    rules = {
        "SGD": None,
        "Adagrad": suite._adagrad(),
        "RMSprop": suite._rmsprop(),
        "Adam": suite._adam(),
    }
    for _, _, case in all_cases(suite, ref, seeds=(0, 1)):
        name = case.item.split(".")[1]
        if not isinstance(case.expect, Close):
            continue
        hyper = dict(suite.DEFAULTS[name], **case.call.kwargs)
        rule = rules[name]
        if name == "SGD":
            rule = (
                suite._sgd_plain
                if hyper["momentum"] == 0
                else (suite._sgd_classical if not hyper["nesterov"] else None)
            )
        if rule is None:
            continue
        got = suite._simulate(rule, *case.call.args, hyper)
        assert matches(got, case.expect.value), case.name


def test_small_gradient_adam_separates_textbook_epsilon(ref):
    """keras-semantics §12: with |g| <= 1e-3 textbook Adam must fail (every seed)."""
    for seed in range(5):
        cases = suite.gen_adam(ref, np.random.default_rng(seed), "hidden")
        assert any("adam-textbook-epsilon" in c.mistakes for c in cases), seed


def test_trajectories_are_not_mutated_by_the_suite(ref):
    case = suite.gen_sgd(ref, np.random.default_rng(0), "public")[1]
    before = [p.copy() for p in case.call.args[0]]
    execute(ref, case)
    assert all(np.array_equal(a, b) for a, b in zip(before, case.call.args[0], strict=True))
