"""The hidden suite for cnn/model.py: the reference passes, mistakes and the property bite."""

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
from autograder.topics.model import plan as suite

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def ref(sol):
    return sol


def test_items_counts_and_raises(ref):
    check_shape_of_suite(suite, ref, ["model.lecture_model_forward"])


def test_reference_passes_every_case(ref):
    check_reference_passes(suite, ref, seeds=SEEDS)


def test_every_mistake_is_caught_and_named(ref):
    check_mistakes_named(suite, ref, seeds=SEEDS)


def test_raises_cases_raise_value_error_on_the_reference(ref):
    for _, _, case in all_cases(suite, ref, seeds=SEEDS):
        if isinstance(case.expect, Raises):
            outcome = execute(ref, case)
            assert outcome.status == "error" and outcome.exception["value_error"], case.name


def test_generators_are_deterministic_and_seeded(ref):
    check_determinism(suite, ref)


def test_cases_are_small_enough_for_loop_based_students(ref):
    for _, _, case in all_cases(suite, ref, seeds=SEEDS):
        assert case.call.args[0].shape[0] <= 2


def test_training_property_rejects_inference_output_and_non_probabilities(ref):
    cases = [c for _, _, c in all_cases(suite, ref, seeds=SEEDS) if isinstance(c.expect, Property)]
    assert cases
    for case in cases:
        x, w = case.call.args
        inference = ref.model.lecture_model_forward(x, w)
        logits = np.log(inference) + 1.0
        for wrong in (inference, logits, inference[:, :5], inference.tolist()):
            assert not judge(case, Outcome("ok", value=wrong)).passed
        good = execute(ref, case).value
        assert judge(case, Outcome("ok", value=good.astype(np.float32))).passed
