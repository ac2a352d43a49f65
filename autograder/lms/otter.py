"""``grade gradescope --otter``: the Gradescope bundle built with otter-grader 7.

One otter test file per graded item (points = the item's points); the kit's engine does the
grading through :mod:`autograder.lms.otter_plugin`, so student code never runs in otter's
kernel. The test files read nothing and fail on their own; the plugin sets each file's score to
the item's score (``GradingResults.update_score``, capped at the item's points) and replaces
otter's results.json with the kit's own entries (public and hidden per function, the config's
visibility, ``status``, Markdown), so the Gradescope page is the one the kit's bundle gives.

Trust: the verdicts travel from the engine's process to the plugin through a fresh folder
inside the autograder folder (mode 0700, created by the plugin, hidden from the sandbox), never
through the upload; a ``kit_results.json`` in the upload is deleted before grading and ignored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..config import Config
from .gradescope import CONFIG_NAME, REQUIREMENTS, add_kit, failure_results

TEMPLATE = Path(__file__).with_name("templates") / "otter_test.py.tmpl"
PLUGIN = "autograder.lms.otter_plugin.KitPlugin"
# otter grades the one notebook of the submission folder before any .py file, so a placeholder
# notebook (shipped as a support file) lets an upload hold cnn/ or loose cnn modules alike.
ENTRY = "cnn_otter_entry.ipynb"
ENTRY_TEXT = json.dumps(
    {
        "cells": [],
        "metadata": {"cnn_kit": "placeholder: the kit grades cnn/ itself"},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
VERDICTS = "kit_results.json"  # the name a planted file in the upload would have
STUDENT_ENV = "CNN_OTTER_STUDENT"  # `otter run` has no metadata: the instructor names the student
OTTER_VERSION = "7.0.0"


class OtterError(Exception):
    """otter-grader is missing or failed: one clear sentence."""


def test_file_name(item: str) -> str:
    return item.replace(".", "__")


def build_otter_bundle(out: Path, cfg: Config) -> Path:
    out = Path(out).resolve()
    if out.suffix.lower() != ".zip":
        raise OtterError(f"--out must name a .zip file; received {out}.")
    otter = shutil.which("otter") or str(Path(sys.executable).with_name("otter"))
    if not Path(otter).exists():
        raise OtterError(
            "otter-grader is not installed; install it with pip install 'otter-grader[grading]"
            f"=={OTTER_VERSION}' (the kit's [otter] extra)."
        )
    with tempfile.TemporaryDirectory(prefix="cnn-otter-") as tmp:
        work = Path(tmp)
        (work / "tests").mkdir()
        template = TEMPLATE.read_text(encoding="utf-8")
        for item, points in cfg.points.items():
            if points > 0:
                name = test_file_name(item)
                text = template.format(item=item, name=name, points=float(points))
                (work / "tests" / f"{name}.py").write_text(text, encoding="utf-8")
        (work / ENTRY).write_text(ENTRY_TEXT, encoding="utf-8")
        (work / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
        (work / "otter_config.json").write_text(
            json.dumps({"lang": "python", "plugins": [PLUGIN]}, indent=1), encoding="utf-8"
        )
        run = subprocess.run(
            [
                otter,
                "generate",
                "--python-version",
                "3.11",
                "--tests-dir",
                "tests",
                "--requirements",
                "requirements.txt",
                "--config",
                "otter_config.json",
                "--output-path",
                "autograder.zip",
                ENTRY,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise OtterError(f"otter generate failed: {tail[0]}")
        generated = work / "autograder.zip"
        tmp_out = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(generated) as src, zipfile.ZipFile(tmp_out, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            add_kit(dst, cfg)
        tmp_out.replace(out)
    return out


def _clean_copy(submission: Path, dest: Path) -> Path:
    """The upload without what otter adds to the submission folder (its tests/, the placeholder
    notebook, an empty top-level ``__init__.py``) and without a planted verdicts file."""
    skip = {"tests", ENTRY, VERDICTS}
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(submission.iterdir()):
        if path.name in skip or path.is_symlink():
            continue
        if path.name == "__init__.py" and path.is_file() and path.stat().st_size == 0:
            continue
        if path.is_dir():
            shutil.copytree(path, dest / path.name, symlinks=True)
        elif path.is_file():
            shutil.copyfile(path, dest / path.name)
    return dest


def grade_for_otter(root: str, submission: str, out: str) -> None:
    """Run inside the bundle (``source/`` on sys.path): grade ``submission`` with the kit's
    engine and write the kit's results.json and per-item scores for the plugin to ``out``."""
    import os

    from ..config import load_config
    from ..discover import safe_id
    from ..report import to_gradescope, write_atomic
    from .gradescope import grade_result, student_id

    root_path = Path(root)
    try:
        cfg = load_config(root_path / "source" / CONFIG_NAME)
        student = student_id(root_path / "submission_metadata.json", default="")
        student = student or safe_id(os.environ.get(STUDENT_ENV, "") or "submission")
        with tempfile.TemporaryDirectory(prefix="cnn-otter-sub-") as tmp:
            upload = _clean_copy(Path(submission), Path(tmp) / "submission")
            result = grade_result(upload, student, cfg, hide=(root_path,))
    except Exception as exc:  # noqa: BLE001 - the plugin then reports a failed grading
        payload = failure_results(type(exc).__name__)
        write_atomic(Path(out), json.dumps({"results": payload, "items": {}}) + "\n")
        return
    items: dict[str, float] = {}
    for test in result.tests:
        name = test_file_name(test.item)
        items[name] = items.get(name, 0.0) + test.score
    payload = {"results": to_gradescope(result), "items": items}
    write_atomic(Path(out), json.dumps(payload, indent=1, allow_nan=False) + "\n")
