"""Malformed submissions through `grade run`: every one gets a clear entry in its own report,
the batch goes on, and nothing is written outside the output folder."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.paths import SOLUTIONS_DIR


def _package_files() -> dict[str, bytes]:
    return {f"cnn/{p.name}": p.read_bytes() for p in sorted(SOLUTIONS_DIR.glob("*.py"))}


def _zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)


def _tree(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("malformed")
    cls = base / "class"
    cls.mkdir()
    outside = base / "outside"
    outside.mkdir()
    good = _package_files()
    # zip-slip: entries that climb out, next to a good package
    _zip(
        cls / "slip.zip", {**good, "../../outside/evil.py": b"x = 1\n", "/abs/evil.py": b"x = 1\n"}
    )
    _zip(cls / "links.zip", good, symlinks={"cnn/extra.py": "/etc/passwd"})
    # a zip bomb: one highly compressible member far over the size cap
    with zipfile.ZipFile(cls / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cnn/conv.py", b"#" * (64 * 1024 * 1024))
    (cls / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    _zip(cls / "empty.zip", {})
    # a notebook instead of modules, modules at the wrong level, an odd name
    (cls / "notebook").mkdir()
    (cls / "notebook" / "cnn.ipynb").write_text(json.dumps({"cells": []}))
    deep = cls / "deep" / "submission" / "src" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, deep, ignore=shutil.ignore_patterns("__pycache__"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in good.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(
            "cnn/caf\udce9.py".encode("utf-8", "surrogateescape").decode("cp437")
        )
        zf.writestr(info, b"x = 1\n")
    (cls / "oddname.zip").write_bytes(buf.getvalue())
    # a symlinked file and an unreadable file inside a student folder
    linked = cls / "linked" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, linked, ignore=shutil.ignore_patterns("__pycache__"))
    (linked / "pooling.py").unlink()
    os.symlink("/etc/passwd", linked / "pooling.py")
    # the same student twice (a folder and a zip of the same name)
    dup = cls / "dup" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, dup, ignore=shutil.ignore_patterns("__pycache__"))
    _zip(cls / "dup.zip", good)
    before = _tree(base)
    out = base / "out"
    result = CliRunner().invoke(main, ["run", str(cls), "--out", str(out), "--jobs", "2"])
    return base, out, result, before


def _report(out: Path, student: str) -> tuple[dict, str]:
    data = json.loads((out / student / "results.json").read_text())
    text = " ".join(data["extra_data"]["problems"]) + (out / student / "feedback.md").read_text()
    return data, text


def test_the_batch_finishes(graded):
    _, out, result, _ = graded
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (out / "gradebook.csv").is_file()


@pytest.mark.parametrize(
    "student, words",
    [
        ("slip", "outside"),
        ("links", "symbolic link"),
        ("bomb", "too large"),
        ("corrupt", "zip"),
        ("empty", "no cnn package"),
        ("notebook", "has no cell starting with %%writefile cnn/"),
        ("linked", "symbolic link"),
    ],
)
def test_each_gets_one_clear_message(graded, student, words):
    _, out, _, _ = graded
    _, text = _report(out, student)
    assert words.lower() in text.lower(), text[:1500]


def test_good_parts_still_score(graded):
    _, out, _, _ = graded
    assert _report(out, "slip")[0]["score"] == 100
    assert _report(out, "deep")[0]["score"] == 100
    assert _report(out, "oddname")[0]["score"] == 100
    assert _report(out, "bomb")[0]["score"] == 0


def test_duplicate_students_are_both_graded_and_flagged(graded):
    _, out, _, _ = graded
    names = sorted(p.name for p in out.iterdir() if p.name.startswith("dup"))
    assert names == ["dup", "dup~2"]
    for name in names:
        assert "dup" in " ".join(_report(out, name)[0]["extra_data"]["problems"])


def test_nothing_is_written_outside_the_output_folder(graded):
    base, out, _, before = graded
    after = _tree(base)
    changed = {p for p in after if p not in before or after[p] != before[p]}
    assert all(Path(p) == out or out in Path(p).parents for p in changed), sorted(changed)[:5]
    assert not (base / "outside" / "evil.py").exists()
