"""``grade gradescope --otter``: the Gradescope bundle built with otter-grader 7.

One otter test file per graded item (points = the item's points); the kit's engine does the
grading through :mod:`autograder.lms.otter_plugin` and the files only report its verdicts, so
student code never runs in otter's kernel. Partial credit: the plugin sets each file's score to
the item's score (``GradingResults.update_score``), public and hidden cases together.
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
ENTRY = "cnn_submission.py"
ENTRY_TEXT = (
    '"""Placeholder script that otter needs as the submission\'s one top-level .py file. '
    'The kit grades cnn/ itself."""\n'
)
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


def grade_for_otter(root: str, submission: str, out: str) -> None:
    """Run inside the bundle (``source/`` on sys.path): grade ``submission``'s cnn/ with the
    kit's engine and write per-item verdicts for the otter test files to ``out``."""
    from ..config import load_config
    from ..report import test_output, to_gradescope, write_atomic
    from .gradescope import grade_result, student_id

    root_path = Path(root)
    try:
        cfg = load_config(root_path / "source" / CONFIG_NAME)
        student = student_id(root_path / "submission_metadata.json")
        result = grade_result(Path(submission), student, cfg, hide=(root_path,))
    except Exception as exc:  # noqa: BLE001 - otter's tests then say the engine did not grade
        payload = failure_results(type(exc).__name__)
        write_atomic(Path(out), json.dumps({**payload, "items": {}}) + "\n")
        return
    items: dict[str, dict] = {}
    for test in result.tests:
        entry = items.setdefault(
            test_file_name(test.item),
            {"item": test.item, "score": 0.0, "max_score": 0.0, "output": []},
        )
        entry["score"] = round(entry["score"] + test.score, 4)
        entry["max_score"] = round(entry["max_score"] + test.max_score, 4)
        entry["output"].append(
            f"{test.title}: {test.score:g} / {test.max_score:g}\n{test_output(test)}"
        )
    for entry in items.values():
        entry["output"] = "\n\n".join(entry["output"])
    summary = to_gradescope(result)
    payload = {"score": result.score, "output": summary["output"], "items": items}
    write_atomic(Path(out), json.dumps(payload, indent=1) + "\n")
