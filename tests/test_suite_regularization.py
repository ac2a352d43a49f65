"""The hidden suite for cnn/regularization.py: the reference passes, mistakes are caught."""

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

from autograder.cases import Close, Property, Raises
from autograder.compare import judge
from autograder.sandbox.runner import Outcome
from autograder.topics.regularization import plan as suite

ITEMS = [
    "regularization.dropout",
    "regularization.l2_penalty",
    "regularization.l2_grad",
    "regularization.EarlyStopping",
]


@pytest.fixture(scope="module")
def ref(sol):
    return sol


def test_items_counts_and_raises(ref):
    check_shape_of_suite(suite, ref, ITEMS)


def test_reference_passes_every_case(ref):
    check_reference_passes(suite, ref, seeds=(0, 1, 2, 3, 4))


def test_every_mistake_is_caught_and_named(ref):
    check_mistakes_named(suite, ref)


def test_raises_cases_raise_value_error_on_the_reference(ref):
    for _, _, case in all_cases(suite, ref):
        if isinstance(case.expect, Raises):
            outcome = execute(ref, case)
            assert outcome.status == "error" and outcome.exception["value_error"], case.name


def test_generators_are_deterministic_and_seeded(ref):
    check_determinism(suite, ref)


def test_dropout_property_rejects_wrong_random_paths(ref):
    cases = [c for _, _, c in all_cases(suite, ref) if isinstance(c.expect, Property)]
    assert cases
    for case in cases:
        x, rate = case.call.args
        rng = np.random.default_rng(123)
        keep = rng.random(x.shape) >= rate
        flipped = rng.random(x.shape) < rate
        wrongs = {
            "unscaled": x * keep,
            "keep-probability": np.where(flipped, x / (1 - rate), 0.0),
            "identity": x.copy(),
            "shape": (x * keep / (1 - rate)).ravel(),
        }
        if abs(rate - 0.5) < 0.05:
            del wrongs["keep-probability"]
        for label, wrong in wrongs.items():
            assert not judge(case, Outcome("ok", value=wrong)).passed, (case.name, label)
        good = np.where(keep, x / (1 - rate), 0.0).astype(np.float32)
        assert judge(case, Outcome("ok", value=good)).passed, case.name


def test_early_stopping_simulator_equals_the_reference(ref):
    for _, _, case in all_cases(suite, ref, seeds=range(10), groups=("public", "hidden")):
        if case.item == "regularization.EarlyStopping" and isinstance(case.expect, Close):
            values, monitor = case.call.args
            assert suite.es_simulate(values, monitor, case.call.kwargs) == case.expect.value


def test_early_stopping_sequences_stay_off_the_float32_boundaries(ref):
    """Precise rules: no value +- min_delta on a boundary, no near-ties (1e-6 relative)."""
    for _, _, case in all_cases(suite, ref, seeds=range(10), groups=("public", "hidden")):
        if case.item != "regularization.EarlyStopping" or isinstance(case.expect, Raises):
            continue
        values = case.call.args[0]
        md = abs(case.call.kwargs.get("min_delta", 0.0))
        refs = list(values) + [case.call.kwargs.get("baseline")] * ("baseline" in case.call.kwargs)
        for v in values:
            for r in refs:
                for gap in {v + md - r, v - md - r}:
                    assert gap == 0 and md == 0 or abs(gap) > 1e-6 * max(abs(v), abs(r)), (
                        case.name,
                        v,
                        r,
                    )
