"""The handout's public tests judge as the grader judges: its copy of the comparison rules agrees
with ``autograder/compare.py``, and its public points equal the grader's public points for the
same code (the sample class, the audit's mutants and its correct implementations)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.audit.corpus import (
    correct_submission,
    load_correct,
    load_mutants,
    mutant_submission,
)
from autograder.cases import Call, Case, Close
from autograder.compare import judge
from autograder.config import Config
from autograder.discover import discover, materialise
from autograder.engine import Grader
from autograder.lms.public_cases import public_cases
from autograder.paths import KIT_ROOT, PUBLIC_TESTS_DIR, STUBS_DIR
from autograder.reference import load_solutions
from autograder.sandbox.inprocess import execute, wire
from autograder.sandbox.isolation import detect
from autograder.sandbox.runner import Outcome
from autograder.static import banned_modules


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_handout_{name}", PUBLIC_TESTS_DIR / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


JUDGE = _load("_judge.py")
CONFTEST = _load("conftest.py")

F32 = np.float32
# (what the student returns, what the grader expects, exact?)
AGREEMENT = [
    (np.array([1.0, 2.0]), np.array([1.0, 2.0]), False),
    (np.array([1.0, 2.0], dtype=F32), np.array([1.0, 2.0]), False),
    (np.array([1.0 + 1e-6, 2.0]), np.array([1.0, 2.0]), False),  # within 1e-5 * max|want|
    (np.array([1.0 + 1e-3, 2.0]), np.array([1.0, 2.0]), False),
    (np.array([1e-9, 1000.0]), np.array([0.0, 1000.0]), False),  # atol scales with max|want|
    (np.array([1e-1, 1000.0]), np.array([0.0, 1000.0]), False),
    (np.float32(1 / 3) * np.ones((3, 3), F32), np.full((3, 3), 1 / 3), False),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]), False),  # shape
    (np.array([[1.0, 2.0]]), np.array([1.0, 2.0]), False),
    ([1.0, 2.0], np.array([1.0, 2.0]), False),  # a list is not an array
    (np.array([1, 2]), np.array([1, 2]), True),  # exact integers
    (np.array([1.0, 2.0]), np.array([1, 2]), True),  # floats where integers are expected
    (np.array([1, 3]), np.array([1, 2]), True),
    (np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), True),  # exact: bitwise
    (np.array([np.nan]), np.array([np.nan]), False),  # NaN never matches
    (np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), False),
    (np.array([-np.inf, 1.0]), np.array([np.inf, 1.0]), False),
    (np.array(["a"]), np.array([1.0]), False),  # not a numeric array
    (np.array([True, False]), np.array([1.0, 0.0]), False),
    (3, 3, False),
    (np.int64(3), 3, False),  # a Python int is required
    (3.0, 3, False),
    (True, 1, False),
    (4, 3, False),
    (2.5, 2.5, False),
    (np.float32(2.5), 2.5, False),
    (np.float64(2.5 + 1e-7), 2.5, False),
    (2.6, 2.5, False),
    (3, 3.0, False),
    (True, 1.0, False),
    (np.float64(0.5), np.float64(0.5), False),  # a 0-d expectation
    (0.5, np.float64(0.5), False),
    (np.array(0.5), np.float64(0.5), False),
    (None, None, False),
    (0, None, False),
    (True, True, False),
    (np.bool_(True), True, False),
    (1, True, False),
    ((1, 2), (1, 2), False),
    ([1, 2], (1, 2), False),  # a tuple is expected
    ((1, 2), [1, 2], False),  # a list accepts a tuple
    ((1, 2, 3), (1, 2), False),
    ({"a": 1.0, "b": np.ones(2)}, {"a": 1.0, "b": np.ones(2)}, False),
    ({"a": 1.0}, {"a": 1.0, "b": np.ones(2)}, False),
    ([np.arange(3), np.arange(3, 5)], [np.arange(3), np.arange(3, 5)], True),
    ([np.arange(3.0)], [np.arange(3)], True),
    (np.ma.masked_array([1.0, 2.0]), np.array([1.0, 2.0]), False),  # a subclass of ndarray
    (object(), 1.0, False),
    ("text", "text", False),
]


def _grader_passes(got, want, exact) -> bool:
    case = Case("x.y", "c", Call("call", "x.y"), Close(want, exact), group="public")
    return judge(case, Outcome("ok", value=wire(got))).passed


@pytest.mark.parametrize("got,want,exact", AGREEMENT, ids=[str(i) for i in range(len(AGREEMENT))])
def test_the_handout_copy_of_the_rules_agrees_with_the_grader(got, want, exact):
    try:
        JUDGE.compare(JUDGE.wire(got), want, "", exact)
        strict = True
    except JUDGE.Mismatch:
        strict = False
    assert strict == _grader_passes(got, want, exact)


def test_every_public_case_can_be_judged_in_the_handout():
    data = public_cases(Config())
    kinds = [c["expect"]["kind"] for c in data["cases"]]
    assert "grader-only" not in kinds, [
        c["name"] for c in data["cases"] if c["expect"]["kind"] == "grader-only"
    ]
    assert len(kinds) == sum(len(pub) for pub, _ in _grader().shared_cases().values())


_GRADER: list[Grader] = []


def _grader() -> Grader:
    if not _GRADER:
        _GRADER.append(Grader(Config(), load_solutions(), [], detect()))
    return _GRADER[0]


def _public_only(grader: Grader) -> list[Case]:
    return [c for pub, _ in grader.shared_cases().values() for c in pub]


def _import_package(root: Path):
    for name in [m for m in sys.modules if m == "cnn" or m.startswith("cnn.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        import cnn  # noqa: F401

        for module in (
            "shapes",
            "conv",
            "pooling",
            "activations",
            "optimizers",
            "regularization",
            "training",
            "model",
        ):
            try:
                importlib.import_module(f"cnn.{module}")
            except Exception:  # noqa: BLE001, S110 - the grader counts it as failing
                pass
        return sys.modules["cnn"]
    finally:
        sys.path.remove(str(root))


def _local_points(root: Path, data: dict, keep: set[str] | None = None) -> dict[str, float]:
    """The handout's public points for the package under ``root``, computed by the handout's
    own code (the judge copy and the conftest's scoring rule)."""
    _import_package(root)
    results = []
    timeouts: dict[str, int] = {}
    for case in data["cases"]:
        if keep is not None and case["item"].split(".")[0] not in keep:
            continue
        if timeouts.get(case["item"], 0) >= data["limits"]["max_timeouts_per_item"]:
            outcome = JUDGE.Outcome("skipped")
        else:
            outcome = JUDGE.run(case, data["limits"]["call_timeout"])
        if outcome.status == "timeout":
            timeouts[case["item"]] = timeouts.get(case["item"], 0) + 1
        verdict = JUDGE.judge(case, outcome)
        results.append(
            (
                [case["item"]],
                case["expect"]["kind"] == "raises",
                verdict.passed,
                case.get("counts_as"),
            )
        )
    scores = CONFTEST.public_scores(results, data["points"], data["public_share"])
    return {item: s[2] for item, s in scores.items() if keep is None or item.split(".")[0] in keep}


def _grader_points_in_process(
    grader: Grader, root: Path, files: dict, keep: set[str] | None = None
) -> dict[str, float]:
    package = _import_package(root)
    cases = [c for c in _public_only(grader) if keep is None or c.call.module in keep]
    outcomes = []
    for c in cases:
        module = c.call.module
        if f"cnn.{module}" not in sys.modules:
            outcomes.append(Outcome("error", exception={"type": "ImportError"}))
            continue
        outcomes.append(execute(package, c.call, c.check_mutation and c.call.program == "call"))
    tests = grader._tests(cases, outcomes, banned_modules(files))
    return {
        t.item: t.score
        for t in tests
        if t.group == "public" and (keep is None or t.item.split(".")[0] in keep)
    }


def _write_package(files: dict[str, bytes], folder: Path) -> Path:
    (folder / "cnn").mkdir(parents=True)
    for name, data in files.items():
        (folder / "cnn" / name).write_bytes(data)
    if "_checks.py" not in files:
        shutil.copyfile(STUBS_DIR / "_checks.py", folder / "cnn" / "_checks.py")
    return folder


@pytest.fixture(scope="module")
def data():
    return json.loads(json.dumps(public_cases(Config()), allow_nan=True))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_local_public_points_equal_the_graders_on_the_audits_mutants_and_correct_code(
    data, tmp_path
):
    grader = _grader()
    # A mutant changes one module: its items (and the model, built from them) are compared.
    subs = [(mutant_submission(m), m.module) for m in load_mutants()]
    subs += [(correct_submission(c), None) for c in load_correct()]
    differ = []
    for sub, module in subs:
        root = _write_package(sub.files, tmp_path / sub.student)
        keep = None if module is None else {module, "model"}
        local = _local_points(root, data, keep)
        graded = _grader_points_in_process(grader, root, sub.files, keep)
        bad = {
            i: (local[i], graded.get(i, 0.0))
            for i in local
            if abs(local[i] - graded.get(i, 0.0)) > 1e-3
        }
        if bad:
            differ.append((sub.student, bad))
    assert not differ, differ[:5]
    assert len(subs) > 90


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_local_public_points_equal_the_graders_on_the_sample_class(data, tmp_path):
    """The grader here is the real engine with its sandbox, on the public cases."""
    grader = Grader(Config(), load_solutions(), [], detect())
    grader.cases = lambda student: _public_only(grader)  # type: ignore[method-assign]
    subs = discover([KIT_ROOT / "examples" / "sample-class"])
    assert len(subs) == 6
    # eve-broken's optimizers.py calls os._exit(1) when imported: that ends any local test run
    # (the handout's README says so), while the grader reports it and grades the rest.
    eve = [s for s in subs if s.student == "eve-broken"]
    assert b"os._exit(1)" in eve[0].files["optimizers.py"]
    for sub in subs:
        if sub is eve[0]:
            continue
        result = grader.grade(sub)
        graded = {t.item: t.score for t in result.tests if t.group == "public"}
        root = tmp_path / sub.student
        root.mkdir()
        materialise(sub, root)
        if not (root / "cnn" / "_checks.py").exists():
            shutil.copyfile(STUBS_DIR / "_checks.py", root / "cnn" / "_checks.py")
        local = _local_points(root, data)
        assert local == pytest.approx(graded, abs=1e-3), sub.student
