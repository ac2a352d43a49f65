"""The mutation audit: the corpus is well-formed, and the real engine meets the issue's targets.

The real engine grades the corpus in the sandbox twice, with :func:`run_audit` itself:

- ``audit``: every forward mutant under its own student id (killed, named, the report), with the
  reference solutions as the perfect submission its collateral losses are measured against;
- ``audit_ids``: under 4 student ids (``AUDIT_IDS``), every correct implementation and every
  computes-nothing adversary (both graded on every item) and, for each module, the killed mutant
  that passes the largest share of its item's cases (the one whose being caught depends most on
  the drawn values).

``grade audit`` itself grades everything under 4 ids; grading the 96 mutants 4 times was most of
this file's time (about 270 s of it).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from autograder.audit.corpus import (
    CorpusError,
    Mutant,
    apply_patch,
    load_correct,
    load_mutants,
    mutant_submission,
)
from autograder.audit.report import markdown, write_report
from autograder.audit.runner import TARGET_NAMED, run_audit
from autograder.cli import main
from autograder.config import part_of
from autograder.paths import ALL_MODULES, SOLUTIONS_DIR
from autograder.stubs import make_stub
from autograder.topics import GENERATORS, MISTAKES


def test_corpus_is_large_covers_every_module_and_names_known_mistakes():
    mutants = load_mutants()
    assert len(mutants) >= 40
    assert {m.module for m in mutants} == set(ALL_MODULES)  # part 2's modules too
    assert {m.item for m in mutants} <= set(GENERATORS)
    for m in mutants:
        assert m.mistake is None or m.mistake in MISTAKES, m.id
    named = [m for m in mutants if m.mistake]
    assert len(named) >= 0.9 * len(mutants)
    correct = load_correct()
    assert len({c.name for c in correct}) >= 4


@pytest.mark.parametrize("mutant", load_mutants(), ids=lambda m: m.id)
def test_every_mutant_changes_only_its_student_region(mutant):
    original = (SOLUTIONS_DIR / f"{mutant.module}.py").read_text(encoding="utf-8")
    patched = mutant_submission(mutant).files[f"{mutant.module}.py"].decode("utf-8")
    assert patched != original
    compile(patched, f"{mutant.module}.py", "exec")
    # The stub (everything but the student regions) is the same: the given code is untouched.
    assert make_stub(patched, mutant.module) == make_stub(original, mutant.module)


def test_a_patch_that_does_not_apply_is_one_clear_error():
    source = (SOLUTIONS_DIR / "activations.py").read_text(encoding="utf-8")
    bad = Mutant("x", "activations", "relu", "activations.relu", None, "", [("nope", "yes")])
    with pytest.raises(CorpusError, match="exactly once"):
        apply_patch(source, bad)
    missing = Mutant("y", "activations", "nothing", "activations.relu", None, "", region="1")
    with pytest.raises(CorpusError, match="no student region"):
        apply_patch(source, missing)


@pytest.fixture(scope="module")
def audit():
    """Every forward mutant, under one student id (the spread is ``audit_ids``'s)."""
    reference = [c for c in load_correct() if c.name == "reference"]
    assert reference, "the corpus has the reference solutions as a correct implementation"
    return run_audit(jobs=2, ids=1, correct=reference, nothing=False)


def representative(audit) -> list[Mutant]:
    """Per module, the killed mutant that passes the largest share of its item's cases (the one
    whose being caught depends most on the drawn values); ties go to the first id."""
    by_id = {m.id: m for m in load_mutants()}
    best: dict[str, object] = {}
    for m in sorted(audit.mutants, key=lambda m: m.id):
        kept = best.get(m.module)
        if m.killed and (kept is None or m.failing / m.cases < kept.failing / kept.cases):
            best[m.module] = m
    return [by_id[m.id] for m in sorted(best.values(), key=lambda m: m.id)]


@pytest.fixture(scope="module")
def audit_ids(audit):
    """Under AUDIT_IDS student ids: every correct implementation, every computes-nothing
    adversary, and one representative mutant per module."""
    return run_audit(jobs=2, mutants=representative(audit))


def test_every_mutant_is_killed(audit):
    survivors = [m.id for m in audit.mutants if not m.killed]
    assert not audit.errors, audit.errors
    assert survivors == []
    per_item = audit.per_item()
    assert all(row["killed"] == row["mutants"] for row in per_item.values())


def test_no_correct_implementation_loses_a_point(audit, audit_ids):
    assert {c.name for c in audit_ids.correct} >= {c.name for c in audit.correct}
    assert len(audit_ids.correct) >= 4
    for c in audit_ids.correct + audit.correct:
        assert c.max_score == pytest.approx(100.0), c.name
        assert c.score == c.max_score, (c.name, c.failures[:5])
        assert not c.error, (c.name, c.error)
    assert audit_ids.false_failures == audit.false_failures == 0


def test_most_mistakes_are_named(audit, audit_ids):
    assert audit.named_share >= TARGET_NAMED, [
        (m.id, m.expected, m.named_ids) for m in audit.expected_named if not m.named
    ]
    assert audit.targets_met
    assert audit_ids.targets_met


def test_report_files(audit, tmp_path):
    json_path, md_path = write_report(audit, tmp_path / "rep")
    data = json.loads(json_path.read_text())
    assert data["summary"]["killed"] == len(audit.mutants) == data["summary"]["mutants"]
    assert len(data["mutants"]) == len([m for m in load_mutants() if part_of(m.item) == "forward"])
    text = md_path.read_text()
    assert "Targets met" in text
    assert markdown(audit) == text


def test_cli_audit_reports_and_refuses_a_file_as_out(tmp_path, monkeypatch):
    from autograder.audit import runner

    calls = {}

    def fake_run_audit(**kwargs):
        calls.update(kwargs)
        return runner.Audit([], [], "test", 0.0, [])

    monkeypatch.setattr(runner, "run_audit", fake_run_audit)
    result = CliRunner().invoke(main, ["audit", "--out", str(tmp_path / "a"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "Mutants killed 0/0" in result.output
    assert (tmp_path / "a" / "audit.md").is_file()
    assert calls["jobs"] == 1
    afile = tmp_path / "f"
    afile.write_text("x")
    result = CliRunner().invoke(main, ["audit", "--out", str(afile)])
    assert result.exit_code == 1
    assert "not a folder" in result.output


def test_scores_do_not_depend_on_the_student_id_and_nothing_earns_nothing(audit, audit_ids):
    assert audit_ids.ids >= 4
    assert not audit_ids.errors, audit_ids.errors
    assert audit_ids.unequal == [], audit_ids.unequal
    assert audit_ids.max_spread == 0
    # Every module has a failing submission among those graded under every id; the correct
    # implementations and the adversaries are graded on every item.
    assert {m.module for m in audit_ids.mutants} == {m.module for m in audit.mutants}
    assert {m.item for m in audit.mutants} <= set(audit_ids.items)
    assert all(m.killed for m in audit_ids.mutants)
    # The same code scores the same in both gradings (its own id is the first of the 4).
    first = {m.id: (m.item_score, m.failing) for m in audit.mutants}
    assert {m.id: (m.item_score, m.failing) for m in audit_ids.mutants} == {
        m.id: first[m.id] for m in audit_ids.mutants
    }
    assert {n.kind for n in audit_ids.nothing} == {"zeros", "ones", "uniform", "echo"}
    for n in audit_ids.nothing:
        assert n.score == 0, (n.kind, n.items)
        assert n.max_score == pytest.approx(100.0)


ZEROED = (
    "shapes.conv_output_length",
    "conv.conv2d",
    "pooling.max_pool2d",
    "activations.relu",
    "optimizers.SGD",
    "regularization.dropout",
    "regularization.EarlyStopping",
    "training.dense",
)


def test_a_function_that_answers_zeros_earns_nothing_for_its_item():
    from autograder.audit.nothing import functions_zeroed
    from autograder.audit.runner import audit_config
    from autograder.engine import Grader

    result = Grader.create(audit_config()).grade(functions_zeroed(*ZEROED))
    assert not result.error, result.error
    scores = result.item_scores()
    for item in ZEROED:
        assert scores[item] == 0, (item, scores[item])
    # Items the zeroed functions do not feed keep their points.
    for item in ("activations.sigmoid", "shapes.dense_param_count", "optimizers.Adam"):
        assert scores[item] == audit_config().points[item], item
