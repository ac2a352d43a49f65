"""Serialise results: Gradescope's results.json, the student's feedback.md, the gradebook.

Pure functions over :mod:`autograder.results`; every write is atomic (a temporary file in the
same folder, then ``os.replace``), so an interrupted batch never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .results import CaseResult, SubmissionResult, TestResult, total
from .topics import MISTAKES

ISOLATION_NOTE = {
    "namespaces+user": "Your code ran in a sandbox as an unprivileged user, without network.",
    "namespaces": "Your code ran in a sandbox without network.",
    "user": "Your code ran as an unprivileged user with resource limits.",
    "process-group": "Your code ran with resource limits only (weaker isolation on this "
    "grading machine).",
}
MAX_CASES_SHOWN = 12


def md_escape(text: str) -> str:
    """Escape student-controlled text for Markdown (and the HTML a renderer may allow).

    Only what could start markup is escaped (``\\ ` * _ [ ] | ~``, ``<``, ``>``, ``&``, a
    leading ``#`` and a ``(`` right after ``]``), so that ordinary text such as
    ``(conv.py, line 157)`` or ``3.97e+03`` reads as it is, also in the raw file."""
    text = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )
    out = []
    for i, ch in enumerate(text):
        if ch in "\\`*_[]|~" or (ch == "#" and i == 0) or (ch == "(" and text[i - 1 : i] == "]"):
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
    lines += [f"**Lost points:** {md_escape(note)}" for note in test.notes]
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


def visible_score_line(result: SubmissionResult) -> str:
    """The top-level score text of results.json, which students see at once: it adds up the
    tests they can see, never a hidden one (Gradescope hides the total while any test is
    hidden), so resubmitting cannot probe the hidden cases before the due date."""
    if result.error:
        return "Not graded: the grader failed on this submission; this is not your grade."
    shown = [t for t in result.tests if t.visibility == "visible"]
    if len(shown) == len(result.tests):
        return f"Score: {result.score:g} / {result.max_score:g}."
    return (
        f"Visible tests: {total(t.score for t in shown):g} / "
        f"{total(t.max_score for t in shown):g} points. The other tests use hidden cases; "
        "their results appear later (after the due date by default)."
    )


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
    summary = [visible_score_line(result)]
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
            "status": result.status,
            "problems": result.problems + result.hidden_problems,
            "error": result.error,
            "item_scores": result.item_scores(),
            "mistakes": result.item_mistakes(),
            "metadata": result.metadata,
        },
    }


@dataclass
class _ItemLesson:
    """What the feedback says about one graded function."""

    item: str
    score: float
    max_score: float
    public: tuple[int, int]  # (passed, cases)
    hidden: tuple[int, int]
    unfinished: bool
    zero_reason: str
    mistakes: list[str]  # mistake ids named on its failing cases
    first: CaseResult | None  # the first failing case (a public one when there is one)
    more: dict[str, int]  # group -> further failing cases

    @property
    def done(self) -> bool:
        return self.first is None and not self.zero_reason


def _lessons(result: SubmissionResult) -> list[_ItemLesson]:
    by_item: dict[str, list[TestResult]] = {}
    for t in result.tests:
        by_item.setdefault(t.item, []).append(t)
    out = []
    for item, tests in by_item.items():
        cases = [c for t in tests for c in t.cases]
        failed = [c for c in cases if not c.passed]
        failed.sort(key=lambda c: c.group != "public")  # public first: it shows the values
        unfinished = (
            bool(failed)
            and all(c.message.startswith("not implemented yet") for c in failed)
            and not any(c.passed for c in cases)
        )
        counts = {
            g: (sum(c.passed for c in cases if c.group == g), sum(1 for c in cases if c.group == g))
            for g in ("public", "hidden")
        }
        more: dict[str, int] = {}
        for c in failed[1:]:
            more[c.group] = more.get(c.group, 0) + 1
        out.append(
            _ItemLesson(
                item,
                round(sum(t.score for t in tests), 4),
                round(sum(t.max_score for t in tests), 4),
                counts["public"],
                counts["hidden"],
                unfinished,
                next((t.zero_reason for t in tests if t.zero_reason), ""),
                sorted({c.mistake for c in failed if c.mistake}),
                failed[0] if failed else None,
                more,
            )
        )
    return out


def _more_text(more: dict[str, int]) -> str:
    total = sum(more.values())
    if not total:
        return ""
    parts = [f"{n} {g}" for g, n in sorted(more.items(), reverse=True)]
    return f"{total} more failing case{'s' if total > 1 else ''} ({', '.join(parts)})."


def _fn(item: str) -> str:
    module, name = item.split(".")
    return f"{name} (cnn/{module}.py)"


def _pts(value: float) -> str:
    """Points as people read them: at most two decimals."""
    return f"{round(value, 2):g}"


def feedback_markdown(result: SubmissionResult, after_due: bool = True) -> str:
    """The student's feedback page, grouped by function: what is done, what is not started
    (one line each), and for each function that fails, its first failing case in full with
    the likely mistake, the other failures counted. (The instructor's copy: hidden cases too.)"""
    lessons = _lessons(result)
    lines = [
        f"# Feedback for {md_escape(result.student)}",
        "",
        f"**Score: {_pts(result.score)} / {_pts(result.max_score)}**",
        "",
    ]
    if result.problems or result.hidden_problems or result.error:
        lines.append("## Problems with the submission")
        lines += [f"- {md_escape(p)}" for p in result.problems + result.hidden_problems]
        if result.error:
            lines.append(f"- The grader failed on this submission: {md_escape(result.error)}")
        lines.append("")
    lines += [
        "## Scores by function",
        "",
        "| function | score | max | public cases | hidden cases | status |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for ls in lessons:
        status = (
            "not implemented yet"
            if ls.unfinished
            else "no points"
            if ls.zero_reason
            else "done"
            if ls.done
            else "see below"
        )
        lines.append(
            f"| `{ls.item}` | {_pts(ls.score)} | {ls.max_score:g} | {ls.public[0]}/{ls.public[1]} "
            f"| {ls.hidden[0]}/{ls.hidden[1]} | {status} |"
        )
    lines.append("")
    unfinished = [ls for ls in lessons if ls.unfinished]
    if unfinished:
        lines += ["## Not implemented yet", ""]
        lines += [f"- `{_fn(ls.item)}`: {ls.max_score:g} points waiting" for ls in unfinished]
        lines.append("")
    failing = [ls for ls in lessons if not ls.unfinished and not ls.done]
    if failing:
        lines += ["## What to fix", ""]
    for ls in failing:
        lines += [f"### `{_fn(ls.item)}`: {_pts(ls.score)} / {ls.max_score:g}", ""]
        if ls.zero_reason:
            lines += [f"**No points:** {md_escape(ls.zero_reason)}.", ""]
        for m in ls.mistakes:
            lines += [f"**Likely mistake:** {md_escape(MISTAKES.get(m, m))}", ""]
        if ls.first is not None:
            c = ls.first
            where = " (checked against Keras)" if c.oracle == "keras" else ""
            lines += [
                f"First failing case ({c.group}{where}): `{c.name.replace('`', chr(39))}`",
                "",
                f"> {md_escape(c.message) or 'wrong answer.'}",
                "",
            ]
            more = _more_text(ls.more)
            if more:
                lines += [more, ""]
    done = [ls for ls in lessons if ls.done]
    if done and len(done) < len(lessons):
        lines += [f"Done: {', '.join(f'`{ls.item}`' for ls in done)}.", ""]
    note = ISOLATION_NOTE.get(result.isolation)
    if note:
        lines += ["---", note]
    return "\n".join(lines) + "\n"


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
    "color:#1b1b1b}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
    "td.n{text-align:right}.todo{color:#666}.ok{color:#1a7f37}.bad{color:#b3261e}"
    "blockquote{margin:.5em 0;padding:.4em .8em;background:#f6f6f6;border-left:3px solid #b3261e}"
    "code{background:#f2f2f2;padding:0 .2em}.muted{color:#666}"
)


def feedback_html(result: SubmissionResult) -> str:
    """The same feedback as :func:`feedback_markdown`, as a self-contained HTML page (every
    text escaped, no script, no outside resource)."""
    from html import escape as e

    lessons = _lessons(result)
    h = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Feedback for {e(result.student)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Feedback for {e(result.student)}</h1>",
        f"<p><strong>Score: {_pts(result.score)} / {_pts(result.max_score)}</strong></p>",
    ]
    if result.problems or result.error:
        h.append("<h2>Problems with the submission</h2><ul>")
        h += [f"<li>{e(p)}</li>" for p in result.problems]
        if result.error:
            h.append(f"<li>The grader failed on this submission: {e(result.error)}</li>")
        h.append("</ul>")
    h.append(
        "<h2>Scores by function</h2><table><tr><th>function</th><th>score</th><th>max</th>"
        "<th>public cases</th><th>hidden cases</th><th>status</th></tr>"
    )
    for ls in lessons:
        if ls.unfinished:
            status = "<span class='todo'>not implemented yet</span>"
        elif ls.zero_reason:
            status = "<span class='bad'>no points</span>"
        elif ls.done:
            status = "<span class='ok'>done</span>"
        else:
            status = f"<a href='#{e(ls.item)}'>see below</a>"
        h.append(
            f"<tr><td><code>{e(ls.item)}</code></td><td class='n'>{_pts(ls.score)}</td>"
            f"<td class='n'>{ls.max_score:g}</td><td class='n'>{ls.public[0]}/{ls.public[1]}</td>"
            f"<td class='n'>{ls.hidden[0]}/{ls.hidden[1]}</td><td>{status}</td></tr>"
        )
    h.append("</table>")
    unfinished = [ls for ls in lessons if ls.unfinished]
    if unfinished:
        h.append("<h2>Not implemented yet</h2><ul>")
        h += [
            f"<li><code>{e(_fn(ls.item))}</code>: {ls.max_score:g} points waiting</li>"
            for ls in unfinished
        ]
        h.append("</ul>")
    failing = [ls for ls in lessons if not ls.unfinished and not ls.done]
    if failing:
        h.append("<h2>What to fix</h2>")
    for ls in failing:
        h.append(
            f"<h3 id='{e(ls.item)}'><code>{e(_fn(ls.item))}</code>: "
            f"{_pts(ls.score)} / {ls.max_score:g}</h3>"
        )
        if ls.zero_reason:
            h.append(f"<p><strong>No points:</strong> {e(ls.zero_reason)}.</p>")
        for m in ls.mistakes:
            h.append(f"<p><strong>Likely mistake:</strong> {e(MISTAKES.get(m, m))}</p>")
        if ls.first is not None:
            c = ls.first
            where = " (checked against Keras)" if c.oracle == "keras" else ""
            h.append(
                f"<p>First failing case ({e(c.group)}{where}): <code>{e(c.name)}</code></p>"
                f"<blockquote>{e(c.message) or 'wrong answer.'}</blockquote>"
            )
            more = _more_text(ls.more)
            if more:
                h.append(f"<p class='muted'>{e(more)}</p>")
    note = ISOLATION_NOTE.get(result.isolation)
    if note:
        h.append(f"<hr><p class='muted'>{e(note)}</p>")
    h.append("</body></html>")
    return "\n".join(h) + "\n"


def gradebook_rows(results: list[dict], items: list[str]) -> list[list]:
    """Rows of gradebook.csv from results.json dicts (header first)."""
    ordered = sorted(results, key=lambda r: r["extra_data"]["student"])
    return [gradebook_header(items), *(gradebook_row(r, items) for r in ordered)]


def gradebook_header(items: list[str]) -> list:
    return ["student", "score", "max_score", *items]


def gradebook_row(result: dict, items: list[str]) -> list:
    """One student's row of gradebook.csv."""
    extra = result["extra_data"]
    scores = extra.get("item_scores", {})
    if extra.get("error"):  # the grader failed: no score, never a zero
        return [extra["student"], "not graded", f"{extra['max_score']:g}"] + [""] * len(items)
    return [
        extra["student"],
        f"{result['score']:g}",
        f"{extra['max_score']:g}",
        *[f"{scores.get(i, 0.0):g}" for i in items],
    ]


def csv_write(f: IO[str], rows: Iterable[list]) -> None:
    """Write ``rows`` to a text file as :func:`csv_text` would (one row at a time)."""
    writer = csv.writer(f, lineterminator="\n")
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])


def csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    csv_write(buf, rows)
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


def write_atomic(path: Path, text: str, sync: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    ``sync``: also flush it to the disk before it replaces the old one (a power cut then
    leaves the old file or the new one, not an empty one)."""
    with open_atomic(path, sync=sync) as f:
        f.write(text)


@contextlib.contextmanager
def open_atomic(path: Path, sync: bool = True, binary: bool = False) -> Iterator[IO]:
    """A file to write ``path`` through (text, or bytes with ``binary``), written piece by
    piece and put in place only when the block ends without an exception (as
    :func:`write_atomic`: readers see the old file or the new one, never half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be read
        mode = {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, **mode) as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_submission(out: Path, result: SubmissionResult) -> dict:
    """Write ``out/<student>/results.json``, ``feedback.md`` and ``feedback.html``; return the
    results dict."""
    folder = out / result.student
    data = to_gradescope(result)
    # One fsync per student: results.json, written last, is what marks the student done.
    write_atomic(folder / "feedback.md", feedback_markdown(result), sync=False)
    write_atomic(folder / "feedback.html", feedback_html(result), sync=False)
    write_atomic(folder / "results.json", json.dumps(data, indent=1, allow_nan=False) + "\n")
    return data
