"""The hidden suite for cnn/training.py: the reference passes, mistakes and properties bite."""

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

from autograder.cases import Property, Raises
from autograder.compare import judge
from autograder.sandbox.runner import Outcome
from autograder.topics.training import plan as suite

ITEMS = [
    "training.minibatch_indices",
    "training.categorical_crossentropy",
    "training.flatten",
    "training.dense",
]


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


def _shuffle_cases(ref):
    return [
        c
        for _, _, c in all_cases(suite, ref, groups=("hidden",))
        if c.item == "training.minibatch_indices" and isinstance(c.expect, Property)
    ]


def test_shuffle_property_rejects_wrong_batches(ref):
    for case in _shuffle_cases(ref):
        n, b = case.call.args
        good = execute(ref, case).value
        order = np.arange(n)
        unshuffled = [order[i : i + b] for i in range(0, n, b)]
        dropped = good[:-1] if n % b else good
        duplicated = [np.zeros_like(x) for x in good]
        floats = [x.astype(float) for x in good]
        for wrong in (unshuffled, duplicated, floats, np.concatenate(good)):
            assert not judge(case, Outcome("ok", value=wrong)).passed
        if n % b:
            assert not judge(case, Outcome("ok", value=dropped)).passed
