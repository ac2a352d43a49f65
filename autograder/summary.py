"""The class report: ``DIR/summary.html`` and ``DIR/mistakes.csv`` from the results.json files.

The report is built in two bounded passes over the students (issue #16: memory flat in the
class size): :class:`ClassStats` adds them up one at a time (counters and sums, no list of
students), then :func:`write_page` writes the page one student's rows at a time (the students
table straight to the file, the matrix and the problems through temporary files). The two
charts are inline SVG drawn by :mod:`summary_charts` (no plotting library).
``class_report_html(results, items)`` is the same page as a string, for a list of results.

The page is self-contained (inline CSS, JS and SVG, no external resource). Every string that
comes from a submission (student ids, problems, messages) is escaped with ``html.escape``, and
the page's Content-Security-Policy allows only its own script (by hash), so even markup that
slipped through could not run or load anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import math
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

from .exports import grader_failed, item_mistakes, item_points, not_graded, student_of
from .report import csv_text, csv_write, gradebook_row, open_atomic
from .sandbox.isolation import LEVEL_TEXT
from .summary_charts import CHART_CSS, histogram_svg, items_svg
from .summary_extra import (
    EXTRA_CSS,
    MATRIX_TAIL,
    Hardest,
    Splits,
    hardest_of,
    hardest_section,
    matrix_head,
    matrix_row,
    read_run_info,
    run_section,
    settle_counts,
    splits_of,
    write_run_info,
)
from .topics import MISTAKES

TOP_MISTAKES = 15
SPOOL = 1 << 18  # bytes of the matrix (and of the problems) held in memory before a file
OLD_PLOT_CACHE = ".plot-cache.json"  # the PNG cache of earlier versions: removed when seen
# A class of more students gets its student x function matrix on a page of its own (at 20,000
# students it is 60 % of the page's bytes and most of the time a browser takes to show it).
MATRIX_INLINE = 1000
MATRIX_PAGE = "matrix.html"
Source = Callable[[], Iterable[dict]]  # a fresh pass over the students, in student order
FactsSource = Callable[[], Iterable[dict]]  # the same, of their student_facts

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;
padding:1.2em 1.5em;color:#1d2330;background:#fff}
h1{font-size:1.6em;margin:.2em 0 .4em}h2{font-size:1.2em;margin:1.6em 0 .5em;
border-bottom:1px solid #dde2ea;padding-bottom:.2em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #dde2ea;border-radius:6px;
padding:.4em .8em;min-width:7em}.card b{display:block;font-size:1.3em}
table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{padding:.25em .5em;
border-bottom:1px solid #eef1f5;text-align:left;vertical-align:top}
th{background:#f4f6fa;position:sticky;top:0}td.n,th.n{text-align:right;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.bar{background:#e6ebf3;height:.7em;width:8em;display:inline-block;border-radius:3px}
.bar i{display:block;height:100%;background:#3b6fb6;border-radius:3px}
code{font-size:.92em}.warn{color:#a4262c;font-weight:600}.muted{color:#667085}
ul.problems li{margin:.15em 0}td code,td a{white-space:nowrap}
.pc{display:inline-block;min-width:2.8em}
"""

_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var num = th.classList.contains("n");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v") || a.cells[col].textContent;
        var y = b.cells[col].getAttribute("data-v") || b.cells[col].textContent;
        var d = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
var matrix = document.getElementById("matrix");
if (matrix) {
  var fns = matrix.tHead.rows[1].cells;
  matrix.addEventListener("mouseover", function (ev) {
    var td = ev.target.closest("td");
    if (!td || td.hasAttribute("data-named")) { return; }
    td.setAttribute("data-named", "");
    var who = td.parentNode.cells[0].textContent, what = fns[td.cellIndex].title;
    td.title = who + " / " + what + ": " + td.title;
  });
}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _g(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------
# Statistics, one student at a time


def stat_of(r: dict, items: list[str]) -> list:
    """What :class:`ClassStats` adds up of one result, for ``items``, as a JSON-able list
    (the folder's index keeps it, so a report need not read the results again):
    [isolation, has problems, has problems or an error, grader failed] and, when graded,
    [score, max score, per item [score, max], [[item, mistake ids], ...] (the result's
    order), per item [public score, max, hidden score, max], started items, failed cases]."""
    extra = r.get("extra_data", {})
    stat: list = [
        str(extra.get("isolation") or "unknown"),
        bool(extra.get("problems")),
        bool(extra.get("problems") or extra.get("error")),
        grader_failed(r),
    ]
    if stat[3]:
        return stat
    points = item_points(r)
    return stat + [
        float(r.get("score", 0.0)),
        float(extra.get("max_score", 0.0)),
        [[float(v) for v in points.get(item, (0.0, 0.0))] for item in items],
        [[item, ids] for item, ids in item_mistakes(r).items()],
        splits_of(r, items),
        *hardest_of(r),
    ]


class ClassStats:
    """Everything the report shows about the class as a whole, added up one student at a
    time (:meth:`add`): counters only, so its size does not grow with the class (a counter
    holds one entry per distinct value: score, maximum, mistake, case). A student can be
    taken away again (:meth:`add_stat` with ``sign`` -1, then :meth:`settle`): a regrade of a
    few students updates the statistics of the last report (:meth:`state`, :meth:`from_state`)
    instead of adding up the class again, and gets the same statistics."""

    def __init__(self, items: list[str]):
        self.items = list(items)
        self.students = self.failed = self.with_problems = self.problem_students = 0
        self.isolation: Counter[str] = Counter()
        self.scores: Counter[float] = Counter()  # the graded students' scores
        self.tops: Counter[float] = Counter()  # and their maximum scores
        self.item_scores: dict[str, Counter[float]] = {i: Counter() for i in items}
        self._item_counters = [self.item_scores[i] for i in self.items]  # (in item order)
        self.item_tops: Counter[tuple[float, ...]] = Counter()  # the students' item maxima
        self.item_mistakes: dict[str, Counter[str]] = {i: Counter() for i in items}
        self.mistake_students: Counter[str] = Counter()
        self.mistake_items: Counter[tuple[str, str]] = Counter()  # (mistake, item): students
        self.splits = Splits(items)
        self.hardest = Hardest()

    def add(self, r: dict) -> None:
        self.add_stat(stat_of(r, self.items))

    def add_stat(self, stat: list, sign: int = 1) -> None:
        """:meth:`add` of :func:`stat_of` one result (for these items); with ``sign`` -1,
        that student taken away (call :meth:`settle` after the last one)."""
        isolation, problems, problem_or_error, failed = stat[:4]
        self.students += sign
        self.isolation[isolation] += sign
        self.with_problems += sign * problems
        self.problem_students += sign * problem_or_error
        if failed:
            self.failed += sign
            return
        score, top, points, mistakes, split, started, failing = stat[4:]
        self.scores[score] += sign
        self.tops[top] += sign
        maxima = []
        for counter, (got, most) in zip(self._item_counters, points, strict=True):
            counter[got] += sign
            maxima.append(most)
        self.item_tops[tuple(maxima)] += sign
        if mistakes:  # (most students: none)
            by_item = dict(mistakes)
            item_mistakes = self.item_mistakes
            for item in self.items:
                if item in by_item:
                    if sign > 0:
                        item_mistakes[item].update(by_item[item])
                    else:
                        item_mistakes[item].subtract(by_item[item])
            pairs = {(m, item) for item, ids in mistakes for m in ids}
            seen = {m for m, _ in pairs}
            if sign > 0:
                self.mistake_students.update(seen)
                self.mistake_items.update(pairs)
            else:
                self.mistake_students.subtract(seen)
                self.mistake_items.subtract(pairs)
        self.splits.add_parsed(split, sign)
        self.hardest.add_parsed(started, failing, sign)

    def settle(self) -> bool:
        """After students were taken away: drop what no student has any more. False when the
        statistics are not those of the students added (one was taken away who was not, or
        the hardest cases' counts are no longer exact): add up the class again then."""
        counters = [self.isolation, self.scores, self.tops, self.item_tops]
        counters += [*self._item_counters, *self.item_mistakes.values()]
        counters += [self.mistake_students, self.mistake_items]
        ints = (self.students, self.failed, self.with_problems, self.problem_students)
        return (
            settle_counts(*counters)
            and min(ints) >= 0
            and self.splits.settle()
            and self.hardest.exact
            and self.hardest.settle()
        )

    def state(self) -> dict | None:
        """The statistics as JSON (:meth:`from_state`); None once the hardest cases' counts
        are not exact (past their cap), which only adding up the class again reproduces."""
        if not self.hardest.exact:
            return None

        def pairs(counter: Counter) -> list:
            return [[k, n] for k, n in counter.items() if n]

        return {
            "items": self.items,
            "n": [self.students, self.failed, self.with_problems, self.problem_students],
            "isolation": pairs(self.isolation),
            "scores": pairs(self.scores),
            "tops": pairs(self.tops),
            "item_scores": [pairs(c) for c in self._item_counters],
            "item_tops": [[list(k), n] for k, n in self.item_tops.items() if n],
            "item_mistakes": [pairs(self.item_mistakes[i]) for i in self.items],
            "mistake_students": pairs(self.mistake_students),
            "mistake_items": [[*k, n] for k, n in self.mistake_items.items() if n],
            "splits": self.splits.state(),
            "hardest": self.hardest.state(),
        }

    @classmethod
    def from_state(cls, items: list[str], state: dict) -> ClassStats:
        """The statistics that :meth:`state` wrote (for the same ``items``); ValueError (or
        another error of a malformed ``state``) when they are not."""
        if state["items"] != list(items):
            raise ValueError("the statistics are of other items")
        stats = cls(items)

        def counts(pairs: list, kind=float) -> Counter:
            return Counter({kind(k): int(n) for k, n in pairs})

        stats.students, stats.failed, stats.with_problems, stats.problem_students = map(
            int, state["n"]
        )
        stats.isolation = counts(state["isolation"], str)
        stats.scores, stats.tops = counts(state["scores"]), counts(state["tops"])
        stats.item_scores = {i: counts(p) for i, p in zip(items, state["item_scores"], strict=True)}
        stats._item_counters = [stats.item_scores[i] for i in stats.items]
        stats.item_tops = counts(state["item_tops"], lambda k: tuple(map(float, k)))
        stats.item_mistakes = {
            i: counts(p, str) for i, p in zip(items, state["item_mistakes"], strict=True)
        }
        stats.mistake_students = counts(state["mistake_students"], str)
        stats.mistake_items = Counter(
            {(str(m), str(i)): int(n) for m, i, n in state["mistake_items"]}
        )
        stats.splits.load(state["splits"])
        stats.hardest.load(state["hardest"])
        return stats

    @classmethod
    def of(cls, results: Iterable[dict], items: list[str]) -> ClassStats:
        stats = cls(items)
        for r in results:
            stats.add(r)
        return stats

    @property
    def graded(self) -> int:
        return self.students - self.failed

    @property
    def top(self) -> float:
        """The highest maximum score of a graded student (0 for none)."""
        return max([0.0, *(t for t, n in self.tops.items() if n > 0)])

    @property
    def item_top(self) -> dict[str, float]:
        """item -> the most points a graded student could earn on it (0 for none)."""
        maxima = [k for k, n in self.item_tops.items() if n > 0]
        return {item: max([0.0, *(k[i] for k in maxima)]) for i, item in enumerate(self.items)}

    def item_stats(self) -> list[dict]:
        """Per item: points, mean score, share of students with full points, mistake counts."""
        out = []
        item_top = self.item_top
        for item in self.items:
            top, counts = item_top[item], self.item_scores[item]
            n = sum(counts.values())
            total = math.fsum(s for s, c in counts.items() for _ in range(c))
            out.append(
                {
                    "item": item,
                    "points": top,
                    "mean": total / n if n else 0.0,
                    "full": sum(c for s, c in counts.items() if top > 0 and s >= top - 1e-9),
                    "none": sum(c for s, c in counts.items() if s <= 1e-9),
                    "students": n,
                    "mistakes": sorted(
                        self.item_mistakes[item].items(), key=lambda kv: (-kv[1], kv[0])
                    ),
                }
            )
        return out

    def score_cards(self) -> list[tuple[str, str]]:
        cards = [("students", str(self.students))]
        if self.scores:
            n = sum(self.scores.values())
            mean = math.fsum(s for s, c in self.scores.items() for _ in range(c)) / n
            cards += [
                ("mean", f"{mean:.1f} / {self.top:g}"),
                ("median", f"{self._median():.1f}"),
                ("lowest", f"{min(self.scores):.1f}"),
                ("highest", f"{max(self.scores):.1f}"),
            ]
        cards.append(("with problems", str(self.with_problems)))
        if self.failed:
            cards.append(("grader failed", str(self.failed)))
        return cards

    def _median(self) -> float:
        n = sum(self.scores.values())
        wanted = [(n - 1) // 2, n // 2]  # the middle one, or the two middle ones
        found, seen = [], 0
        for score in sorted(self.scores):
            seen += self.scores[score]
            while wanted and wanted[0] < seen:
                found.append(score)
                wanted.pop(0)
        return (found[0] + found[1]) / 2

    def overall_mistakes(self) -> list[tuple[str, int, list[str]]]:
        """(mistake, students who made it anywhere, items it was seen in), most frequent first."""
        ranked = sorted(self.mistake_students.items(), key=lambda kv: (-kv[1], kv[0]))
        where: dict[str, set[str]] = {}
        for (m, item), n in self.mistake_items.items():
            if n > 0:
                where.setdefault(m, set()).add(item)
        return [(m, n, sorted(where.get(m, ()))) for m, n in ranked if n > 0]

    def mistake_rows(self) -> list[list]:
        """Rows of mistakes.csv (header first): per item, per mistake id, the number of students."""
        rows: list[list] = [["item", "mistake", "students", "description"]]
        for stat in self.item_stats():
            for mistake, count in stat["mistakes"]:
                rows.append([stat["item"], mistake, count, MISTAKES.get(mistake, "")])
        return rows


def item_stats(results: list[dict], items: list[str]) -> list[dict]:
    """Per item: points, mean score, share of students with full points, mistake counts."""
    return ClassStats.of((r for r in results if not grader_failed(r)), items).item_stats()


def mistake_rows(results: list[dict], items: list[str]) -> list[list]:
    """Rows of mistakes.csv (header first): per item, per mistake id, the number of students."""
    return ClassStats.of(results, items).mistake_rows()


# ---------------------------------------------------------------------------------------------
# The page


def _bar(fraction: float) -> str:
    pct = max(0.0, min(100.0, 100 * fraction))
    return f'<span class="bar"><i style="width:{pct:.0f}%"></i></span>'


def _mistake_label(mistake: str) -> str:
    text = MISTAKES.get(mistake)
    title = f' title="{_e(text)}"' if text else ""
    return f"<code{title}>{_e(mistake)}</code>"


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"


def _head(title: str) -> str:
    """A report page up to its body: the script policy (only the page's own script runs),
    the styles."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}{EXTRA_CSS}{CHART_CSS}</style>\n</head>\n"
        "<body>\n"
    )


_TAIL = f"<script>{_JS}</script>\n</body>\n</html>\n"


def write_page(
    f: IO[str],
    facts: FactsSource,
    stats: ClassStats,
    title: str = "Class report",
    run_info: dict | None = None,
    matrix_page: Path | None = None,
) -> None:
    """Write the class report to ``f``: the class sections from ``stats``, then one pass over
    ``facts()`` (the students' :func:`student_facts`, in student order) for the students
    table, the matrix and the problems. With ``matrix_page`` and a class of more than
    :data:`MATRIX_INLINE` students, the matrix is written there, its own page, and linked."""
    items = stats.items
    istats = stats.item_stats()
    f.write(_head(title))
    parts: list[str] = [f"<h1>{_e(title)}</h1>", *run_section(run_info or {})]
    parts.append(
        '<div class="cards">'
        + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in stats.score_cards())
        + "</div>"
    )
    parts += _isolation_section(stats.isolation)
    if stats.failed:
        parts.append(
            f'<p class="warn">The grader itself failed on {stats.failed} submission(s); they '
            "are left out of the statistics below (regrade them with --force).</p>"
        )
    if not stats.graded:
        parts.append("<p>No graded students yet.</p>")
    else:
        parts.append("<h2>Score distribution</h2>")
        parts.append(histogram_svg(stats.scores.items(), stats.top))
        parts += _items_section(istats, stats.splits.fractions())
        parts += _mistakes_section(stats.overall_mistakes())
        parts += hardest_section(stats.hardest.ranked())
    parts += _STUDENTS_HEAD
    f.write("\n".join(parts) + "\n")
    full_points = [s["points"] for s in istats]
    with _spool() as matrix, _spool() as problems:
        for facts_of_one in facts():
            f.write(_row_html(facts_of_one["row"], full_points) + "\n")
            matrix.write(facts_of_one["mx"] + "\n")
            if facts_of_one["pb"]:
                problems.write(facts_of_one["pb"] + "\n")
        f.write("</tbody></table>\n")
        if stats.students > MATRIX_INLINE and matrix_page is not None:
            f.write(
                f"<h2>Students &times; functions</h2>\n<p>With {stats.students} students the "
                f'matrix has a page of its own: <a href="{MATRIX_PAGE}">{MATRIX_PAGE}</a> '
                "(so that this one opens quickly).</p>\n"
            )
            with open_atomic(matrix_page) as g:
                g.write(_head(f"{title}: students \u00d7 functions"))
                g.write(f'<p><a href="summary.html">{_e(title)}</a></p>\n')
                g.write(matrix_head(items) + "\n")
                _copy(matrix, g)
                g.write(MATRIX_TAIL + "\n" + _TAIL)
        elif stats.students:
            f.write(matrix_head(items) + "\n")
            _copy(matrix, f)
            f.write(MATRIX_TAIL + "\n")
        if not stats.problem_students:
            f.write("<h2>Problems</h2>\n<p>No submission had a problem.</p>\n")
        else:
            f.write(
                "<h2>Problems</h2>\n<p>Broken or incomplete submissions (each was graded for "
                'what worked):</p>\n<ul id="problems" class="problems">\n'
            )
            _copy(problems, f)
            f.write("</ul>\n")
    f.write(_TAIL)


def _spool() -> IO[str]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL, mode="w+", encoding="utf-8")


def _copy(src: IO[str], dest: IO[str]) -> None:
    src.seek(0)
    shutil.copyfileobj(src, dest, 1 << 14)


def class_report_html(
    results: list[dict],
    items: list[str],
    title: str = "Class report",
    run_info: dict | None = None,
    feedback: str = "feedback.html",
) -> str:
    """The class report of a list of results as one self-contained HTML page."""
    results = sorted(results, key=student_of)
    buf = io.StringIO()
    facts = [student_facts(r, items, feedback) for r in results]
    stats = ClassStats(items)
    for one in facts:
        stats.add_stat(one["s"])
    write_page(buf, lambda: iter(facts), stats, title, run_info)
    return buf.getvalue()


def _isolation_section(levels: Counter[str]) -> list[str]:
    if not levels:
        return []
    lines = []
    for level, count in sorted(levels.items()):
        cls = ' class="warn"' if level == "process-group" else ""
        text = LEVEL_TEXT.get(level, "")
        lines.append(
            f"<li{cls}><code>{_e(level)}</code> ({count} student(s))"
            + (f": {_e(text)}" if text else "")
            + "</li>"
        )
    return ["<h2>Isolation</h2>", "<p>How student code was run:</p>", "<ul>", *lines, "</ul>"]


def _items_section(
    stats: list[dict], splits: dict[str, tuple[float, float]] | None = None
) -> list[str]:
    rows = []
    splits = splits or {}
    for s in stats:
        pub, hid = splits.get(s["item"], (0.0, 0.0))
        gap = ' class="warn"' if pub - hid > 0.25 else ""
        mean_frac = s["mean"] / s["points"] if s["points"] else 0.0
        full_frac = s["full"] / s["students"] if s["students"] else 0.0
        mistakes = ", ".join(f"{_mistake_label(m)}&nbsp;({n})" for m, n in s["mistakes"])
        rows.append(
            f'<tr><td><code>{_e(s["item"])}</code></td><td class="n">{s["points"]:g}</td>'
            f'<td class="n" data-v="{s["mean"]:.6g}">{_g(s["mean"])}</td>'
            f'<td class="n" data-v="{mean_frac:.6g}">{_bar(mean_frac)} '
            f'<span class="pc">{100 * mean_frac:.0f}%</span></td>'
            f'<td class="n" data-v="{full_frac:.6g}">{100 * full_frac:.0f}% '
            f'<span class="muted">({s["full"]}/{s["students"]})</span></td>'
            f'<td class="n" data-v="{pub:.6g}">{100 * pub:.0f}%</td>'
            f'<td class="n" data-v="{hid:.6g}"><span{gap}>{100 * hid:.0f}%</span></td>'
            f"<td>{mistakes or '-'}</td></tr>"
        )
    return [
        "<h2>By function</h2>",
        items_svg(stats),
        '<table id="items" class="sortable"><thead><tr><th>function</th><th class="n">points'
        '</th><th class="n">mean score</th><th class="n">mean %</th><th class="n">full points'
        '</th><th class="n" title="mean share of the points of the public cases">public</th>'
        '<th class="n" title="mean share of the points of the hidden cases (red: 25 points '
        'below public)">hidden</th><th>named mistakes (students)</th></tr></thead><tbody>',
        *rows,
        "</tbody></table>",
    ]


def _mistakes_section(ranked: list[tuple[str, int, list[str]]]) -> list[str]:
    if not ranked:
        return ["<h2>Most frequent mistakes</h2>", "<p>No named mistake was detected.</p>"]
    rows = [
        f"<tr><td><code>{_e(m)}</code></td><td>{_e(MISTAKES.get(m, ''))}</td>"
        f'<td class="n">{n}</td><td>{", ".join(f"<code>{_e(i)}</code>" for i in where)}</td></tr>'
        for m, n, where in ranked[:TOP_MISTAKES]
    ]
    more = len(ranked) - TOP_MISTAKES
    return [
        "<h2>Most frequent mistakes</h2>",
        '<table id="mistakes" class="sortable"><thead><tr><th>mistake</th><th>what it means'
        '</th><th class="n">students</th><th>seen in</th></tr></thead><tbody>',
        *rows,
        "</tbody></table>",
        *([f'<p class="muted">... and {more} more in mistakes.csv.</p>'] if more > 0 else []),
    ]


_STUDENTS_HEAD = [
    "<h2>Students</h2>",
    '<p class="muted">Click a column to sort; a name opens the student\'s feedback.</p>',
    '<table id="students" class="sortable"><thead><tr><th>student</th><th class="n">score'
    '</th><th class="n">%</th><th class="n">full-point functions</th><th class="n">'
    'mistakes</th><th>named mistakes</th><th class="n">problems</th><th>isolation</th>'
    "</tr></thead><tbody>",
]


def _student_row(
    r: dict, full_points: dict[str, float], feedback: str, points: dict[str, tuple[float, float]]
) -> str:
    items = list(full_points)
    return _row_html(_row_parts(r, feedback, points, items), [full_points[i] for i in items])


def _row_parts(
    r: dict, feedback: str, points: dict[str, tuple[float, float]], items: list[str]
) -> list:
    """A student's row of the students table but its count of full-point functions (which
    depends on the whole class): [the cells before it, the cells after it, its score per
    item]."""
    extra = r.get("extra_data", {})
    student = student_of(r)
    score = float(r.get("score", 0.0))
    top = float(extra.get("max_score", 0.0))
    mistakes = sorted({m for ids in item_mistakes(r).values() for m in ids})
    problems = len(extra.get("problems") or []) + bool(extra.get("error"))
    link = f"{quote(student, safe='')}/{feedback}"
    status = '<span class="warn">grader failed</span>' if grader_failed(r) else ""
    before = (
        f'<tr><td><a href="{_e(link)}">{_e(student)}</a> {status}</td>'
        f'<td class="n" data-v="{score:.6g}">{round(score, 2):g}</td>'
        f'<td class="n" data-v="{score / top if top else 0:.6g}">'
        f"{100 * score / top if top else 0:.0f}%</td>"
    )
    after = (
        f'<td class="n">{len(mistakes)}</td>'
        f"<td>{', '.join(_mistake_label(m) for m in mistakes) or '-'}</td>"
        f'<td class="n">{problems}</td>'
        f"<td><code>{_e(extra.get('isolation') or '')}</code></td></tr>"
    )
    return [before, after, [float(points.get(i, (0, 0))[0]) for i in items]]


def _row_html(parts: list, full_points: list[float]) -> str:
    before, after, scores = parts
    full = sum(1 for s, p in zip(scores, full_points, strict=True) if p > 0 and s >= p - 1e-9)
    return f'{before}<td class="n">{full}/{len(full_points)}</td>{after}'


def student_facts(r: dict, items: list[str], feedback: str) -> dict:
    """Everything the class report reads of one result, for ``items`` and links to
    ``feedback``: its :func:`stat_of`, its students-table row (:func:`_row_parts`), its
    matrix row and its problems entry. The folder's index keeps them (a report then reads no
    result again); the page built from them is the page built from the results."""
    points = item_points(r)
    return {
        "s": stat_of(r, items),
        "row": _row_parts(r, feedback, points, items),
        "mx": matrix_row(r, items, feedback, points),
        "pb": _problem_entry(r),
    }


def _problem_entry(r: dict) -> str:
    extra = r.get("extra_data", {})
    lines = [_e(p) for p in extra.get("problems") or []]
    if extra.get("error"):
        lines.append(f'<span class="warn">grader failed: {_e(extra["error"])}</span>')
    if not lines:
        return ""
    items = "".join(f"<li>{line}</li>" for line in lines)
    return f"<li><b>{_e(student_of(r))}</b><ul>{items}</ul></li>"


def write_class_report(
    out: Path,
    results: list[dict] | Source,
    items: list[str],
    config=None,
    stats: ClassStats | None = None,
    facts: FactsSource | None = None,
) -> Path:
    """Write ``out/summary.html`` and ``out/mistakes.csv``; return the path of the page.

    ``results``: a list, or a callable giving a fresh pass over the students in student order;
    or ``facts``: a callable giving a fresh pass over their :func:`student_facts` (from the
    folder's index, :func:`feedback_of` the folder; ``results`` is then not read). The page is
    streamed; ``stats``, when given, are those students' :class:`ClassStats`, so that the
    caller's own pass is not repeated. With ``config`` (``grade run``), also ``out/run.json``
    (assignment, date, config digest); without (``grade report``), the run.json already there
    is used."""
    out = Path(out)
    if facts is None:
        if callable(results):
            source: Source = results
        else:
            ordered = sorted(results, key=student_of)
            source = lambda: iter(ordered)  # noqa: E731
        first = next(iter(source()), None)
        html_feedback = first is not None and _has_html_feedback(out, source(), first)
        feedback = "feedback.html" if html_feedback or first is None else "feedback.md"
        facts = lambda: (student_facts(r, items, feedback) for r in source())  # noqa: E731
    if stats is None:  # (facts of the page alone come with their stats)
        stats = ClassStats(items)
        for one in facts():
            stats.add_stat(one["s"])
    if config is not None:
        write_run_info(out, config)
    info = read_run_info(out)
    title = f"Class report: {info['assignment']}" if info.get("assignment") else "Class report"
    with open_atomic(out / "mistakes.csv") as f:
        csv_write(f, stats.mistake_rows())
    path = out / "summary.html"
    with open_atomic(path) as f:
        write_page(f, facts, stats, title, info, matrix_page=out / MATRIX_PAGE)
    if stats.students <= MATRIX_INLINE:  # a smaller class than last time: the matrix is inline
        (out / MATRIX_PAGE).unlink(missing_ok=True)
    old = out / OLD_PLOT_CACHE
    if old.is_file() and not old.is_symlink():
        old.unlink(missing_ok=True)
    return path


FACTS_FORMAT = 3  # of report_facts' output (the key also covers the code that makes it)
_FACTS_CODE = ("summary", "summary_extra", "summary_charts", "report", "exports", "results")


Facts = Callable[[dict], list[dict]]


def report_facts(items: list[str], feedback: str) -> tuple[str, Facts]:
    """(key, build): ``build(record)`` is everything the gradebook, the CLI's totals and the
    class report read of one student, for ``items`` and links to ``feedback``, in three parts:
    its gradebook.csv line ``"gb"`` and its totals ``"t"`` ([has problems, not graded,
    student, score]); its :func:`stat_of` (these two, what the first pass reads); the rest of
    its :func:`student_facts` (what the page's pass reads). ``key`` names them: it changes with the
    items, the links, the mistakes' descriptions and the code that builds them, so the facts
    a folder's index keeps are used only while they are the facts this kit would build."""
    return _report_facts(tuple(items), feedback)


@functools.lru_cache(maxsize=8)
def _report_facts(items: tuple[str, ...], feedback: str) -> tuple[str, Facts]:
    h = hashlib.sha256(f"{FACTS_FORMAT}|{feedback}|{items!r}|{sorted(MISTAKES.items())!r}".encode())
    for name in _FACTS_CODE:
        module = sys.modules[f"{__package__}.{name}"]
        h.update(Path(module.__file__).read_bytes())

    def build(r: dict) -> list[dict]:
        extra = r.get("extra_data", {})
        page = student_facts(r, items, feedback)
        first = {
            "gb": csv_text([gradebook_row(r, items)]),
            "t": [
                bool(extra.get("problems")),
                not_graded(extra),
                str(extra.get("student", "?")),
                0.0 if not_graded(extra) else r["score"],
            ],
        }
        return [first, page.pop("s"), page]  # the first pass's two, the page's

    return h.hexdigest()[:24], build


def write_index_reports(
    out: Path,
    index,
    items: list[str],
    config=None,
    gradebook: IO[str] | None = None,
    totals=None,
    stats: ClassStats | None = None,
) -> tuple[Path, ClassStats]:
    """The class report (and the gradebook's rows to ``gradebook``, the CLI's counts to
    ``totals.add_fact``) of a folder's :class:`autograder.index.Index`, in two passes over it
    that read each student's facts (:func:`report_facts`) and hold one student at a time;
    the index is saved after (it compacts only when the lines rewritten are worth it).
    Returns the page's path and the class's statistics. With ``stats`` (known: a regrade of
    a few students updated those of the last report), the first pass reads only the
    gradebook lines and totals, not every student's statistics."""
    key, build = report_facts(items, feedback_of(out, sorted(index.entries)))
    facts = index.facts(key, build)
    adding = stats is None
    stats = ClassStats(items) if stats is None else stats
    if adding or gradebook is not None or totals is not None:
        for first, *stat in facts(0, 1, shared=(1,)) if adding else facts(0):
            if gradebook is not None:
                gradebook.write(first["gb"])
            if totals is not None:
                totals.add_fact(first["t"])
            if adding:
                stats.add_stat(stat[0])
    page = lambda: (one for (one,) in facts(2))  # noqa: E731
    path = write_class_report(out, [], items, config, stats=stats, facts=page)
    index.save()
    return path, stats


def feedback_of(out: Path, students: list[str]) -> str:
    """The feedback file the report links to: feedback.html when any student of ``out`` has
    one (the first one almost always answers), else feedback.md."""
    if not students or (out / students[0] / "feedback.html").is_file():
        return "feedback.html"
    found = any((out / s / "feedback.html").is_file() for s in students)
    return "feedback.html" if found else "feedback.md"


def _has_html_feedback(out: Path, results: Iterator[dict] | Iterable[dict], first: dict) -> bool:
    """Any student has a feedback.html (the first one almost always answers)."""
    if (out / student_of(first) / "feedback.html").is_file():
        return True
    return any((out / student_of(r) / "feedback.html").is_file() for r in results)
