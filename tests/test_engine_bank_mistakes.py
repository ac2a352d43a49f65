"""Keras-bank cases carry the suite's mistake outputs, so feedback names mistakes there too."""

from __future__ import annotations

from autograder.compare import judge
from autograder.config import load_config
from autograder.engine import Grader
from autograder.sandbox.runner import Outcome


def test_bank_early_stopping_cases_name_known_mistakes():
    grader = Grader.create(load_config(None))
    _, bank = grader.shared_cases()["regularization.EarlyStopping"]
    named = set()
    for case in bank:
        assert case.oracle == "keras"
        assert judge(case, Outcome("ok", value=case.expect.value)).passed
        for wrong in case.mistakes.values():
            verdict = judge(case, Outcome("ok", value=wrong))
            assert not verdict.passed and verdict.mistake is not None
            named.add(verdict.mistake)
    assert {"es-compare-previous", "es-baseline-ignored"} <= named
