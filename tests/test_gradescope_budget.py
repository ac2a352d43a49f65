"""The Gradescope bundle's time budget and its progressive results.json.

The worst-case time on half a CPU is measured by benchmarks/bench_gradescope_budget.py (not
here: tests do not time things). These tests check the budget's configuration and that
results.json is valid, and says what was not graded, whenever the run is stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_config
from autograder.discover import discover
from autograder.engine import Grader
from autograder.lms.budget import (
    GRADESCOPE_LIMITS,
    GRADESCOPE_TIMEOUT,
    PENDING_TEST,
    bundle_config,
    explicit_limits,
    grade_progressively,
    worst_case_seconds,
)
from autograder.paths import KIT_ROOT, SOLUTIONS_DIR
from autograder.report import to_gradescope

STUBS = KIT_ROOT / "assignments" / "cnn"


def _hanging(dest: Path) -> Path:
    pkg = dest / "cnn"
    shutil.copytree(STUBS, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for path in pkg.glob("*.py"):
        text = re.sub(
            r"^( *)raise NotImplementedError\(.*\)$",
            r"\1while True:\n\1    pass",
            path.read_text(),
            flags=re.M,
        )
        path.write_text(text)
    return dest


def test_bundle_limits_fill_what_the_config_leaves_out(tmp_path):
    cfg_file = tmp_path / "grade.toml"
    cfg_file.write_text("[limits]\ncall_timeout = 9\n")
    cfg = bundle_config(load_config(cfg_file), explicit_limits(cfg_file))
    assert cfg.limits.call_timeout == 9.0  # the instructor's own value stands
    assert cfg.limits.submission_timeout == GRADESCOPE_LIMITS["submission_timeout"]
    assert cfg.limits.max_timeouts_per_item == 1 and isinstance(
        cfg.limits.max_timeouts_per_item, int
    )
    default = bundle_config(load_config(None), explicit_limits(None))
    assert worst_case_seconds(default) <= 0.6 * GRADESCOPE_TIMEOUT


def test_bundle_carries_its_budget_and_the_command_says_it(tmp_path):
    out = tmp_path / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope", "--out", str(out), "--secret", "s-1"])
    assert run.exit_code == 0, run.output
    assert "Time budget: 300 s per submission" in run.output
    with zipfile.ZipFile(out) as zf:
        cfg = zf.read("grade.toml").decode()
        script = zf.read("run_autograder").decode()
    assert "submission_timeout = 300.0" in cfg and "max_timeouts_per_item = 1" in cfg
    stop = int(re.search(r"AUTOGRADER_HARD_STOP:-(\d+)", script).group(1))
    assert worst_case_seconds(bundle_config(load_config(None), set())) < stop < 600


def test_results_are_complete_after_every_module(tmp_path):
    cfg_file = tmp_path / "grade.toml"
    keep = ["shapes.same_padding", "conv.pad2d", "activations.relu", "training.flatten"]
    cfg_file.write_text(
        "[points]\n" + "".join(f'"{k}" = 0\n' for k in load_config(None).points if k not in keep)
    )
    cfg = load_config(cfg_file)
    grader = Grader.create(cfg)
    shutil.copytree(SOLUTIONS_DIR, tmp_path / "ada" / "cnn")
    with open(tmp_path / "ada" / "cnn" / "conv.py", "a") as f:
        # Right for the default value, wrong for any other (an echo of x would earn nothing).
        f.write(
            "\n\ndef pad2d(x, pads, value=0.0):\n"
            "    (t, b), (l, r) = pads\n"
            "    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))\n"
        )
    (sub,) = discover([tmp_path / "ada"])
    snapshots: list[dict] = []
    final = grade_progressively(grader, sub, lambda d: snapshots.append(json.loads(json.dumps(d))))
    assert len(snapshots) == 5  # before grading, then after each of the 4 modules
    first = snapshots[0]
    assert [t["name"] for t in first["tests"]] == [PENDING_TEST]
    assert first["tests"][0]["max_score"] == sum(cfg.points[k] for k in keep)
    assert first["tests"][0]["status"] == "failed" and first["score"] == 0
    graded = [[t["name"] for t in d["tests"] if t["name"] != PENDING_TEST] for d in snapshots]
    for before, after in zip(graded, graded[1:], strict=False):
        assert after[: len(before)] == before and len(after) > len(before)
    for d in snapshots:  # the pending entry keeps the total at the full points
        assert sum(t["max_score"] for t in d["tests"]) == pytest.approx(
            sum(cfg.points[k] for k in keep)
        )
    assert "`conv.pad2d`" in snapshots[1]["tests"][-1]["output"]
    assert any(n.startswith("pad2d ") for n in graded[2])
    assert not any(t["name"] == PENDING_TEST for t in snapshots[-1]["tests"])
    whole = to_gradescope(Grader.create(cfg).grade(sub))

    def entries(d):
        return [(t["name"], t["score"], t["max_score"], t["status"]) for t in d["tests"]]

    assert entries(final) == entries(whole) and final["score"] == whole["score"]
    assert final["extra_data"]["fingerprint"] == whole["extra_data"]["fingerprint"]
    assert 0 < final["extra_data"]["item_scores"]["conv.pad2d"] < 2


@pytest.mark.slow
def test_a_killed_run_leaves_valid_partial_results(tmp_path):
    cfg_file = tmp_path / "grade.toml"
    cfg_file.write_text("[limits]\ncall_timeout = 1\nimport_timeout = 60\n")
    bundle = tmp_path / "autograder.zip"
    run = CliRunner().invoke(
        main, ["gradescope", "--out", str(bundle), "--config", str(cfg_file), "--secret", "s-2"]
    )
    assert run.exit_code == 0, run.output
    root = tmp_path / "autograder"
    for sub in ("source", "results"):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    _hanging(root / "submission")
    results = root / "results" / "results.json"
    proc = subprocess.Popen(
        ["bash", str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    seen: list[dict] = []
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                data = json.loads(results.read_text())  # valid at every moment
            except FileNotFoundError:
                time.sleep(0.05)
                continue
            assert isinstance(data["tests"], list)
            if not seen or data != seen[-1]:
                seen.append(data)
            if len(data["tests"]) > 1 and data["tests"][-1]["name"] == PENDING_TEST:
                break  # some functions graded, some not: stop it here, as Gradescope would
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    data = json.loads(results.read_text())
    assert data == seen[-1]
    pending = data["tests"][-1]
    assert pending["name"] == PENDING_TEST, "the run ended before it could be stopped mid-way"
    assert pending["status"] == "failed" and pending["visibility"] == "visible"
    graded = data["tests"][:-1]
    assert graded and all(t["status"] == "failed" and t["score"] == 0 for t in graded)
    assert data["score"] == 0
    total = sum(t["max_score"] for t in data["tests"])
    assert total == pytest.approx(100)


@pytest.mark.parametrize("folder", ["sample-class", "sample-class-part2"])
def test_the_progressive_route_judges_exactly_as_grade_run(folder, tmp_path, monkeypatch):
    """One sandbox run, judged module by module as the outcomes arrive: the tests are the ones
    `grade run`'s single judging of the same outcomes gives (every case, message and score)."""
    from autograder.lms import budget
    from autograder.paths import EXAMPLES_DIR
    from autograder.static import banned_modules

    cfg_file = tmp_path / "grade.toml"  # both parts (module model comes twice); no training run
    cfg_file.write_text(
        '[grading]\nparts = ["forward", "backward"]\n[points]\n"model.train_lecture_model" = 0\n'
    )
    grader = Grader.create(load_config(cfg_file))
    student = "dan-mistakes" if folder == "sample-class" else "lou-mistakes"
    (sub,) = discover([EXAMPLES_DIR / folder / student])
    seen = []
    original = budget._Partial.tests

    def compare(self, cases, outcomes):
        tests = original(self, cases, outcomes)
        seen.append(tests == grader._tests(cases, outcomes, banned_modules(sub.files)))
        return tests

    monkeypatch.setattr(budget._Partial, "tests", compare)
    writes: list[dict] = []
    final = grade_progressively(grader, sub, writes.append)
    assert seen == [True]
    assert writes[-1] == final and len(writes) == len(budget.chunks(grader.items)) + 1
    lost = [t["score"] < t["max_score"] for t in final["tests"]]
    assert any(lost) and not all(lost)  # the student loses some points, not all
