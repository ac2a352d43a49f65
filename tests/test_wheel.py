"""The kit installed from a wheel, outside the checkout, grades the sample class.

Builds the wheel from this checkout (``pip wheel``: setuptools comes from PyPI), installs it
with ``--no-deps`` into a fresh virtual environment that sees this machine's numpy, click and
PyYAML (``--system-site-packages``), and runs it from a folder outside the checkout with no
PYTHONPATH: the solutions, stubs, templates, bank and sample class come from the wheel's
package data. Student code still cannot see the installed kit. Marked slow (about a minute).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.paths import KIT_ROOT, SOLUTIONS_DIR

pytestmark = pytest.mark.slow

PEEK = """

def pad2d(x, pad):
    import os
    try:
        seen = sorted(os.listdir({kit!r}))
    except OSError as exc:
        seen = [type(exc).__name__]
    raise RuntimeError("LISTING:" + ",".join(seen) + ":END")
"""


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNN_GRADE_SECRET")}
    run = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(KIT_ROOT), "-w", str(dist)],
        cwd=tmp,
    )
    (wheel,) = dist.glob("cnn_exercise_kit-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=tmp)
    where = _run([str(python), "-c", "import autograder; print(autograder.__file__)"], cwd=tmp)
    package = Path(where.stdout.strip()).parent
    return tmp, python, package, wheel


def test_the_wheel_carries_the_kit_and_a_license(installed):
    _, _, package, wheel = installed
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = next(zf.read(n) for n in names if n.endswith(".dist-info/METADATA")).decode()
    assert "License-Expression: MIT" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "autograder/_kit/solutions/cnn/conv.py" in names
    assert "autograder/_kit/assignments/cnn/_checks.py" in names
    assert (
        "autograder/oracle/data/bank.npz" in names and "autograder/lms/templates/setup.sh" in names
    )
    assert not any("__pycache__" in n for n in names)
    # the topics' data (points, mutants) and the audit's correct styles (data, under _kit)
    assert {"autograder/topics/conv/topic.toml", "autograder/topics/conv/mutants.yaml"} <= names
    assert "autograder/_kit/corpus/correct/cleo-float32/cnn/conv.py" in names
    assert str(package).startswith(str(installed[0])), "the venv's copy must be the one imported"


def test_the_installed_kit_grades_the_sample_class_outside_the_checkout(installed):
    tmp, python, package, _ = installed
    sample = package / "_kit" / "examples" / "sample-class"
    work = tmp / "work"
    work.mkdir()
    _run([str(python), "-m", "autograder", "run", str(sample), "--out", "grades"], cwd=work)
    with open(work / "grades" / "gradebook.csv", newline="") as f:
        scores = {r["student"]: float(r["score"]) for r in csv.DictReader(f)}
    assert scores["ada-perfect"] == scores["ben-vectorised"] == scores["fay-zipped"] == 100
    assert 0 < scores["cara-partial"] < 100 and 0 < scores["dan-mistakes"] < 100
    assert 0 < scores["eve-broken"] < 50
    # the audit finds its corpus in the installed wheel: the topics' mutants, the correct styles
    check = "m, c = load_mutants(), load_correct(); assert len(m) > 100 and len(c) > 4, (m, c)"
    imports = "from autograder.audit.corpus import load_correct, load_mutants"
    _run([str(python), "-c", f"{imports}; {check}"], cwd=work)
    # the bundle and the handout build from the wheel's data too
    _run([str(python), "-m", "autograder", "gradescope", "--out", "autograder.zip"], cwd=work)
    with zipfile.ZipFile(work / "autograder.zip") as zf:
        names = set(zf.namelist())
    assert {"solutions/cnn/conv.py", "autograder/engine.py", "setup.sh"} <= names
    assert not any(n.startswith("autograder/_kit/") for n in names)
    _run([str(python), "-m", "autograder", "handout", "--out", "handout"], cwd=work)
    assert (work / "handout" / "cnn" / "conv.py").is_file()


def test_student_code_cannot_see_the_installed_kit(installed):
    tmp, python, package, _ = installed
    sub = tmp / "peek" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, sub)
    with open(sub / "conv.py", "a") as f:
        f.write(PEEK.format(kit=str(package)))
    _run([str(python), "-m", "autograder", "run", str(sub.parent), "--out", "g"], cwd=tmp)
    text = json.dumps(json.loads((tmp / "g" / "peek" / "results.json").read_text()))
    assert "LISTING:" in text  # the channel works: the student's message is shown
    listing = text.split("LISTING:", 1)[1].split(":END", 1)[0]
    for private in ("topics", "oracle", "_kit", "engine.py"):
        assert private not in listing, listing
