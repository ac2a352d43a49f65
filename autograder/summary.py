"""The class report: ``DIR/summary.html`` and ``DIR/mistakes.csv`` from the results.json files.

``class_report_html(results, items)`` is a pure function (results dicts -> one self-contained
HTML page: inline CSS and JS, plots as base64 PNG, no external resource). Every string that
comes from a submission (student ids, problems, messages) is escaped with ``html.escape``, and
the page's Content-Security-Policy allows only its own script (by hash) and ``data:`` images,
so even markup that slipped through could not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import statistics
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from .exports import grader_failed, item_mistakes, item_points, student_of
from .report import csv_text, write_atomic
from .sandbox.isolation import LEVEL_TEXT
from .summary_extra import (
    EXTRA_CSS,
    hardest_section,
    matrix_section,
    read_run_info,
    run_section,
    split_fractions,
    write_run_info,
)
from .topics import MISTAKES

TOP_MISTAKES = 15

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
img{max-width:100%}ul.problems li{margin:.15em 0}td code,td a{white-space:nowrap}
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
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _g(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------
# Statistics


def item_stats(results: list[dict], items: list[str]) -> list[dict]:
    """Per item: points, mean score, share of students with full points, mistake counts."""
    stats = []
    points = [item_points(r) for r in results]
    mistakes = [item_mistakes(r) for r in results]
    for item in items:
        top = max((p.get(item, (0.0, 0.0))[1] for p in points), default=0.0)
        scores = [p.get(item, (0.0, 0.0))[0] for p in points]
        counts = Counter(m for ms in mistakes for m in ms.get(item, []))
        stats.append(
            {
                "item": item,
                "points": top,
                "mean": statistics.fmean(scores) if scores else 0.0,
                "full": sum(top > 0 and s >= top - 1e-9 for s in scores),
                "none": sum(s <= 1e-9 for s in scores),
                "students": len(scores),
                "mistakes": counts.most_common(),
            }
        )
    return stats


def mistake_rows(results: list[dict], items: list[str]) -> list[list]:
    """Rows of mistakes.csv (header first): per item, per mistake id, the number of students."""
    rows: list[list] = [["item", "mistake", "students", "description"]]
    for stat in item_stats([r for r in results if not grader_failed(r)], items):
        for mistake, count in stat["mistakes"]:
            rows.append([stat["item"], mistake, count, MISTAKES.get(mistake, "")])
    return rows


def _overall_mistakes(results: list[dict]) -> list[tuple[str, int, list[str]]]:
    """(mistake, students who made it anywhere, items it was seen in), most frequent first."""
    students: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    for r in results:
        seen: set[str] = set()
        for item, ids in item_mistakes(r).items():
            for m in ids:
                seen.add(m)
                where.setdefault(m, set()).add(item)
        students.update(seen)
    ranked = sorted(students.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(m, n, sorted(where[m])) for m, n in ranked]


# ---------------------------------------------------------------------------------------------
# Plots (matplotlib's Agg canvas directly: no pyplot, no global backend state)


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def histogram_png(scores: list[float], top: float) -> str:
    from matplotlib.figure import Figure

    top = top or max(scores, default=0.0) or 1.0
    width = top / 20
    edges = [i * width for i in range(21)]
    fig = Figure(figsize=(7.5, 2.8))
    ax = fig.add_subplot()
    ax.hist([min(max(s, 0.0), top) for s in scores], bins=edges, color="#3b6fb6", ec="white")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def items_png(stats: list[dict]) -> str:
    """Per function, how the class splits: full points, partial, nothing (the table gives the
    means; this shows where students stand)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.8 + 0.22 * len(stats)))
    ax = fig.add_subplot()
    labels = [s["item"] for s in stats][::-1]
    n = [max(s["students"], 1) for s in stats][::-1]
    full = [100 * s["full"] / k for s, k in zip(stats[::-1], n, strict=True)]
    none = [100 * s.get("none", 0) / k for s, k in zip(stats[::-1], n, strict=True)]
    partial = [max(0.0, 100 - f - z) for f, z in zip(full, none, strict=True)]
    ys = list(range(len(stats)))
    ax.barh(ys, full, height=0.7, color="#2e7d32", label="full points")
    ax.barh(ys, partial, left=full, height=0.7, color="#f2c14e", label="partial")
    left = [f + p for f, p in zip(full, partial, strict=True)]
    ax.barh(ys, none, left=left, height=0.7, color="#c62828", label="no points")
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students", fontsize=8)
    ax.set_ylim(-0.6, len(stats) - 0.4)
    ax.legend(loc="lower right", fontsize=8, frameon=False, bbox_to_anchor=(1.0, 1.0), ncol=3)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# The page


def _img(ident: str, alt: str, plot) -> str:
    """An embedded PNG plot, or a note when matplotlib is missing (the tables still work)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            '<p class="warn">Plots need matplotlib: pip install -e ".[grade]", then '
            "grade report.</p>"
        )
    return f'<img id="{ident}" alt="{_e(alt)}" src="data:image/png;base64,{plot()}">'


def _bar(fraction: float) -> str:
    pct = max(0.0, min(100.0, 100 * fraction))
    return f'<span class="bar"><i style="width:{pct:.0f}%"></i></span>'


def _mistake_label(mistake: str) -> str:
    text = MISTAKES.get(mistake)
    title = f' title="{_e(text)}"' if text else ""
    return f"<code{title}>{_e(mistake)}</code>"


def class_report_html(
    results: list[dict],
    items: list[str],
    title: str = "Class report",
    run_info: dict | None = None,
    feedback: str = "feedback.html",
) -> str:
    """The class report as one self-contained HTML page."""
    results = sorted(results, key=student_of)
    ok = [r for r in results if not grader_failed(r)]
    failed = [r for r in results if grader_failed(r)]
    scores = [float(r.get("score", 0.0)) for r in ok]
    top = max((float(r.get("extra_data", {}).get("max_score", 0.0)) for r in ok), default=0.0)
    stats = item_stats(ok, items)
    parts: list[str] = [f"<h1>{_e(title)}</h1>", *run_section(run_info or {})]

    cards = [("students", str(len(results)))]
    if scores:
        cards += [
            ("mean", f"{statistics.fmean(scores):.1f} / {top:g}"),
            ("median", f"{statistics.median(scores):.1f}"),
            ("lowest", f"{min(scores):.1f}"),
            ("highest", f"{max(scores):.1f}"),
        ]
    with_problems = sum(bool(r.get("extra_data", {}).get("problems")) for r in results)
    cards.append(("with problems", str(with_problems)))
    if failed:
        cards.append(("grader failed", str(len(failed))))
    parts.append(
        '<div class="cards">'
        + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards)
        + "</div>"
    )
    parts += _isolation_section(results)
    if failed:
        parts.append(
            f'<p class="warn">The grader itself failed on {len(failed)} submission(s); they '
            "are left out of the statistics below (regrade them with --force).</p>"
        )
    if not ok:
        parts.append("<p>No graded students yet.</p>")
    else:
        parts.append("<h2>Score distribution</h2>")
        parts.append(
            _img(
                "histogram",
                f"histogram of the scores of {len(scores)} students",
                lambda: histogram_png(scores, top),
            )
        )
        parts += _items_section(stats, split_fractions(ok, items))
        parts += _mistakes_section(ok)
        parts += hardest_section(ok)
    parts += _students_section(results, stats, feedback)
    parts += matrix_section(results, items, feedback)
    parts += _problems_section(results)
    digest = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}{EXTRA_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
    )


def _isolation_section(results: list[dict]) -> list[str]:
    levels = Counter(str(r.get("extra_data", {}).get("isolation") or "unknown") for r in results)
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
        _img(
            "items-plot",
            "share of students with full, partial and no points per function",
            lambda: items_png(stats),
        ),
        '<table id="items" class="sortable"><thead><tr><th>function</th><th class="n">points'
        '</th><th class="n">mean score</th><th class="n">mean %</th><th class="n">full points'
        '</th><th class="n" title="mean share of the points of the public cases">public</th>'
        '<th class="n" title="mean share of the points of the hidden cases (red: 25 points '
        'below public)">hidden</th><th>named mistakes (students)</th></tr></thead><tbody>',
        *rows,
        "</tbody></table>",
    ]


def _mistakes_section(results: list[dict]) -> list[str]:
    ranked = _overall_mistakes(results)
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


def _students_section(
    results: list[dict], stats: list[dict], feedback: str = "feedback.html"
) -> list[str]:
    full_points = {s["item"]: s["points"] for s in stats}
    rows = []
    for r in results:
        extra = r.get("extra_data", {})
        student = student_of(r)
        score = float(r.get("score", 0.0))
        top = float(extra.get("max_score", 0.0))
        points = item_points(r)
        full = sum(
            1 for i, p in full_points.items() if p > 0 and points.get(i, (0, 0))[0] >= p - 1e-9
        )
        mistakes = sorted({m for ids in item_mistakes(r).values() for m in ids})
        problems = len(extra.get("problems") or []) + bool(extra.get("error"))
        link = f"{quote(student, safe='')}/{feedback}"
        status = '<span class="warn">grader failed</span>' if grader_failed(r) else ""
        rows.append(
            f'<tr><td><a href="{_e(link)}">{_e(student)}</a> {status}</td>'
            f'<td class="n" data-v="{score:.6g}">{round(score, 2):g}</td>'
            f'<td class="n" data-v="{score / top if top else 0:.6g}">'
            f"{100 * score / top if top else 0:.0f}%</td>"
            f'<td class="n">{full}/{len(full_points)}</td>'
            f'<td class="n">{len(mistakes)}</td>'
            f"<td>{', '.join(_mistake_label(m) for m in mistakes) or '-'}</td>"
            f'<td class="n">{problems}</td>'
            f"<td><code>{_e(extra.get('isolation') or '')}</code></td></tr>"
        )
    return [
        "<h2>Students</h2>",
        '<p class="muted">Click a column to sort; a name opens the student\'s feedback.</p>',
        '<table id="students" class="sortable"><thead><tr><th>student</th><th class="n">score'
        '</th><th class="n">%</th><th class="n">full-point functions</th><th class="n">'
        'mistakes</th><th>named mistakes</th><th class="n">problems</th><th>isolation</th>'
        "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]


def _problems_section(results: list[dict]) -> list[str]:
    entries = []
    for r in results:
        extra = r.get("extra_data", {})
        lines = [_e(p) for p in extra.get("problems") or []]
        if extra.get("error"):
            lines.append(f'<span class="warn">grader failed: {_e(extra["error"])}</span>')
        if lines:
            items = "".join(f"<li>{line}</li>" for line in lines)
            entries.append(f"<li><b>{_e(student_of(r))}</b><ul>{items}</ul></li>")
    if not entries:
        return ["<h2>Problems</h2>", "<p>No submission had a problem.</p>"]
    return [
        "<h2>Problems</h2>",
        "<p>Broken or incomplete submissions (each was graded for what worked):</p>",
        '<ul id="problems" class="problems">',
        *entries,
        "</ul>",
    ]


def write_class_report(out: Path, results: list[dict], items: list[str], config=None) -> Path:
    """Write ``out/summary.html`` and ``out/mistakes.csv``; return the path of the page.

    With ``config`` (``grade run``), also ``out/run.json`` (assignment, date, config digest);
    without (``grade report``), the run.json already there is used."""
    out = Path(out)
    if config is not None:
        write_run_info(out, config)
    info = read_run_info(out)
    html_feedback = any((out / student_of(r) / "feedback.html").is_file() for r in results)
    feedback = "feedback.html" if html_feedback or not results else "feedback.md"
    title = f"Class report: {info['assignment']}" if info.get("assignment") else "Class report"
    write_atomic(out / "mistakes.csv", csv_text(mistake_rows(results, items)))
    path = out / "summary.html"
    write_atomic(path, class_report_html(results, items, title, info, feedback))
    return path
