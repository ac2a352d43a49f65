"""Part 2's audit targets on a cheap sample: mutants killed and named, scores independent of the
student id, the computes-nothing adversaries at 0, and the loop and float32 correct styles at
full marks. The full `grade audit --part backward` (sandbox, every mutant, 4 ids, the training
outcome run) is too slow for the suite; its numbers are in the part-2 notes.

Here the engine's own cases and scoring (``Grader.cases``, ``Grader._tests``) grade each
submission on the backward and gradcheck items, under 2 student ids, with the calls made in this
process through the worker's own code (``sandbox.inprocess.execute``: trusted corpus code only).
The sample holds one mutant per named backward and gradcheck mistake kind, and the two whose
scores used to depend on the student id (a freshly drawn dropout mask; the forward difference).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest

from autograder.audit.corpus import (
    correct_submission,
    load_correct,
    load_mutants,
    mutant_submission,
)
from autograder.audit.nothing import KINDS, nothing_submission
from autograder.audit.runner import audit_config
from autograder.engine import Grader
from autograder.paths import ALL_MODULES
from autograder.reference import load_package
from autograder.results import SubmissionResult
from autograder.sandbox.inprocess import execute

PARTS = ("backward",)
MODULES = ("backward", "gradcheck")
IDS = ("audit-a", "audit-b")
SAMPLE = (
    "conv2d-bwd-overwrite",
    "conv1d-bwd-not-unpadded",
    "conv2d-bwd-kernel-flipped",
    "maxpool-bwd-all-ties",
    "maxpool-bwd-last-tie",
    "avgpool-bwd-count-pad",
    "dense-bwd-bias-not-summed",
    "dropout-bwd-new-mask",  # a fresh random mask: must lose every case under every id
    "ce-bwd-missing-mean",
    "ngrad-forward",  # borderline at small h before the values were settled
    "ngrad-no-restore",
    "relerr-mean",
)
_count = itertools.count()


@pytest.fixture(scope="module")
def graders():
    base = Grader.create(audit_config(parts=PARTS))
    return {
        m: Grader(audit_config(m, PARTS), base.ref, base.bank, base.isolation) for m in MODULES
    }


def _package(files: dict[str, bytes], tmp: Path):
    folder = tmp / f"pkg{next(_count)}"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return load_package(folder, f"_audit2_{folder.name}", ALL_MODULES)


def _grade(grader: Grader, package, student: str) -> SubmissionResult:
    cases = grader.cases(student)
    outcomes = [execute(package, copy.deepcopy(c.call)) for c in cases]
    return SubmissionResult(student, "audit", tests=grader._tests(cases, outcomes, {}))


def test_sampled_part2_mutants_are_killed_named_and_id_independent(graders, tmp_path):
    mutants = [m for m in load_mutants() if m.id in SAMPLE]
    assert {m.id for m in mutants} == set(SAMPLE)
    for mutant in mutants:
        package = _package(mutant_submission(mutant).files, tmp_path)
        results = [_grade(graders[mutant.module], package, s) for s in IDS]
        scores = [r.item_scores()[mutant.item] for r in results]
        item_max = sum(t.max_score for t in results[0].tests if t.item == mutant.item)
        assert max(scores) < item_max, (mutant.id, scores, item_max)  # killed
        assert len({r.score for r in results}) == 1 and len(set(scores)) == 1, (mutant.id, scores)
        if mutant.mistake:
            named = results[0].item_mistakes().get(mutant.item, [])
            assert mutant.mistake in named, (mutant.id, named)


def test_part2_computes_nothing_adversaries_earn_nothing(graders, tmp_path):
    for kind in KINDS:
        package = _package(nothing_submission(kind).files, tmp_path)
        for module in MODULES:
            for student in IDS:
                result = _grade(graders[module], package, student)
                earned = {i: s for i, s in result.item_scores().items() if s}
                assert not earned, (kind, earned)


@pytest.mark.parametrize("name", ["ivo-loops-part2", "jun-float32-part2"])
def test_part2_correct_styles_lose_nothing_on_the_backward_items(graders, tmp_path, name):
    (correct,) = [c for c in load_correct() if c.name == name]
    package = _package(correct_submission(correct).files, tmp_path)
    for module in MODULES:
        for student in IDS:
            result = _grade(graders[module], package, student)
            lost = [
                (t.item, c.name, c.message) for t in result.tests for c in t.cases if not c.passed
            ]
            assert not lost and result.score == result.max_score > 0, lost
