"""The handout's standalone judge (assignments/tests/_judge.py) runs every worker program the
grader has, and gets the same answers as the grader's worker (sandbox/worker.py) for the same
public case: the handout's local points can only agree with the grader's if both run the call
the same way (the optimizer's steps, the early-stopping protocol, the analytic function of a
gradient check, the student's own optimizer in a training run)."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import numpy as np
import pytest

from autograder.cases import PROGRAMS as CASE_PROGRAMS
from autograder.compare import judge
from autograder.config import Config, points_for
from autograder.engine import Grader
from autograder.lms.public_cases import public_cases
from autograder.paths import PUBLIC_TESTS_DIR, SOLUTIONS_DIR
from autograder.reference import load_solutions
from autograder.sandbox import worker
from autograder.sandbox.inprocess import execute
from autograder.sandbox.isolation import detect

BOTH = ("forward", "backward")


def _load_judge():
    spec = importlib.util.spec_from_file_location("_parity_judge", PUBLIC_TESTS_DIR / "_judge.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


JUDGE = _load_judge()


def test_every_worker_program_has_a_judge_program():
    assert set(worker.PROGRAMS) == set(CASE_PROGRAMS)
    assert set(JUDGE.PROGRAMS) == set(worker.PROGRAMS)


@pytest.fixture(scope="module")
def cases():
    """(grader case, handout case) pairs of the public cases of both parts, by program."""
    config = Config(parts=BOTH, points=points_for(BOTH))
    grader = Grader(config, load_solutions(), [], detect())
    ours = [c for pub, _ in grader.shared_cases().values() for c in pub]
    theirs = public_cases(config)["cases"]
    assert len(ours) == len(theirs)
    by_program: dict[str, list] = {}
    for case, exported in zip(ours, theirs, strict=True):
        assert (case.item, case.name) == (exported["item"], exported["name"])
        by_program.setdefault(case.call.program, []).append((case, exported))
    return by_program


def _solutions_as_cnn():
    for name in [m for m in sys.modules if m == "cnn" or m.startswith("cnn.")]:
        del sys.modules[name]
    sys.path.insert(0, str(SOLUTIONS_DIR.parent))
    try:
        importlib.import_module("cnn")
    finally:
        sys.path.remove(str(SOLUTIONS_DIR.parent))


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is b
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


@pytest.mark.parametrize("program", list(worker.PROGRAMS))
def test_judge_and_worker_programs_answer_alike(cases, program):
    assert cases.get(program), f"no public case runs the worker program {program!r}"
    _solutions_as_cnn()
    sol = load_solutions()
    for case, exported in cases[program][:3]:
        graded = execute(sol, case.call)
        local = JUDGE.run(exported)
        assert graded.status == local.status == "ok", (case.name, graded, local)
        assert judge(case, graded).passed, case.name
        assert JUDGE.judge(exported, local).passed, case.name
        assert _same(local.value, graded.value), case.name
