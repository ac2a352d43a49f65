"""`grade gradescope`: the bundle, emulated in tmp_path as Gradescope's /autograder.

The bundle is unpacked into ROOT/source, a submission put in ROOT/submission, and the bundle's
own `run_autograder` run with AUTOGRADER_ROOT=ROOT (as root here: namespaces and nobody).
Its results.json must equal what `grade run` gives the same submission.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.paths import SOLUTIONS_DIR

SECRET = "gradescope-test-secret-9b2e"
# Generous per-call and import limits (a loaded machine must not flip a result); one timeout
# per function, so the hostile submission's hanging relu costs one call timeout.
CONFIG = "[limits]\ncall_timeout = 8\nimport_timeout = 60\nmax_timeouts_per_item = 1\n"

WRONG_CONV = """

_right_conv2d = conv2d


def conv2d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    return _right_conv2d(x, kernel[::-1, ::-1], bias, stride, padding, dilation)
"""


def _hostile(root: Path) -> dict[str, str]:
    """Module texts that attack the grader (root is the emulated /autograder)."""
    forged = json.dumps({"score": 1000, "tests": []})
    return {
        "conv.py": "import os\nos._exit(0)\n",
        "activations.py": (SOLUTIONS_DIR / "activations.py").read_text()
        + "\n\ndef relu(x):\n    while True:\n        pass\n",
        "pooling.py": f"""
import os
for path, text in [({str(root / "results" / "results.json")!r}, {forged!r}),
                   ({str(root / "source" / "pwned")!r}, "x"),
                   ({str(root / "submission" / "pwned")!r}, "x"),
                   ("/autograder/results/results.json", {forged!r})]:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass
""",
    }


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    base = tmp_path_factory.mktemp("gs")
    cfg = base / "grade.toml"
    cfg.write_text(CONFIG)
    out = base / "autograder.zip"
    run = CliRunner().invoke(
        main, ["gradescope", "--out", str(out), "--config", str(cfg), "--secret", SECRET]
    )
    assert run.exit_code == 0, run.output
    assert "development secret" not in run.output
    return out, cfg


def _submission(kind: str, folder: Path, root: Path) -> Path:
    pkg = folder / "cnn"
    shutil.copytree(SOLUTIONS_DIR, pkg)
    if kind == "wrong":
        with open(pkg / "conv.py", "a") as f:
            f.write(WRONG_CONV)
    elif kind == "hostile":
        for name, text in _hostile(root).items():
            (pkg / name).write_text(text)
    return folder


def _prepare(bundle_zip: Path, root: Path, kind: str) -> None:
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(bundle_zip) as zf:
        zf.extractall(root / "source")
    _submission(kind, root / "submission", root)
    (root / "submission_metadata.json").write_text(
        json.dumps({"users": [{"email": "alice@example.edu", "sid": "alice", "name": "A"}]})
    )


def _run(root: Path, env: dict | None = None) -> dict:
    run = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _grade_run(tmp: Path, kind: str, root: Path, cfg: Path) -> dict:
    cls = tmp / "class"
    _submission(kind, cls / "alice", root)
    out = tmp / "grades"
    run = CliRunner().invoke(
        main,
        ["run", str(cls / "alice"), "--out", str(out), "--config", str(cfg)],
        env={"CNN_GRADE_SECRET": SECRET},
    )
    assert run.exit_code == 0, run.output
    return json.loads((out / "alice" / "results.json").read_text())


def _comparable(results: dict) -> tuple:
    return (
        results["score"],
        [
            (t["name"], t["number"], t["score"], t["max_score"], t["visibility"])
            for t in results["tests"]
        ],
        results["extra_data"]["item_scores"],
    )


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("kind", ["correct", "wrong", "hostile"])
def test_bundle_grades_like_grade_run(bundle, tmp_path, kind):
    bundle_zip, cfg = bundle
    root = tmp_path / "autograder"
    _prepare(bundle_zip, root, kind)
    before = {s: _digest(root / s) for s in ("source", "submission")}
    got = _run(root)
    # student code wrote nothing outside results/, and only the engine's results.json is there
    assert {s: _digest(root / s) for s in ("source", "submission")} == before
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    for folder in ("source", "results"):
        assert (root / folder).stat().st_mode & 0o007 == 0, f"{folder} is readable by others"
    want = _grade_run(tmp_path, kind, root, cfg)
    assert _comparable(got) == _comparable(want)
    assert got["extra_data"]["student"] == "alice"
    assert got["extra_data"]["isolation"] == "namespaces+user"
    numbers = [t["number"] for t in got["tests"]]
    assert len(set(numbers)) == len(numbers)
    assert {t["visibility"] for t in got["tests"] if "hidden cases" in t["name"]} == {
        "after_due_date"
    }
    assert {t["visibility"] for t in got["tests"] if "public cases" in t["name"]} == {"visible"}
    assert all(t["output_format"] == "md" for t in got["tests"])
    assert all(
        t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")
        for t in got["tests"]
    )
    if kind == "correct":
        assert got["score"] == got["extra_data"]["max_score"] == 100
    if kind == "wrong":
        assert 0 < got["score"] < 100
        assert got["extra_data"]["mistakes"]["conv.conv2d"] == ["conv-flipped-kernel"]
        conv2d = [t["output"] for t in got["tests"] if t["name"].startswith("conv2d ")]
        assert any("Likely mistake" in o and "flipped kernel" in o for o in conv2d)
    if kind == "hostile":
        items = got["extra_data"]["item_scores"]
        assert items["conv.conv2d"] == 0 and items["activations.relu"] == 0
        assert items["shapes.conv_output_length"] > 0  # the rest of the package still counts
        assert got["score"] < 100
        assert not list(root.rglob("pwned"))
        assert not Path("/autograder/results/results.json").exists()


def test_engine_crash_still_writes_a_failed_result(bundle, tmp_path):
    bundle_zip, _ = bundle
    root = tmp_path / "autograder"
    _prepare(bundle_zip, root, "correct")
    (root / "source" / "grade.toml").write_text("[grading\n")  # the engine cannot start
    got = _run(root)
    assert got["score"] == 0 and got["tests"][0]["name"] == "Autograder failed"
    assert got["tests"][0]["visibility"] == "visible"
    assert got["tests"][0]["status"] == "failed"


def test_an_engine_that_exits_0_without_results_still_writes_a_failed_result(bundle, tmp_path):
    """Status 0 skips the check only when results.json is there; without it, the fallback."""
    bundle_zip, _ = bundle
    root = tmp_path / "autograder"
    _prepare(bundle_zip, root, "correct")
    fake = tmp_path / "python"  # `-m autograder ...` exits 0 at once; the check runs for real
    fake.write_text(f'#!/bin/sh\n[ "$1" = "-m" ] && exit 0\nexec {sys.executable} "$@"\n')
    fake.chmod(0o755)
    got = _run(root, {"AUTOGRADER_PYTHON": str(fake)})
    assert got["score"] == 0 and got["tests"][0]["name"] == "Autograder failed"


def test_missing_python_still_writes_a_failed_result(bundle, tmp_path):
    bundle_zip, _ = bundle
    root = tmp_path / "autograder"
    _prepare(bundle_zip, root, "correct")
    got = _run(root, {"AUTOGRADER_PYTHON": str(tmp_path / "no-python")})
    assert got["score"] == 0 and got["tests"][0]["name"] == "Autograder failed"
    assert got["tests"][0]["status"] == "failed"


def test_bundle_holds_the_engine_and_secret_but_no_tensorflow(bundle):
    bundle_zip, _ = bundle
    with zipfile.ZipFile(bundle_zip) as zf:
        names = set(zf.namelist())
        config = zf.read("grade.toml").decode()
        setup = zf.read("setup.sh").decode()
        reqs = zf.read("requirements.txt").decode()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert {
        "setup.sh",
        "run_autograder",
        "autograder/__main__.py",
        "autograder/engine.py",
        "solutions/cnn/conv.py",
        "assignments/cnn/_checks.py",
        "autograder/oracle/data/bank.npz",
    } <= names
    assert f'secret = "{SECRET}"' in config and "call_timeout = 8.0" in config
    commands = [line for line in setup.splitlines() if not line.lstrip().startswith("#")]
    pinned = [line for line in reqs.splitlines() if not line.startswith("#")]
    assert "tensorflow" not in "\n".join(commands + pinned).lower()
    pins = [line for line in reqs.splitlines() if line and line[0].isalpha()]
    assert {p.split("==")[0].lower() for p in pins} == {"numpy", "click", "pyyaml", "tomli"}
    body = "\n".join(line for line in reqs.splitlines() if not line.startswith("#"))
    blocks = re.split(r"\n(?=[A-Za-z])", body.strip())
    assert len(blocks) == len(pins) and all("--hash=sha256:" in b for b in blocks)
    assert "--only-binary=:all:" in setup and "--require-hashes" in setup
    assert "python3 -m venv" in setup and "pip install" not in setup.replace("-m pip install", "")
    assert modes["run_autograder"] == modes["setup.sh"] == 0o755


def test_development_secret_warns_and_bad_out_is_one_sentence(tmp_path):
    run = CliRunner().invoke(
        main, ["gradescope", "--out", str(tmp_path / "a.zip")], env={"CNN_GRADE_SECRET": ""}
    )
    assert run.exit_code == 0 and "development secret" in run.output
    run = CliRunner().invoke(main, ["gradescope", "--out", str(tmp_path / "a.tar")])
    assert run.exit_code == 1 and run.output.count("\n") == 1 and ".zip" in run.output
