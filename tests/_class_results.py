"""A made-up graded class for the export and class-report tests: results.json dicts built with
the engine's own dataclasses and serialiser (no student code runs)."""

from __future__ import annotations

from pathlib import Path

from autograder.report import to_gradescope, write_submission
from autograder.results import CaseResult, SubmissionResult, TestResult

# item -> (public points, hidden points)
POINTS = {
    "conv.conv2d": (2.0, 6.0),
    "activations.relu": (0.5, 1.5),
    "optimizers.Adagrad": (1.0, 3.0),
}
ITEMS = list(POINTS)
HOSTILE = "<script>alert(1)</script>"  # for the pure functions
HOSTILE_DIR = "<img src=x onerror=alert(1)>"  # a valid folder name, for files on disk
FORMULA = '=HYPERLINK("evil.example","x")'


def submission(
    student: str,
    passed: dict[str, tuple[int, int]],
    mistakes: dict[str, str] | None = None,
    *,
    problems: list[str] | None = None,
    metadata: dict | None = None,
    error: str = "",
    isolation: str = "namespaces+user",
    message: str = "wrong values",
) -> SubmissionResult:
    """``passed[item] = (public passed of 4, hidden passed of 10)``; ``mistakes[item]`` is named
    on the first failing hidden case."""
    mistakes = mistakes or {}
    tests = []
    for item, (pub_pts, hid_pts) in POINTS.items():
        pub_ok, hid_ok = passed.get(item, (4, 10))
        for group, pts, n, ok in (("public", pub_pts, 4, pub_ok), ("hidden", hid_pts, 10, hid_ok)):
            cases = [
                CaseResult(
                    item,
                    f"case {k}",
                    group,
                    "reference",
                    k < ok,
                    "" if k < ok else message,
                    mistakes.get(item) if (group == "hidden" and k == ok) else None,
                )
                for k in range(n)
            ]
            tests.append(TestResult(item, group, pts, "visible", cases))
    return SubmissionResult(
        student,
        f"/submissions/{student}",
        tests,
        problems=list(problems or []),
        isolation=isolation,
        metadata=dict(metadata or {}),
        error=error,
    )


def klass(hostile: str = HOSTILE) -> list[SubmissionResult]:
    """Five students: perfect, two with named mistakes, a broken one with a hostile id, one
    whose id is a spreadsheet formula."""
    return [
        submission("ada", {}),
        submission(
            "ben",
            {"conv.conv2d": (4, 5), "optimizers.Adagrad": (2, 0)},
            {"conv.conv2d": "conv-flipped-kernel", "optimizers.Adagrad": "adagrad-zero-init"},
        ),
        submission("cara", {"conv.conv2d": (2, 5)}, {"conv.conv2d": "conv-flipped-kernel"}),
        submission(
            hostile,
            {item: (0, 0) for item in POINTS},
            problems=[
                "cnn/conv.py could not be imported: <img src=x onerror=alert(2)>",
                "**bold** [link](javascript:alert(3)) <b>markup</b> & more",
            ],
            isolation="process-group",
            message="<script>alert(4)</script>",
        ),
        submission(FORMULA, {"activations.relu": (4, 0)}),
    ]


def results(hostile: str = HOSTILE) -> list[dict]:
    return [to_gradescope(s) for s in klass(hostile)]


def write_class(out: Path, subs: list[SubmissionResult] | None = None) -> list[dict]:
    """Write ``out/<student>/results.json`` and feedback.md as ``grade run`` does."""
    subs = subs if subs is not None else klass(HOSTILE_DIR)
    return [write_submission(out, s) for s in subs]
