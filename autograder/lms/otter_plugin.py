"""The otter-grader plugin that makes otter report the kit's engine's grades.

Otter loads it by name (``autograder.lms.otter_plugin.KitPlugin`` in ``otter_config.json``).

- ``before_grading``: grade the submission's ``cnn/`` with the kit's engine, in a subprocess
  that runs the kit shipped in the bundle (``source/``), with the kit's sandbox; write the
  per-item verdicts to ``kit_results.json`` next to the submission.
- ``before_execution``: hand otter's kernel an empty notebook, so no student code ever runs in
  it (whatever the upload holds: a notebook, a script).
- ``after_grading``: set each item's test file to the kit's partial score (``update_score``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

VERDICTS = "kit_results.json"


class KitPlugin(AbstractOtterPlugin):
    def _paths(self) -> tuple[Path, Path]:
        submission = Path(self.submission_path).resolve().parent
        return submission.parent, submission  # (the autograder folder, the submission)

    def before_grading(self, config) -> None:
        root, submission = self._paths()
        source = root / "source"
        out = submission / VERDICTS
        env = {**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CNN_GRADE_SECRET", None)
        code = (
            "import sys; from autograder.lms.otter import grade_for_otter; "
            "grade_for_otter(*sys.argv[1:])"
        )
        try:
            subprocess.run(
                [sys.executable, "-c", code, str(root), str(submission), str(out)],
                cwd=source,
                env=env,
                stdin=subprocess.DEVNULL,
                timeout=1800,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"KitPlugin: the kit's engine did not run: {exc}", file=sys.stderr)

    def before_execution(self, submission):
        import nbformat

        return nbformat.v4.new_notebook()

    def after_grading(self, results) -> None:
        _, submission = self._paths()
        try:
            data = json.loads((submission / VERDICTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # every test failed already: "The kit's engine did not grade this item."
        for test_name in results.test_files:
            verdict = data["items"].get(test_name)
            if verdict is not None:
                results.update_score(test_name, verdict["score"])
        results.set_output(data.get("output", ""))
