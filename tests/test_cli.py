"""`grade run` end to end on a small class built from the solutions and the stubs."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import DEFAULT_POINTS
from autograder.paths import SOLUTIONS_DIR, STUBS_DIR


def student(root: Path, name: str, source: Path = SOLUTIONS_DIR, **edits: str) -> Path:
    """A submission folder ``root/name/cnn`` copied from ``source`` with module ``edits``
    (``module="old>>>new"`` replaces text, ``module=":text"`` replaces the whole file)."""
    pkg = root / name / "cnn"
    shutil.copytree(source, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for module, edit in edits.items():
        path = pkg / f"{module}.py"
        if edit.startswith(":"):
            path.write_text(edit[1:])
        else:
            old, new = edit.split(">>>")
            text = path.read_text()
            assert old in text, f"{old!r} not in {module}.py"
            path.write_text(text.replace(old, new))
    return pkg


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    student(root, "perfect")
    student(root, "empty", STUBS_DIR)
    student(
        root,
        "flipped",
        conv='kernel = _checks.as_array(kernel, "kernel", ndim=4)>>>'
        'kernel = _checks.as_array(kernel, "kernel", ndim=4)[::-1, ::-1]',
    )
    student(
        root,
        "broken",
        STUBS_DIR,
        conv=":def conv2d(:\n",
        pooling=":import os\nos._exit(3)\n",
        shapes=":import tensorflow as tf\n",
    )
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["run", str(root), "--out", str(out), "--jobs", "2"])
    return root, out, result


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_the_batch_is_graded_and_exits_zero(graded):
    _, out, result = graded
    assert result.exit_code == 0, result.output
    assert "Graded 4 submission(s)" in result.output
    book = gradebook(out)
    mean = sum(float(r["score"]) for r in book.values()) / len(book)
    assert f"All 4 student(s) in {out}: mean score {mean:.1f} / 100" in result.output
    assert f"class report: {out / 'summary.html'}" in result.output
    assert "with problems in their submission, 0 not graded." in result.output
    assert set(book) == {"perfect", "empty", "flipped", "broken"}
    assert list(next(iter(book.values())))[:3] == ["student", "score", "max_score"]
    assert list(next(iter(book.values())))[3:] == list(DEFAULT_POINTS)


def test_scores(graded):
    _, out, _ = graded
    book = gradebook(out)
    assert float(book["perfect"]["score"]) == 100.0
    assert float(book["empty"]["score"]) == 0.0
    flipped = book["flipped"]
    assert float(flipped["conv.conv2d"]) < DEFAULT_POINTS["conv.conv2d"]
    assert float(flipped["conv.conv1d"]) == DEFAULT_POINTS["conv.conv1d"]
    assert 50 < float(flipped["score"]) < 100
    assert float(book["broken"]["score"]) == 0.0


def test_results_json_follows_gradescope_schema(graded):
    _, out, _ = graded
    data = json.loads((out / "flipped" / "results.json").read_text())
    assert {"score", "tests", "output"} <= set(data)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "visibility", "output"} <= set(test)
        assert test["visibility"] in ("visible", "after_due_date")
        assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=1e-3)
    feedback = (out / "flipped" / "feedback.md").read_text()
    assert "conv2d" in feedback


def test_broken_submission_gets_clear_entries(graded):
    _, out, _ = graded
    data = json.loads((out / "broken" / "results.json").read_text())
    problems = " ".join(data["extra_data"]["problems"])
    assert "conv.py could not be imported" in problems and "SyntaxError" in problems
    assert "pooling.py could not be imported" in problems
    assert "TensorFlow" in problems


def test_rerun_regrades_nothing_and_force_regrades(graded):
    root, out, _ = graded
    before = (out / "gradebook.csv").read_text()
    again = CliRunner().invoke(
        main, ["run", str(root / "perfect"), str(root / "empty"), "--out", str(out)]
    )
    assert again.exit_code == 0 and "Graded 0 submission(s), skipped 2" in again.output
    forced = CliRunner().invoke(main, ["run", str(root / "empty"), "--out", str(out), "--force"])
    assert "Graded 1 submission(s)" in forced.output
    assert before.count("\n") == 5


def test_shards_merge_into_the_unsharded_gradebook(graded, tmp_path):
    root, out, _ = graded
    shards = []
    for k in (1, 2, 3):
        shard = tmp_path / f"shard{k}"
        result = CliRunner().invoke(
            main, ["run", str(root), "--out", str(shard), "--shard", f"{k}/3"]
        )
        assert result.exit_code == 0, result.output
        shards.append(str(shard))
    merged = tmp_path / "merged"
    result = CliRunner().invoke(main, ["merge", *shards, "--out", str(merged)])
    assert result.exit_code == 0, result.output
    assert (merged / "gradebook.csv").read_text() == (out / "gradebook.csv").read_text()


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "/no/such/folder", "--out", "x"], "No such file or folder"),
        (["run", ".", "--out", "x", "--shard", "4/3"], "1 <= K <= N"),
        (["merge", "/no/such/shard", "--out", "x"], "No such shard output folder"),
    ],
)
def test_instructor_errors_are_one_sentence(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert words in result.output and "Traceback" not in result.output


def test_nothing_gradable_is_an_instructor_error(tmp_path):
    (tmp_path / "class" / "someone").mkdir(parents=True)
    (tmp_path / "class" / "someone" / "notes.pdf").write_bytes(b"%PDF")
    result = CliRunner().invoke(
        main, ["run", str(tmp_path / "class"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "No submissions found" in result.output


# Appended to a correct model.py: the model's calls fail if the WORKER has a framework loaded.
WORKER_PROBE = """


def _no_frameworks():
    import sys

    names = ("tensor" + "flow", "ker" + "as", "tor" + "ch", "ja" + "x")  # no banned literal
    bad = [m for m in names if m in sys.modules]
    if bad:
        raise RuntimeError(f"the worker has {bad} imported")


_forward = lecture_model_forward


def lecture_model_forward(*args, **kwargs):
    _no_frameworks()
    return _forward(*args, **kwargs)
"""


def test_grading_never_imports_tensorflow(tmp_path):
    root = tmp_path / "class"
    student(root, "perfect", model=":" + (SOLUTIONS_DIR / "model.py").read_text() + WORKER_PROBE)
    # A run-time import the static check cannot see: the worker must refuse it.
    student(
        root,
        "sneaky",
        activations="return np.maximum(x, 0.0)>>>"
        "__import__('importlib').import_module('tensor' + 'flow')\n"
        "    return np.maximum(x, 0.0)",
    )
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from autograder.cli import main\n"
        f"r = CliRunner().invoke(main, ['run', {str(root)!r}, '--out', {str(out)!r}, '-j', '2'])\n"
        "assert r.exit_code == 0, r.output\n"
        "bad = [m for m in ('tensorflow', 'keras', 'torch', 'jax') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "IMPORTED []" in run.stdout
    book = gradebook(out)
    # The probe ran in the worker on every model case and found no framework there.
    assert float(book["perfect"]["score"]) == 100.0
    # The worker refused TensorFlow at run time: relu earns nothing, the feedback says why.
    assert float(book["sneaky"]["activations.relu"]) == 0.0
    assert float(book["sneaky"]["activations.sigmoid"]) == DEFAULT_POINTS["activations.sigmoid"]
    results = (out / "sneaky" / "results.json").read_text()
    assert "tensorflow may not be used" in results
