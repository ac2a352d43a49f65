"""Serialise results: Gradescope's results.json, the student's feedback.md, the gradebook.

Pure functions over :mod:`autograder.results`; every write is atomic (a temporary file in the
same folder, then ``os.replace``), so an interrupted batch never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from .results import CaseResult, SubmissionResult, TestResult
from .suite import MISTAKES

ISOLATION_NOTE = {
    "namespaces+user": "Your code ran in a sandbox as an unprivileged user, without network.",
    "namespaces": "Your code ran in a sandbox without network.",
    "user": "Your code ran as an unprivileged user with resource limits.",
    "process-group": "Your code ran with resource limits only (weaker isolation on this "
    "grading machine).",
}
MAX_CASES_SHOWN = 12


def md_escape(text: str) -> str:
    """Escape student-controlled text for Markdown (and the HTML a renderer may allow)."""
    text = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )
    out = []
    for ch in text:
        if ch in "\\`*_{}[]()#+!|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _case_line(case: CaseResult) -> str:
    mark = "passed" if case.passed else "FAILED"
    line = f"- {mark}: `{case.name.replace('`', chr(39))}`"
    if case.oracle == "keras":
        line += " (checked against Keras)"
    if not case.passed and case.message:
        line += f" - {md_escape(case.message)}"
    if case.mistake:
        line += f"\n  - **Likely mistake:** {md_escape(MISTAKES.get(case.mistake, case.mistake))}"
    return line


def test_output(test: TestResult) -> str:
    """The Markdown a student sees for one test."""
    lines = [f"{test.passed}/{len(test.cases)} cases passed."]
    if test.zero_reason:
        lines.append(f"**No points:** {md_escape(test.zero_reason)}.")
    failed = [c for c in test.cases if not c.passed]
    shown = failed[:MAX_CASES_SHOWN] if failed else []
    if test.group == "public" and not failed:
        shown = test.cases[:MAX_CASES_SHOWN]
    lines += [_case_line(c) for c in shown]
    if len(failed) > len(shown):
        lines.append(f"- ... and {len(failed) - len(shown)} more failed cases.")
    mistakes = test.mistakes
    if mistakes:
        lines.append("")
        lines += [f"**{md_escape(MISTAKES.get(m, m))}**" for m in mistakes]
    return "\n".join(lines)


def to_gradescope(result: SubmissionResult) -> dict:
    """results.json in Gradescope's autograder schema."""
    tests = []
    for number, test in enumerate(result.tests, start=1):
        module = test.item.split(".")[0]
        tests.append(
            {
                "name": test.title,
                "number": str(number),
                "score": test.score,
                "max_score": test.max_score,
                "status": "passed" if test.score >= test.max_score else "failed",
                "visibility": test.visibility,
                "output": test_output(test),
                "output_format": "md",
                "tags": [module, test.group],
            }
        )
    summary = [f"Score: {result.score:g} / {result.max_score:g}."]
    summary += [f"- {md_escape(p)}" for p in result.problems]
    if result.error:
        summary.append(f"- The grader failed on this submission: {md_escape(result.error)}")
    summary.append(ISOLATION_NOTE.get(result.isolation, ""))
    return {
        "score": result.score,
        "output": "\n".join(s for s in summary if s),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "student": result.student,
            "origin": result.origin,
            "max_score": result.max_score,
            "isolation": result.isolation,
            "seconds": result.seconds,
            "fingerprint": result.fingerprint,
            "problems": result.problems,
            "error": result.error,
            "item_scores": result.item_scores(),
            "mistakes": result.item_mistakes(),
            "metadata": result.metadata,
        },
    }


def feedback_markdown(result: SubmissionResult, after_due: bool = True) -> str:
    """The student's feedback page (all tests: the instructor's copy is after the due date)."""
    lines = [
        f"# Feedback for {md_escape(result.student)}",
        "",
        f"**Score: {result.score:g} / {result.max_score:g}**",
        "",
    ]
    if result.problems or result.error:
        lines.append("## Problems with the submission")
        lines += [f"- {md_escape(p)}" for p in result.problems]
        if result.error:
            lines.append(f"- The grader failed on this submission: {md_escape(result.error)}")
        lines.append("")
    lines += [
        "## Scores by function",
        "",
        "| function | score | max | mistakes |",
        "|---|---:|---:|---|",
    ]
    items: dict[str, list[TestResult]] = {}
    for t in result.tests:
        items.setdefault(t.item, []).append(t)
    for item, tests in items.items():
        score = sum(t.score for t in tests)
        top = sum(t.max_score for t in tests)
        mistakes = sorted({m for t in tests for m in t.mistakes})
        lines.append(f"| `{item}` | {score:g} | {top:g} | {', '.join(mistakes) or '-'} |")
    lines.append("")
    for t in result.tests:
        if t.score == t.max_score and t.group == "hidden":
            continue
        lines += [f"### {t.title}: {t.score:g} / {t.max_score:g}", "", test_output(t), ""]
    note = ISOLATION_NOTE.get(result.isolation)
    if note:
        lines += ["---", note]
    return "\n".join(lines) + "\n"


def gradebook_rows(results: list[dict], items: list[str]) -> list[list]:
    """Rows of gradebook.csv from results.json dicts (header first)."""
    rows: list[list] = [["student", "score", "max_score", *items]]
    for r in sorted(results, key=lambda r: r["extra_data"]["student"]):
        extra = r["extra_data"]
        scores = extra.get("item_scores", {})
        rows.append(
            [
                extra["student"],
                f"{r['score']:g}",
                f"{extra['max_score']:g}",
                *[f"{scores.get(i, 0.0):g}" for i in items],
            ]
        )
    return rows


def csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
    return buf.getvalue()


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas in student-controlled cells."""
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be read
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_submission(out: Path, result: SubmissionResult) -> dict:
    """Write ``out/<student>/results.json`` and ``feedback.md``; return the results dict."""
    folder = out / result.student
    data = to_gradescope(result)
    write_atomic(folder / "feedback.md", feedback_markdown(result))
    write_atomic(folder / "results.json", json.dumps(data, indent=1, allow_nan=False) + "\n")
    return data
