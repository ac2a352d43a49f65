"""`grade gradescope --otter`: the otter-grader bundle grades like `grade run`.

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

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def otter_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("otter") / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope", "--otter", "--out", str(out), "--secret", SECRET])
    assert run.exit_code == 0, run.output
    return out


def _submission_zip(folder: Path, kind: str) -> Path:
    pkg = folder / "src" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, pkg)
    if kind == "wrong":
        with open(pkg / "conv.py", "a") as f:
            f.write(WRONG_CONV)
    path = folder / "submission.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(pkg.glob("*.py")):
            zf.write(p, f"cnn/{p.name}")
    return path


def test_bundle_has_one_test_file_per_item_and_the_kit(otter_bundle):
    cfg = load_config(None)
    with zipfile.ZipFile(otter_bundle) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
        env = zf.read("environment.yml").decode()
        tests = {n for n in names if n.startswith("tests/")}
    assert len(tests) == sum(1 for p in cfg.points.values() if p > 0)
    assert {
        "autograder/engine.py",
        "solutions/cnn/conv.py",
        "grade.toml",
        "files/cnn_submission.py",
    } <= names
    assert config["plugins"] == ["autograder.lms.otter_plugin.KitPlugin"]
    assert "python=3.11" in env and "numpy==2.2.6" in env


@pytest.mark.parametrize("kind", ["correct", "wrong"])
def test_otter_run_scores_like_grade_run(otter_bundle, tmp_path, kind):
    sub = _submission_zip(tmp_path, kind)
    out = tmp_path / "otter-out"
    out.mkdir()
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("otter")),
            "run",
            "-a",
            str(otter_bundle),
            str(sub),
            "-o",
            str(out),
            "--no-logo",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads((out / "results.json").read_text())
    scores = {t["name"]: t["score"] for t in got["tests"] if "score" in t}

    grades = tmp_path / "grades"
    run = CliRunner().invoke(
        main, ["run", str(sub), "--out", str(grades)], env={"CNN_GRADE_SECRET": SECRET}
    )
    assert run.exit_code == 0, run.output
    want = json.loads((grades / "submission" / "results.json").read_text())
    items = want["extra_data"]["item_scores"]
    assert {k.replace("__", "."): v for k, v in scores.items()} == pytest.approx(items, abs=1e-6)
    assert sum(scores.values()) == pytest.approx(want["score"], abs=1e-4)
    if kind == "correct":
        assert want["score"] == 100
    else:
        assert 0 < items["conv.conv2d"] < 10 and want["score"] < 100
        conv2d = next(t for t in got["tests"] if t["name"] == "conv__conv2d")
        assert "flipped kernel" in conv2d["output"]
