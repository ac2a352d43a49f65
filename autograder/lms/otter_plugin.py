"""The otter-grader plugin that makes otter report the kit's engine's grades.

Otter loads it by name (``autograder.lms.otter_plugin.KitPlugin`` in ``otter_config.json``).

- ``before_grading``: delete any ``kit_results.json`` the upload holds; grade the upload with
  the kit's engine in a subprocess (the kit shipped in ``source/``, student code in the kit's
  sandbox), bounded by the bundle's time budget; the engine writes its verdicts into a fresh
  folder the plugin creates inside the autograder folder (0700, hidden from the sandbox).
- ``before_execution``: hand otter's kernel an empty notebook, so no student code ever runs in
  it (whatever the upload holds).
- ``after_grading``: read the verdicts from that folder only; cap each item at its points from
  the bundle's config; set each test file's score (``update_score``); make otter write the kit's
  results.json (the kit's entries, visibility and Markdown; a rounded top-level score). A dead
  or killed engine (no verdicts) gives a visible failed "Autograder failed" entry and score 0.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

VERDICTS = "kit_results.json"
MAX_VERDICTS = 8 * 1024 * 1024  # bytes: the engine's payload is a few hundred kB at most
ENGINE_CODE = (
    "import sys; from autograder.lms.otter import grade_for_otter; grade_for_otter(*sys.argv[1:])"
)


def rounded_total(parts) -> float:
    """The rounded sum of the rounded parts: the kit's one rounding rule (``results.total``)."""
    from ..results import total

    return total(float(p) for p in parts)


class _FixedDict:
    """Stands in for ``GradingResults.to_gradescope_dict``: returns the kit's results.json."""

    def __init__(self, payload: dict) -> None:
        self.payload = payload

    def __call__(self, ag_config=None) -> dict:
        return self.payload


def _capped(value, top: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return min(max(float(value), 0.0), top)


class KitPlugin(AbstractOtterPlugin):
    _private: Path | None = None
    engine_status: str = "not started"

    def _paths(self) -> tuple[Path, Path]:
        submission = Path(self.submission_path).resolve().parent
        return submission.parent, submission  # (the autograder folder, the submission)

    def _config(self):
        from ..config import load_config
        from .gradescope import CONFIG_NAME

        root, _ = self._paths()
        return load_config(root / "source" / CONFIG_NAME)

    def before_grading(self, config) -> None:
        from .gradescope import engine_deadline

        root, submission = self._paths()
        planted = submission / VERDICTS
        if planted.is_symlink() or planted.exists():
            if planted.is_dir() and not planted.is_symlink():
                shutil.rmtree(planted, ignore_errors=True)
            else:
                planted.unlink()
        self._private = Path(tempfile.mkdtemp(prefix=".kit-verdicts-", dir=root))
        os.chmod(self._private, 0o700)
        source = root / "source"
        env = {**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CNN_GRADE_SECRET", None)
        try:
            timeout = engine_deadline(self._config())
        except Exception:  # noqa: BLE001 - a broken config: the engine reports it itself
            timeout = 900.0
        try:
            run = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    ENGINE_CODE,
                    str(root),
                    str(submission),
                    str(self._private / VERDICTS),
                ],
                cwd=source,
                env=env,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
            self.engine_status = f"exit status {run.returncode}"
        except subprocess.TimeoutExpired:
            self.engine_status = f"stopped after the bundle's budget of {timeout:g} s"
        except (OSError, subprocess.SubprocessError) as exc:
            self.engine_status = f"could not start ({type(exc).__name__})"
        print(f"KitPlugin: the kit's engine: {self.engine_status}", file=sys.stderr)

    def before_execution(self, submission):
        import nbformat

        return nbformat.v4.new_notebook()

    def _verdicts(self) -> dict | None:
        if self._private is None:
            return None
        path = self._private / VERDICTS
        try:
            if path.is_symlink() or path.stat().st_size > MAX_VERDICTS:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        finally:
            shutil.rmtree(self._private, ignore_errors=True)
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            return None
        if not isinstance(data["results"].get("tests"), list):
            return None
        return data

    def after_grading(self, results) -> None:
        from .gradescope import FAILED_TEST, failure_results
        from .otter import test_file_name

        data = self._verdicts()
        try:
            cfg = self._config()
            tops = {test_file_name(k): float(v) for k, v in cfg.points.items() if v > 0}
        except Exception:  # noqa: BLE001 - no trusted maxima: nothing can be scored
            tops, data = {}, None
        items = data.get("items") if data else None
        engine_failed = data is not None and any(
            t.get("name") == FAILED_TEST for t in data["results"]["tests"] if isinstance(t, dict)
        )
        if not isinstance(items, dict) or engine_failed:
            items = {}
        for name in results.test_files:
            results.update_score(name, _capped(items.get(name), tops.get(name, 0.0)))
        if data is None:
            payload = failure_results(f"the kit's engine left no results ({self.engine_status})")
        elif engine_failed:
            payload = data["results"]
        else:
            payload = self._kit_results(data["results"], tops)
        results.to_gradescope_dict = _FixedDict(payload)

    @staticmethod
    def _kit_results(kit: dict, tops: dict[str, float]) -> dict:
        """The engine's results.json with every score capped and the total recomputed."""
        from .otter import test_file_name

        left = dict(tops)  # item -> points not yet given out
        tests = []
        for test in kit["tests"]:
            if not isinstance(test, dict):
                continue
            item = test_file_name(_item_of(test))
            top = _capped(test.get("max_score"), left.get(item, 0.0))
            left[item] = left.get(item, 0.0) - top
            score = _capped(test.get("score"), top)
            test = {**test, "score": round(score, 4), "max_score": round(top, 4)}
            if score < top:
                test["status"] = "failed"
            tests.append(test)
        out = {**kit, "tests": tests, "score": rounded_total(t["score"] for t in tests)}
        return out


def _item_of(test: dict) -> str:
    """The graded item ("conv.conv2d") of one of the kit's entries, from its tags and name."""
    tags = test.get("tags") or []
    name = str(test.get("name", ""))
    module = tags[0] if tags else ""
    return f"{module}.{name.split(' ', 1)[0]}"
