"""#13, instructors choose the part: the handout and the Gradescope/otter bundles follow
`[grading] parts` (part 2 alone, both parts), end to end as in test_handout/test_gradescope."""

from __future__ import annotations

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
from autograder.config import BACKWARD_POINTS, DEFAULT_POINTS, load_config
from autograder.lms.gradescope import CONFIG_NAME
from autograder.lms.handout import readme as handout_readme
from autograder.paths import SOLUTIONS_DIR

SECRET = "parts-bundle-secret-3c8e"
PART2 = '[grading]\nparts = ["backward"]\n[limits]\ncall_timeout = 8\nimport_timeout = 60\n'
# Both parts, but only one item of each with points, so that a bundle run stays short.
KEPT = {"shapes.conv_output_length": 2.0, "backward.dense_backward": 8.0}
BOTH = (
    '[grading]\nparts = ["forward", "backward"]\n[limits]\ncall_timeout = 8\n'
    "import_timeout = 60\n[points]\n"
    + "".join(f'"{k}" = {KEPT.get(k, 0)}\n' for k in {**DEFAULT_POINTS, **BACKWARD_POINTS})
)


def _cfg(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grade.toml"
    path.write_text(text)
    return path


def _pytest(folder: Path) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return run.stdout


def _table(stdout: str) -> tuple[float, float, dict[str, str]]:
    m = re.search(r"Public points: ([\d.]+) / ([\d.]+)", stdout)
    assert m, stdout[-2000:]
    rows = dict(re.findall(r"^(\w+\.\w+)\s+(\d+\.\d\d / .*)$", stdout, re.M))
    return float(m[1]), float(m[2]), rows


@pytest.fixture(scope="module")
def part2_handout(tmp_path_factory):
    base = tmp_path_factory.mktemp("part2-handout")
    out = base / "hand"
    cfg = _cfg(base, PART2)
    run = CliRunner().invoke(main, ["handout", "--out", str(out), "--config", str(cfg)])
    assert run.exit_code == 0, run.output
    return out


def test_part2_handout_ships_part2_stubs_tests_readme_and_points(part2_handout):
    out = part2_handout
    for name in ("backward.py", "gradcheck.py", "data.py", "digits28.npz", "conv.py"):
        assert (out / "cnn" / name).is_file(), name
    for name in ("test_backward.py", "test_gradcheck.py", "test_lecture_training.py"):
        assert (out / "tests" / name).is_file(), name
    points = json.loads((out / "tests" / "points.json").read_text())["items"]
    assert points == BACKWARD_POINTS
    cases = json.loads((out / "tests" / "public_cases.json").read_text())["cases"]
    assert {c["item"] for c in cases} == set(BACKWARD_POINTS)
    readme = (out / "README.md").read_text()
    table = re.findall(r"^\| `(\w+)` \| `cnn/(\w+)\.py` \| ([\d.]+) \|", readme, re.M)
    assert {f"{m}.{n}": float(p) for n, m, p in table} == BACKWARD_POINTS
    assert "## Part 2" in readme and "(100 in all)" in readme
    assert "Only part 2 is graded" in readme and "`conv2d`" in readme  # part 1 ships, ungraded
    both = load_config(_cfg(out.parent, BOTH.split("[points]")[0]))
    assert "Only part 2 is graded" not in handout_readme(both)
    assert "Only part 2 is graded" not in handout_readme(load_config(None))


@pytest.mark.parametrize("code", ["stubs", "solutions"])
def test_part2_handout_pytest_prints_only_part2_public_points(part2_handout, tmp_path, code):
    folder = tmp_path / "student"
    shutil.copytree(part2_handout, folder)
    if code == "solutions":
        for src in SOLUTIONS_DIR.glob("*.py"):
            shutil.copyfile(src, folder / "cnn" / src.name)
    worth = 0.25 * sum(BACKWARD_POINTS.values())
    stdout = _pytest(folder)
    earned, total, rows = _table(stdout)
    assert total == pytest.approx(worth) and set(rows) == set(BACKWARD_POINTS)
    if code == "stubs":  # part 1's unwritten functions: one line, not one "helper" line each
        assert earned == 0.0
        line = next(ln for ln in stdout.splitlines() if ln.startswith("Not graded in this"))
        assert "conv2d, " in line and "SGD.step" in line
        assert "conv2d (cnn/conv.py)" not in stdout
    else:
        assert earned == pytest.approx(worth, abs=0.02)
        assert all("done" in r for r in rows.values())


def _bundle(tmp_path: Path, text: str, *flags: str) -> Path:
    out = tmp_path / "autograder.zip"
    cfg = _cfg(tmp_path, text)
    run = CliRunner().invoke(
        main, ["gradescope", *flags, "--out", str(out), "--config", str(cfg), "--secret", SECRET]
    )
    assert run.exit_code == 0, run.output
    return out


def _embedded(bundle: Path, tmp_path: Path) -> tuple:
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        (tmp_path / "embedded.toml").write_text(zf.read(CONFIG_NAME).decode())
    return load_config(tmp_path / "embedded.toml"), names


@pytest.mark.parametrize("flags", [(), ("--otter",)], ids=["gradescope", "otter"])
@pytest.mark.parametrize("text", [PART2, BOTH], ids=["part2", "both"])
def test_bundles_embed_the_chosen_parts_and_part2_data(tmp_path, text, flags):
    want = load_config(_cfg(tmp_path, text))
    bundle = _bundle(tmp_path, text, *flags)
    got, names = _embedded(bundle, tmp_path)
    assert got.parts == want.parts and got.points == want.points
    assert "solutions/cnn/digits28.npz" in names  # part 2's reference reads it
    if flags:  # otter: one test file per graded item, of the chosen parts only
        graded = {k for k, v in want.points.items() if v > 0}
        tests = {n[6:-3].replace("__", ".") for n in names if re.match(r"tests/\w+\.py$", n)}
        assert tests == graded


def _run_autograder(bundle: Path, root: Path) -> dict:
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    shutil.copytree(SOLUTIONS_DIR, root / "submission" / "cnn")
    (root / "submission_metadata.json").write_text(
        json.dumps({"users": [{"email": "alice@example.edu", "sid": "alice", "name": "A"}]})
    )
    run = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.parametrize("text", [PART2, BOTH], ids=["part2", "both"])
def test_gradescope_bundle_grades_the_chosen_parts(tmp_path, text):
    want = load_config(_cfg(tmp_path, text))
    graded = {k: v for k, v in want.points.items() if v > 0}
    results = _run_autograder(_bundle(tmp_path, text), tmp_path / "root")
    assert set(results["extra_data"]["item_scores"]) == set(graded), results.get("tests")
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(sum(graded.values()))
    assert results["score"] == pytest.approx(sum(graded.values()))
