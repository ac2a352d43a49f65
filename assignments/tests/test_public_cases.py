"""The grader's own public cases, run here exactly as the grader runs them.

``public_cases.json`` holds every public case the grader runs (the same for every student):
its call, the expected answer and the known mistakes it can recognise. Each test makes that
call in your ``cnn`` package and judges the answer with the grader's rules (``_judge.py``), so
the public points that pytest prints at the end are the grader's public points for your code.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import _judge
import pytest

CASES_FILE = Path(__file__).with_name("public_cases.json")


def _load() -> dict:
    if CASES_FILE.is_file():
        return json.loads(CASES_FILE.read_text(encoding="utf-8"))
    try:  # inside the kit's own checkout: build them from the grader's suite
        from autograder.config import Config
        from autograder.lms.public_cases import public_cases
    except ImportError:
        return {"cases": []}
    return json.loads(json.dumps(public_cases(Config()), allow_nan=True))


DATA = _load()
CASES = DATA["cases"]
LIMITS = DATA.get("limits", {})
_TIMEOUTS: Counter[str] = Counter()


def _param(index: int, case: dict):
    raises = case["expect"]["kind"] == "raises"
    marks = [
        pytest.mark.item(case["item"], given=raises, case=True, counts_as=case.get("counts_as"))
    ]
    if case["expect"]["kind"] == "grader-only":
        marks.append(pytest.mark.skip(reason="checked by the grader only"))
    name = case["target"].split(".")[1]
    return pytest.param(case, marks=marks, id=f"{name}-{index}")


@pytest.mark.parametrize(
    "case",
    [_param(i, c) for i, c in enumerate(CASES)]
    or [
        pytest.param(
            None,
            marks=[pytest.mark.skip(reason="public_cases.json is missing: rebuild the handout")],
        )
    ],
)
def test_grader_public_case(case):
    if _TIMEOUTS[case["item"]] >= LIMITS.get("max_timeouts_per_item", 2):
        outcome = _judge.Outcome("skipped")
    else:
        outcome = _judge.run(case, LIMITS.get("call_timeout", 10.0))
    if outcome.status == "timeout":
        _TIMEOUTS[case["item"]] += 1
    verdict = _judge.judge(case, outcome)
    if not verdict.passed:
        if outcome.exception.get("not_implemented"):
            raise NotImplementedError(outcome.exception["message"])
        text = f"{case['target']} grader case [{case['name']}]: {verdict.message}"
        if verdict.mistake:
            text += f"\n  Known mistake: {verdict.mistake}"
        pytest.fail(text, pytrace=False)
