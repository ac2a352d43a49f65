"""`grade handout`: what students download, what it must never contain, its points summary."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _part2 import PART2_ITEMS
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import DEFAULT_POINTS, load_config
from autograder.lms.handout import leaks, student_regions
from autograder.paths import KIT_ROOT, PUBLIC_TESTS_DIR, SOLUTIONS_DIR

SECRET = "handout-test-secret-5f1c9a"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A handout built by the CLI with a config that changes the points and the public share."""
    base = tmp_path_factory.mktemp("handout")
    cfg = base / "grade.toml"
    cfg.write_text(
        f'[grading]\nsecret = "{SECRET}"\npublic_share = 0.4\nparts = ["forward", "backward"]\n'
        '[points]\n"conv.conv2d" = 20\n"training.flatten" = 0\n'
    )
    out = base / "hand"
    run = CliRunner().invoke(main, ["handout", "--out", str(out), "--zip", "--config", str(cfg)])
    assert run.exit_code == 0, run.output
    return out, load_config(cfg)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_layout_is_stubs_public_tests_and_readme(built):
    out, _ = built
    names = {p.relative_to(out).as_posix() for p in _files(out)}
    assert {"README.md", "pytest.ini", "tests/conftest.py", "tests/points.json"} <= names
    assert "cnn/digits28.npz" in names  # the public digits data, read by cnn/data.py
    assert {f"cnn/{p.name}" for p in (KIT_ROOT / "assignments" / "cnn").glob("*.py")} <= names
    assert {f"tests/{p.name}" for p in PUBLIC_TESTS_DIR.glob("test_*.py")} <= names
    assert not [n for n in names if not n.startswith(("cnn/", "tests/")) and "/" in n]
    with zipfile.ZipFile(out.with_name(out.name + ".zip")) as zf:
        assert sorted(zf.namelist()) == sorted(f"{out.name}/{n}" for n in names)


def test_no_solution_hidden_suite_oracle_or_secret(built):
    out, cfg = built
    solution_bodies = {
        r for p in SOLUTIONS_DIR.glob("*.py") for r in student_regions(p.read_text()) if r
    }
    assert len(solution_bodies) >= 37
    private = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for d in ("suite", "oracle")
        for p in (KIT_ROOT / "autograder" / d).rglob("*")
        if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    data_file = KIT_ROOT / "assignments" / "cnn" / "digits28.npz"
    for path in _files(out):
        data = path.read_bytes()
        if path == out / "cnn" / "digits28.npz":  # public data, the kit's own copy
            assert data == data_file.read_bytes()
            continue
        text = data.decode("utf-8", "replace")
        assert hashlib.sha256(data).hexdigest() not in private, path
        assert path.suffix not in (".npz", ".npy", ".pyc"), path
        assert cfg.secret not in text and "_reference_cnn" not in text, path
        assert "bank" not in path.name, path
        for region in student_regions(text):
            assert region not in solution_bodies, f"{path} holds a solution region"
        # every function body in the stubs is given code or raises NotImplementedError
        if path.parent.name == "cnn":
            for region in student_regions(text):
                assert region.splitlines()[-1].startswith("raise NotImplementedError"), path
    assert leaks(out, cfg.secret) == []


def test_leak_check_catches_a_solution_a_bank_file_and_the_secret(tmp_path, built):
    out, cfg = built
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    shutil.copyfile(SOLUTIONS_DIR / "conv.py", bad / "cnn" / "conv.py")
    shutil.copyfile(KIT_ROOT / "autograder" / "oracle" / "data" / "bank.json", bad / "b.json")
    (bad / "notes.txt").write_text(f"secret: {cfg.secret}\n")
    (bad / "cnn" / "digits28.npz").write_bytes(b"PK not the kit's data file")
    found = " | ".join(leaks(bad, cfg.secret))
    assert "cnn/digits28.npz is a file of the hidden suite" in found
    assert "cnn/conv.py contains a reference solution" in found
    assert "b.json is a file of the hidden suite or the oracle bank" in found
    assert "notes.txt contains the instructor secret" in found


def test_readme_lists_every_task_with_the_configs_points_and_the_conventions(built):
    out, cfg = built
    text = (out / "README.md").read_text()
    for item, points in cfg.points.items():
        module, name = item.split(".")
        row = f"| `{name}` | `cnn/{module}.py` | {points:g} | {points * 0.4:g} |"
        assert (row in text) == (points > 0), item
    for phrase in (
        "ceil(n/s)",
        "-inf",
        "real (unpadded) cells",
        "0.1",
        "1e-7",
        "0.2",
        "1/(1 - rate)",
        "no 1/2",
        "EarlyStopping",
        "zip -r submission.zip cnn",
        "pytest",
        "the grader's own public cases",
        "What can still differ from the grader",
        "python3 -m venv",
    ):
        assert phrase in text, phrase
    points = json.loads((out / "tests" / "points.json").read_text())
    assert points["public_share"] == 0.4
    assert points["items"]["conv.conv2d"] == 20 and "training.flatten" not in points["items"]


def _pytest(folder: Path) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return run.stdout


def _summary(stdout: str) -> tuple[float, float, dict[str, str]]:
    m = re.search(r"Public points: ([\d.]+) / ([\d.]+)", stdout)
    assert m, stdout[-2000:]
    rows = dict(re.findall(r"^(\w+\.\w+)\s+(.*)$", stdout, re.M))
    return float(m[1]), float(m[2]), rows


def test_public_summary_with_stubs_a_partial_and_a_full_solution(built, tmp_path):
    out, cfg = built
    worth = sum(p * 0.4 for p in cfg.points.values() if p > 0)
    folder = tmp_path / "student"
    shutil.copytree(out, folder)
    untouched = _pytest(folder)  # the untouched handout: run once, both checks read it
    earned, total, rows = _summary(untouched)
    assert (earned, total) == (0.0, pytest.approx(worth))
    assert rows["conv.conv2d"].split()[:3] == ["0.00", "/", "8.00"]
    assert "not implemented yet" in rows["conv.conv2d"]
    lines = stdout_lines = untouched.splitlines()
    # The untouched handout's run is the points table (one row per graded item) and a few
    # lines around it: 46 lines for the forward part alone; this fixture grades both parts.
    # (one more line per helper of the student's own). Beyond those rows, at most 20 lines.
    rows = [ln for ln in lines if re.match(r"^\w+\.\w+\s+\d+\.\d\d / ", ln)]
    helpers = [ln for ln in lines if "a helper of yours" in ln]
    graded = [item for item, p in cfg.points.items() if p > 0]
    assert len(rows) == len(graded)
    assert len(stdout_lines) - len(rows) - len(helpers) <= 20, stdout_lines
    assert lines[-2].startswith("Public points: 0.00 / ")  # the points summary comes last

    shutil.copyfile(SOLUTIONS_DIR / "conv.py", folder / "cnn" / "conv.py")
    earned, total, rows = _summary(_pytest(folder))
    conv = sum(cfg.points[i] * 0.4 for i in ("conv.pad2d", "conv.conv1d", "conv.conv2d"))
    assert earned == pytest.approx(conv, abs=0.02)
    assert rows["conv.conv2d"].split()[:4] == ["8.00", "/", "8.00", "done"]

    for src in SOLUTIONS_DIR.glob("*.py"):
        shutil.copyfile(src, folder / "cnn" / src.name)
    earned, total, _ = _summary(_pytest(folder))
    assert earned == pytest.approx(worth, abs=0.02) and total == pytest.approx(worth)


def _conftest():
    spec = importlib.util.spec_from_file_location(
        "_handout_conftest", PUBLIC_TESTS_DIR / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scoring_rule_partial_credit_and_given_code():
    conftest = _conftest()
    points = {"a.f": 4.0, "a.g": 2.0}
    results = [
        (["a.f"], False, True),
        (["a.f"], False, False),
        (["a.f", "a.g"], True, True),  # argument checks: count only beside a working function
        (["a.g"], False, False),
    ]
    scores = conftest.public_scores(results, points, 0.5)
    assert scores["a.f"] == (2, 3, pytest.approx(2.0 * 2 / 3, abs=1e-4), 2.0)
    assert scores["a.g"] == (0, 2, 0.0, 1.0)


def test_scoring_rule_counts_nothing_until_the_function_computes_something():
    """The grader's rule (autograder.trivial): passes count once a discriminating case passes,
    or two size/count cases with different answers; a constant passing cases earns nothing."""
    conftest = _conftest()
    points = {"a.f": 4.0, "a.size": 2.0, "a.g": 2.0}
    results = [
        (["a.f"], False, True, None),  # a case zeros pass: not enough on its own
        (["a.f"], False, False, "disc"),
        (["a.size"], False, True, "3"),
        (["a.size"], False, True, "3"),  # the same answer twice: a constant could do it
        (["a.size"], True, True, None),
        (["a.g"], False, True, "5"),
        (["a.g"], False, True, "7"),
        (["a.g"], False, False, "disc"),
    ]
    scores = conftest.public_scores(results, points, 0.5)
    assert scores["a.f"] == (0, 2, 0.0, 2.0)
    assert scores["a.size"] == (0, 3, 0.0, 1.0)
    assert scores["a.g"] == (2, 3, pytest.approx(2 / 3, abs=1e-4), 1.0)


def test_every_public_test_names_graded_items():
    seen: set[str] = set()
    for path in PUBLIC_TESTS_DIR.glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            marks = [
                d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.item"
            ]
            if node.name == "test_grader_public_case":  # marked per case, by its item
                continue
            assert marks, f"{path.name}::{node.name} has no @pytest.mark.item"
            names = [ast.literal_eval(a) for m in marks for a in m.args]
            for m in marks:
                for kw in m.keywords:
                    if kw.arg == "by_id":
                        names += list(ast.literal_eval(kw.value).values())
            # part 2 (backward, gradcheck, training) is not graded yet: its items have no points
            assert names and set(names) <= set(DEFAULT_POINTS) | PART2_ITEMS, (node.name, names)
            seen.update(names)
    assert seen >= set(DEFAULT_POINTS), set(DEFAULT_POINTS) - seen


def test_committed_points_json_matches_the_default_config():
    data = json.loads((PUBLIC_TESTS_DIR / "points.json").read_text())
    cfg = load_config(None)
    assert data == {"public_share": cfg.public_share, "items": cfg.points}


def test_refuses_a_non_empty_out_folder_in_one_sentence(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    run = CliRunner().invoke(main, ["handout", "--out", str(tmp_path)])
    assert run.exit_code == 1
    assert (
        run.output.strip() == f"Error: --out {tmp_path} already exists and is not an empty folder."
    )
    assert (tmp_path / "x.txt").read_text() == "mine"
