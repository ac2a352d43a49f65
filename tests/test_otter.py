"""`grade gradescope --otter`: the otter-grader bundle grades like `grade run` and trusts nothing
from the upload.

`otter run` takes several seconds per submission (it starts a Jupyter kernel), so these are
marked slow; they stay in the suite. They need otter-grader[grading]==7.0.0 and fail without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_config
from autograder.paths import SOLUTIONS_DIR

SECRET = "otter-test-secret-41d7"
WRONG_CONV = """

_right_conv2d = conv2d


def conv2d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    return _right_conv2d(x, kernel[::-1, ::-1], bias, stride, padding, dilation)
"""
# What a student would plant: a verdicts file claiming 100x every item's points.
PLANTED = json.dumps(
    {
        "results": {"score": 3700, "tests": [{"name": "x", "score": 3700, "max_score": 1}]},
        "items": {k.replace(".", "__"): 100.0 for k in load_config(None).points},
        "score": 3700,
    }
)
# Run otter like `otter run` does, with the plugin's engine replaced by one that is killed at
# once (as an out-of-memory kill would end it).
KILLED_ENGINE_RUN = """
import sys
import autograder.lms.otter_plugin as plugin
plugin.ENGINE_CODE = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
from otter.run import main
main(sys.argv[1], autograder=sys.argv[2], output_dir=sys.argv[3], no_logo=True)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def otter_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("otter") / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope", "--otter", "--out", str(out), "--secret", SECRET])
    assert run.exit_code == 0, run.output
    return out


def _submission_zip(folder: Path, kind: str, name: str = "submission") -> Path:
    pkg = folder / "src" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, pkg)
    if kind == "wrong":
        with open(pkg / "conv.py", "a") as f:
            f.write(WRONG_CONV)
    path = folder / f"{name}.zip"
    prefix = "" if kind == "loose" else "cnn/"
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(pkg.glob("*.py")):
            zf.write(p, f"{prefix}{p.name}")
        if kind == "planted":
            zf.writestr("kit_results.json", PLANTED)
    return path


def _otter_run(bundle: Path, sub: Path, tmp_path: Path, code: str | None = None, env=None):
    out = tmp_path / "otter-out"
    out.mkdir()
    if code is None:
        cmd = [str(Path(sys.executable).with_name("otter")), "run", "-a", str(bundle), str(sub)]
        cmd += ["-o", str(out), "--no-logo"]
    else:
        cmd = [sys.executable, "-c", code, str(sub), str(bundle), str(out)]
    import os

    run = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads((out / "results.json").read_text())


def _grade_run(sub: Path, tmp_path: Path) -> dict:
    grades = tmp_path / "grades"
    run = CliRunner().invoke(
        main, ["run", str(sub), "--out", str(grades)], env={"CNN_GRADE_SECRET": SECRET}
    )
    assert run.exit_code == 0, run.output
    (student,) = [p for p in grades.iterdir() if (p / "results.json").is_file()]
    return json.loads((student / "results.json").read_text())


def test_bundle_has_one_test_file_per_item_and_the_kit(otter_bundle):
    cfg = load_config(None)
    with zipfile.ZipFile(otter_bundle) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
        env = zf.read("environment.yml").decode()
        tests = {n for n in names if n.startswith("tests/")}
        one_test = zf.read(sorted(tests)[0]).decode()
    assert len(tests) == sum(1 for p in cfg.points.values() if p > 0)
    assert {
        "autograder/engine.py",
        "solutions/cnn/conv.py",
        "grade.toml",
        "files/cnn_otter_entry.ipynb",
    } <= names
    assert config["plugins"] == ["autograder.lms.otter_plugin.KitPlugin"]
    assert "python=3.11" in env and "numpy==" in env
    # the test files read nothing (no file the upload could plant) and fail without the plugin
    assert "open(" not in one_test and "raise AssertionError" in one_test


@pytest.mark.parametrize("kind", ["correct", "wrong", "loose"])
def test_otter_run_gives_the_kit_results_of_grade_run(otter_bundle, tmp_path, kind):
    sub = _submission_zip(tmp_path, kind, name="ada")
    got = _otter_run(otter_bundle, sub, tmp_path, env={"CNN_OTTER_STUDENT": "ada"})
    want = _grade_run(sub, tmp_path)
    assert want["extra_data"]["student"] == got["extra_data"]["student"] == "ada"

    def entries(results):
        return [
            (t["name"], t["score"], t["max_score"], t["visibility"], t["output_format"])
            for t in results["tests"]
        ]

    assert entries(got) == entries(want)
    assert got["extra_data"]["item_scores"] == want["extra_data"]["item_scores"]
    # a top-level score: the rounded sum of the rounded parts, equal to grade run's
    assert (
        got["score"] == want["score"] == round(sum(round(t["score"], 4) for t in got["tests"]), 4)
    )
    assert {t["visibility"] for t in got["tests"] if "hidden cases" in t["name"]} == {
        "after_due_date"
    }
    assert {t["visibility"] for t in got["tests"] if "public cases" in t["name"]} == {"visible"}
    assert not any(t["name"] == "Public Tests" for t in got["tests"])  # otter's box is gone
    assert all(t.get("status") == "failed" for t in got["tests"] if t["score"] < t["max_score"])
    if kind in ("correct", "loose"):
        assert got["score"] == 100
    else:
        assert 0 < got["extra_data"]["item_scores"]["conv.conv2d"] < 10 and got["score"] < 100
        conv2d = [t["output"] for t in got["tests"] if t["name"].startswith("conv2d ")]
        assert any("flipped kernel" in o for o in conv2d)


def test_a_planted_verdicts_file_is_deleted_and_ignored(otter_bundle, tmp_path):
    sub = _submission_zip(tmp_path, "planted")
    got = _otter_run(otter_bundle, sub, tmp_path)
    assert got["score"] == 100 and max(t["score"] for t in got["tests"]) <= 10


def test_a_killed_engine_with_a_planted_file_is_a_visible_failure(otter_bundle, tmp_path):
    sub = _submission_zip(tmp_path, "planted")
    got = _otter_run(otter_bundle, sub, tmp_path, code=KILLED_ENGINE_RUN)
    assert got["score"] == 0
    (failed,) = [t for t in got["tests"] if t["name"] == "Autograder failed"]
    assert failed["status"] == "failed" and failed["visibility"] == "visible"
    assert "left no results" in failed["output"]
    assert all(t.get("score", 0) == 0 for t in got["tests"])


def test_plugin_caps_scores_at_each_items_points():
    from autograder.lms.otter_plugin import KitPlugin

    tops = {"conv__conv2d": 10.0}
    kit = {
        "score": 500,
        "tests": [
            {
                "name": "conv2d (conv.py) - public cases",
                "tags": ["conv", "public"],
                "score": 400,
                "max_score": 400,
            },
            {
                "name": "conv2d (conv.py) - hidden cases",
                "tags": ["conv", "hidden"],
                "score": float("nan"),
                "max_score": 7.5,
            },
            {
                "name": "relu (activations.py) - public cases",
                "tags": ["activations", "public"],
                "score": 3,
                "max_score": 3,
            },
        ],
    }
    out = KitPlugin._kit_results(kit, tops)
    assert [(t["score"], t["max_score"]) for t in out["tests"]] == [(10, 10), (0, 0), (0, 0)]
    assert out["score"] == 10
