"""Scores an instructor can defend: nothing for doing nothing, the contract's ValueErrors only,
hidden results hidden, grader failures "not graded" and retried, resume on a kit digest, lost
points told, totals without float artifacts. No sandbox here (the audit grades the adversaries
with the real engine: tests/test_audit.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from autograder import batch as batch_mod
from autograder import engine as engine_mod
from autograder.cases import Call, Case, Close, Property, Raises
from autograder.config import Config
from autograder.discover import Submission
from autograder.engine import Grader, lost_points
from autograder.report import to_gradescope
from autograder.results import GraderFailure, SubmissionResult, points, total
from autograder.sandbox.inprocess import execute
from autograder.sandbox.runner import Outcome, RunReport
from autograder.trivial import discriminating, works

# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def grader():
    return Grader.create(Config(secret="scores-test-secret"))


def _close(value, *args, item="activations.relu", program="call"):
    return Case(item, "c", Call(program, item, tuple(args)), Close(value))


def reference_outcomes(grader, cases):
    """What the reference solutions answer, through the worker's own code, in this process."""
    return [execute(grader.ref, c.call, mutation=False) for c in cases]


def student_view(results: dict) -> dict:
    """What a student sees on Gradescope before the due date: the top-level output (when its
    visibility is 'visible'), the tests whose visibility is 'visible' (name, score, output), and
    the total only when no test is hidden (Gradescope hides it otherwise)."""
    tests = results.get("tests", [])
    shown = [t for t in tests if t.get("visibility", results.get("visibility")) == "visible"]
    view = {
        "output": results.get("output") if results.get("visibility") == "visible" else None,
        "tests": [(t["name"], t["score"], t["max_score"], t.get("output")) for t in shown],
    }
    if len(shown) == len(tests):
        view["score"] = results.get("score")
    return view


# ----------------------------------------------------------------------------- nothing for nothing


def test_what_an_answer_computing_nothing_can_pass(grader):
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert discriminating(_close(np.maximum(x, 0), x), grader.ref)
    assert not discriminating(_close(np.zeros((2, 2)), x), grader.ref)  # zeros
    assert not discriminating(_close(np.full((2, 2), 0.25), x), grader.ref)  # a constant
    assert not discriminating(_close(x.copy(), x), grader.ref)  # the input echoed
    assert not discriminating(_close(np.zeros((0, 3)), x), grader.ref)  # empty
    assert not discriminating(_close(7, 9, 3, item="shapes.conv_output_length"), grader.ref)
    raises = Case("activations.relu", "r", Call("call", "activations.relu", (x,)), Raises())
    prop = Case(
        "activations.relu",
        "p",
        Call("call", "activations.relu", (x,)),
        Property(lambda out: None, "anything"),
        oracle="property",
    )
    assert not discriminating(raises, grader.ref) and not discriminating(prop, grader.ref)


def test_scalar_functions_must_get_two_different_answers_right(grader):
    a = _close(7, 9, 3, item="shapes.conv_output_length")
    b = _close(4, 9, 6, item="shapes.conv_output_length")
    echo = _close(9, 9, 1, item="shapes.conv_output_length")  # 'same' size = the input
    assert not works([(a, False)])
    assert not works([(a, False), (replace(a, name="again"), False)])
    assert not works([(a, False), (echo, False)])
    assert works([(a, False), (b, False)])


def test_an_optimizer_or_callback_that_does_nothing_passes_nothing(grader):
    cases = grader.cases("someone")
    optim = [c for c in cases if c.call.program == "optimizer" and isinstance(c.expect, Close)]
    stops = [c for c in cases if c.call.program == "early_stopping" and isinstance(c.expect, Close)]
    assert optim and stops
    # (a Keras-bank case with |g| ~ 1e-3 moves the parameters by less than the tolerance: a
    # no-op passes it, so it counts only beside a case the optimizer really passes)
    assert all(discriminating(c, grader.ref) for c in optim if c.oracle == "reference")
    assert sum(not discriminating(c, grader.ref) for c in optim) <= 2
    assert sum(discriminating(c, grader.ref) for c in stops) >= len(stops) - 2


def test_every_item_has_cases_only_a_real_computation_passes(grader):
    cases = grader.cases("someone")
    for group in ("public", "hidden"):
        for item in grader.items:
            mine = [c for c in cases if c.item == item and c.group == group]
            outcomes = reference_outcomes(grader, mine)
            passed = [
                (c, discriminating(c, grader.ref)) for c in mine if isinstance(c.expect, Close)
            ]
            assert works(passed), (item, group)
            assert len(outcomes) == len(mine)


def test_a_constant_answer_earns_nothing_even_where_its_cases_pass(grader):
    """relu answering zeros passes the planned all-negative inputs: those do not count."""
    cases = [c for c in grader.cases("someone") if c.item == "activations.relu"]
    outcomes = []
    for c in cases:
        if isinstance(c.expect, Close) and isinstance(c.expect.value, np.ndarray):
            outcomes.append(Outcome("ok", value=np.zeros_like(c.expect.value), inputs_after=None))
        else:
            outcomes.append(Outcome("ok", value=np.asarray(0.0)))
    tests = grader._tests(cases, outcomes, {})
    assert sum(t.score for t in tests) == 0
    reasons = {c.message for t in tests for c in t.cases if not c.passed}
    assert any(r.startswith("not counted yet") for r in reasons) or all(
        not c.passed for t in tests for c in t.cases
    )


# ----------------------------------------------------------------------------- the contract only

# The contract's list of graded invalid arguments (exercise-api.md, "Precise rules"), as the
# suite labels them. Every ValueError case must be one of these.
CONTRACT_VALUE_ERRORS = [
    r"stride 0",
    r"pool_size 0",
    r"kernel_size 0",
    r"a kernel size of 0",
    r"a stride of 0",
    r"in_channels 0",
    r"filters 0",
    r"units 0",
    r"in_features 0",  # sizes < 1
    r"unknown padding",
    r"'valid' (dilated kernel|window) larger than the input",
    r"stride > 1 with dilation > 1",
    r"kernel with \d+ input channels for x with \d+",
    r"x \(2, \d+\), kernel \(\d+, 3\)",
    r"x not \d-D",
    r"bias of the wrong shape",
    r"bias \(4,\) for kernel \(3, 3\)",
    r"a negative pad",
    r"rate=1\.0",
    r"mask of shape .* for x .*",
    r"momentum=1\.5",
    r"momentum=-0\.1",
    r"learning_rate=-0\.001",
    r"epsilon=-1e-0?7",
    r"grads\[0\] has shape .*",
    r"2 grads for 1 param",
    r"mode='minimum'",
    r"patience=-1",
    r"batch_size=0",
    r"5 weight arrays",
    r"conv2 kernel \(3, 3, 32, 32\)",
]


def test_every_graded_value_error_is_in_the_contracts_list(grader):
    from autograder.oracle.bank import load_bank

    seen = set()
    for student in ("a", "b", "c", "d"):
        for case in grader.cases(student) + load_bank():
            if isinstance(case.expect, Raises):
                why = re.sub(r"^invalid: ", "", case.name)
                why = re.sub(r" \((x|input_length|kernel_size|layers|in_features).*\)$", "", why)
                assert any(re.fullmatch(p, why) for p in CONTRACT_VALUE_ERRORS), (case.item, why)
                seen.add(case.item)
    assert "activations.leaky_relu" not in seen  # negative_slope='0.2' is not graded
    assert len(seen) >= 20


# ----------------------------------------------------------------------------- hidden is hidden


def test_submissions_differing_only_on_hidden_cases_look_the_same_before_the_due_date(grader):
    cases = [c for c in grader.cases("someone") if c.item.startswith(("conv.", "shapes."))]
    right = reference_outcomes(grader, cases)
    # B fails every hidden case of conv2d and receptive_field (but the public ones pass).
    wrong = [
        Outcome("ok", value="wrong")
        if c.group == "hidden" and c.item in ("conv.conv2d", "shapes.receptive_field")
        else o
        for c, o in zip(cases, right, strict=True)
    ]
    views, scores = [], []
    for outcomes in (right, wrong):
        result = SubmissionResult(
            "s", "o", tests=grader._tests(cases, outcomes, {}), isolation="namespaces+user"
        )
        data = json.loads(json.dumps(to_gradescope(result)))
        views.append(student_view(data))
        scores.append(data["score"])
    assert scores[0] > scores[1]  # the hidden cases do decide the grade
    assert views[0] == views[1]
    assert "score" not in views[0]  # the total is hidden while hidden tests exist
    assert "Score:" not in views[0]["output"]


def test_the_visible_output_counts_only_visible_tests():
    from autograder.results import CaseResult, TestResult

    pub = TestResult(
        "conv.conv2d",
        "public",
        2.5,
        "visible",
        [CaseResult("conv.conv2d", "a", "public", "reference", True)],
    )
    hid = TestResult(
        "conv.conv2d",
        "hidden",
        7.5,
        "after_due_date",
        [CaseResult("conv.conv2d", "b", "hidden", "reference", False)],
    )
    data = to_gradescope(SubmissionResult("s", "o", tests=[pub, hid]))
    assert data["output"].startswith("Visible tests: 2.5 / 2.5 points.")
    assert data["score"] == 2.5
    everything = to_gradescope(
        SubmissionResult("s", "o", tests=[pub, replace(hid, visibility="visible")])
    )
    assert everything["output"].startswith("Score: 2.5 / 10.")


# ----------------------------------------------------------------------------- grader failures


def test_a_worker_that_never_started_is_the_graders_failure(grader, monkeypatch):
    def no_worker(package, calls, *args, **kwargs):
        why = "importing it ended the worker: it exited with status 126"
        return RunReport(
            [Outcome("skipped", detail="x") for _ in calls], import_errors={"?": why, "*": why}
        )

    monkeypatch.setattr(engine_mod, "run_calls", no_worker)
    sub = Submission("ada", "here", {"relu.py": b""})
    with pytest.raises(GraderFailure, match="could not be started"):
        grader.grade(sub)


def test_not_graded_is_never_cached_and_a_rerun_retries(tmp_path, monkeypatch):
    subs = tmp_path / "class"
    for name in ("ok", "unlucky"):
        (subs / name / "cnn").mkdir(parents=True)
        (subs / name / "cnn" / "shapes.py").write_text("X = 1\n")
    calls = []
    broken = {"unlucky"}

    def fake_grade(self, sub):
        calls.append(sub.student)
        if sub.student in broken:
            raise GraderFailure("the sandbox worker could not be started (status 126)")
        return SubmissionResult(sub.student, sub.origin, fingerprint=self.fingerprint(sub))

    monkeypatch.setattr(batch_mod.Grader, "grade", fake_grade)
    out = tmp_path / "out"
    summary = batch_mod.grade_batch([subs], out, Config(secret="s"))
    assert summary.failed == ["unlucky"]
    data = json.loads((out / "unlucky" / "results.json").read_text())
    assert data["extra_data"]["status"] == "not graded"
    assert "could not be started" in data["extra_data"]["error"]
    assert "not your grade" in data["output"]
    gradebook = (out / "gradebook.csv").read_text()
    assert "unlucky,not graded," in gradebook
    assert "could not be started" in (out / "unlucky" / "feedback.md").read_text()
    calls.clear()
    broken.clear()
    summary = batch_mod.grade_batch([subs], out, Config(secret="s"))
    assert calls == ["unlucky"] and summary.skipped == ["ok"] and not summary.failed
    assert "unlucky,0," in (out / "gradebook.csv").read_text()


def test_cli_run_exits_3_when_some_submission_was_not_graded(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import EXIT_NOT_GRADED, main

    (tmp_path / "s" / "cnn").mkdir(parents=True)
    (tmp_path / "s" / "cnn" / "shapes.py").write_text("X = 1\n")

    def failing(self, sub):
        raise GraderFailure("the sandbox worker could not be started")

    monkeypatch.setattr(batch_mod.Grader, "grade", failing)
    result = CliRunner().invoke(main, ["run", str(tmp_path / "s"), "--out", str(tmp_path / "o")])
    assert result.exit_code == EXIT_NOT_GRADED == 3
    assert "Not graded" in result.output and "retry" in result.output


# ----------------------------------------------------------------------------- resume digest


def test_the_fingerprint_follows_the_kit_not_the_version(grader, monkeypatch, tmp_path):
    import autograder

    sub = Submission("ada", "here", {"shapes.py": b"X = 1\n"})
    before = grader.fingerprint(sub)
    monkeypatch.setattr(autograder, "__version__", "9.9.9")
    assert grader.fingerprint(sub) == before
    root = tmp_path / "kit"
    (root / "autograder" / "suite").mkdir(parents=True)
    (root / "solutions" / "cnn").mkdir(parents=True)
    (root / "assignments" / "cnn").mkdir(parents=True)
    suite_file = root / "autograder" / "suite" / "conv.py"
    suite_file.write_text("A = 1\n")
    (root / "solutions" / "cnn" / "conv.py").write_text("B = 1\n")
    monkeypatch.setattr(engine_mod, "KIT_ROOT", root)
    monkeypatch.setattr(engine_mod, "SOLUTIONS_DIR", root / "solutions" / "cnn")
    monkeypatch.setattr(engine_mod, "STUBS_DIR", root / "assignments" / "cnn")
    digests = []
    for change in (None, suite_file, root / "solutions" / "cnn" / "conv.py"):
        if change is not None:
            change.write_text(change.read_text() + "# changed\n")
        engine_mod.kit_digest.cache_clear()
        digests.append(grader.fingerprint(sub))
    engine_mod.kit_digest.cache_clear()
    assert len(set(digests)) == 3 and before not in digests
    # the class report's own code decides no score: changing it regrades nobody
    report_file = root / "autograder" / "summary.py"
    report_file.write_text("C = 1\n")
    engine_mod.kit_digest.cache_clear()
    unchanged = grader.fingerprint(sub)
    report_file.write_text("C = 2\n")
    engine_mod.kit_digest.cache_clear()
    assert grader.fingerprint(sub) == unchanged == digests[-1]
    engine_mod.kit_digest.cache_clear()


# ------------------------------------------------------------------- lost points, rounding


def test_every_cause_of_lost_points_is_a_problem(grader):
    cases = [c for c in grader.cases("someone") if c.item == "conv.conv2d"][:6]
    outcomes = [
        Outcome("timeout", detail="it did not finish"),
        Outcome("crashed", detail="the worker process died"),
        Outcome("skipped", detail="not run: the submission's time budget ran out"),
        Outcome("skipped", detail="skipped: earlier cases of this function ran out of time"),
        Outcome("ok", value=1.0),
        Outcome("error", exception={"type": "ValueError"}),
    ]
    found = [why for _, why in lost_points(cases, outcomes, grader.config.limits)]
    text = " ".join(found)
    for cause in ("ran out of time", "ended the worker", "time budget", "hung"):
        assert cause in text, (cause, found)
    assert len(found) == 4


def test_totals_are_the_rounded_sum_of_the_rounded_parts():
    assert total([0.1, 0.2]) == 0.3
    parts = [99.32759999999999 / 3] * 3
    assert total(parts) == points(sum(points(p) for p in parts))
    assert repr(total([33.1092, 33.1092, 33.1092])) == "99.3276"


def test_gradescope_shows_the_same_before_the_due_date_for_code_differing_on_hidden_cases():
    """End to end (sandbox included): a receptive_field that is wrong only for an empty stack
    (a hidden case; the public stacks are never empty) against the reference."""
    from autograder.audit.corpus import _package_files
    from autograder.paths import SOLUTIONS_DIR

    cfg = Config(secret="scores-test-secret")
    cfg.points = {item: (p if item.startswith("shapes.") else 0) for item, p in cfg.points.items()}
    grader = Grader.create(cfg)
    right = _package_files(SOLUTIONS_DIR)
    wrong = dict(right)
    source = right["shapes.py"].decode()
    marker = "    rf, jump = 1, 1\n"
    assert source.count(marker) == 1
    wrong["shapes.py"] = source.replace(
        marker, "    if not pairs:\n        return 0\n" + marker
    ).encode()
    results = [
        json.loads(json.dumps(to_gradescope(grader.grade(Submission("s", "o", files)))))
        for files in (right, wrong)
    ]
    assert results[0]["score"] > results[1]["score"]
    assert student_view(results[0]) == student_view(results[1])
