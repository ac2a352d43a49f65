"""Slow but correct student code is graded, not failed: loop-style submissions get full marks
within the default limits (10 s per call, the submission's time budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.discover import discover
from autograder.engine import Grader
from autograder.paths import KIT_ROOT

LOOPS = Path(__file__).parent / "fixtures" / "loops"
ADA = KIT_ROOT / "examples" / "sample-class" / "ada-perfect"


@pytest.fixture(scope="module")
def grader():
    return Grader.create(load_config(None))


def _grade(grader: Grader, folder: Path):
    (sub,) = discover([folder])
    return grader.grade(sub)


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param(LOOPS, id="loops-over-positions-and-filters"),
        pytest.param(ADA, id="sample-class-ada-perfect"),
    ],
)
def test_loop_style_correct_submission_gets_full_marks(grader, folder):
    assert (folder / "cnn" / "conv.py").is_file(), f"missing fixture {folder}"
    source = (folder / "cnn" / "conv.py").read_text()
    assert "for i in range(" in source, "the fixture must really be loop-style"
    result = _grade(grader, folder)
    assert not result.error, result.error
    assert result.problems == []
    calls = [case for test in result.tests for case in test.cases]
    assert calls, "no case was graded"
    not_passed = [
        f"{c.item}: {c.name}: {c.message}" for c in calls if not c.passed
    ]  # a timeout would show here, as a failed case naming the time limit
    assert not_passed == []
    assert result.score == pytest.approx(result.max_score) and result.max_score == 100
    slowest = max(c.seconds for c in calls)
    assert slowest < grader.config.limits.call_timeout
