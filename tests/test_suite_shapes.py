"""The hidden suite of cnn/shapes.py: the reference passes, mistakes are named, seeds vary."""

from __future__ import annotations

import numpy as np
import suite_layers_harness as h

from autograder.compare import judge
from autograder.topics.shapes import plan as suite

ITEMS = [
    "conv_output_length",
    "same_padding",
    "pool_output_length",
    "conv_param_count",
    "dense_param_count",
    "receptive_field",
]


def test_items_follow_the_contract(sol):
    h.check_items(suite, sol, "shapes", ITEMS)


def test_reference_passes_every_case(sol):
    h.check_reference_passes(suite, sol)


def test_case_counts_types_and_raises(sol):
    h.check_shape_of_suite(suite, sol)


def test_every_mistake_is_named(sol):
    h.check_mistakes_named(suite, sol)


def test_generators_are_deterministic_and_vary(sol):
    h.check_deterministic(suite, sol)


def test_stubs_fail_except_invalid_arguments(sol, stubs):
    h.check_stubs(suite, sol, stubs)


def test_answers_are_python_ints(sol):
    """A numpy integer or a float is refused even when the number is right."""
    case = suite.gen_conv_output_length(sol, np.random.default_rng(0), "public")[0]
    want = case.expect.value
    assert type(want) is int
    assert judge(case, h.answer(case, want)).passed
    assert not judge(case, h.answer(case, np.int64(want))).passed
    verdict = judge(case, h.answer(case, float(want)))
    assert not verdict.passed and verdict.mistake == "size-true-division"


def test_same_padding_wants_a_tuple(sol):
    case = suite.gen_same_padding(sol, np.random.default_rng(0), "public")[0]
    assert case.expect.value == (0, 1)  # the lecture's 28 / 3 / 2 trap
    assert not judge(case, h.answer(case, [0, 1])).passed


def test_float32_computation_passes(sol):
    h.check_float32_passes(suite, sol)
