"""The class report's two charts as inline SVG, drawn in pure Python (no plotting library).

``histogram_svg``: the students per score bin (20 bins over 0..the maximum score);
``items_svg``: per function, the share of students with full, partial and no points. Each
chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (what screen readers
announce), a ``<title>`` per bar (its numbers on hover), and a table of the same numbers in a
``<details>`` element under it. Every text is escaped; the page's CSP needs nothing for them.
"""

from __future__ import annotations

import html
import math
from bisect import bisect_right
from collections.abc import Iterable

BINS = 20
BLUE, GREEN, YELLOW, RED = "#3b6fb6", "#2e7d32", "#f2c14e", "#c62828"
_AXIS = 'stroke="#1d2330" stroke-width="1"'
_FONT = 'font-family="system-ui,-apple-system,Segoe UI,sans-serif" fill="#1d2330"'

CHART_CSS = (
    "svg.chart{display:block;max-width:100%;height:auto}"
    "details.numbers{margin:.2em 0 .8em}details.numbers summary{cursor:pointer;color:#667085}"
    "details.numbers table{width:auto}"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    """A coordinate: at most two decimals."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _g(value: float) -> str:
    return f"{value:.4g}"


def histogram_counts(scores: Iterable[tuple[float, int]], top: float) -> tuple[float, list[int]]:
    """(top, students per bin) from (score, students) pairs: 20 equal bins over [0, top], each
    closed on the left, the last one also on the right (numpy's and matplotlib's rule); scores
    outside are clipped to the range."""
    pairs = list(scores)
    top = top or max((s for s, _ in pairs), default=0.0) or 1.0
    edges = [i * (top / BINS) for i in range(BINS + 1)]
    counts = [0] * BINS
    for score, n in pairs:
        s = min(max(float(score), 0.0), top)
        counts[min(max(bisect_right(edges, s) - 1, 0), BINS - 1)] += n
    return top, counts


def _nice_step(largest: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks up to
    ``largest``."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def histogram_svg(scores: Iterable[tuple[float, int]], top: float, ident: str = "histogram") -> str:
    """The score histogram; ``scores``: (score, number of students with it) pairs."""
    top, counts = histogram_counts(scores, top)
    students = sum(counts)
    width, height, left, right, up, down = 750, 280, 52, 16, 18, 46
    plot_w, plot_h = width - left - right, height - up - down
    step = max(1, math.ceil(_nice_step(max(counts, default=0))))  # whole students
    ymax = max(step * math.ceil(max(counts, default=0) / step), step)
    bin_w = plot_w / BINS
    edges = [i * (top / BINS) for i in range(BINS + 1)]

    def y(v: float) -> float:
        return up + plot_h - plot_h * v / ymax

    desc = f"{students} students; " + "; ".join(
        f"{_g(edges[i])} to {_g(edges[i + 1])}: {c}" for i, c in enumerate(counts) if c
    )
    out = [
        f'<svg id="{ident}" class="chart" role="img" aria-labelledby="{ident}-title '
        f'{ident}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'{_FONT} font-size="12">',
        f'<title id="{ident}-title">Histogram of the scores of {students} students (out of '
        f"{top:g})</title>",
        f'<desc id="{ident}-desc">{_e(desc)}</desc>',
    ]
    for v in range(0, ymax + 1, step):  # y axis: ticks and light grid lines
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{_n(y(v))}" y2="{_n(y(v))}" '
            'stroke="#eef1f5"/>'
            f'<text x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end">{v}</text>'
        )
    for i, c in enumerate(counts):
        if not c:
            continue
        x = left + i * bin_w
        label = f"{_g(edges[i])} to {_g(edges[i + 1])}: {c} student(s)"
        out.append(
            f'<rect x="{_n(x + 0.5)}" y="{_n(y(c))}" width="{_n(bin_w - 1)}" '
            f'height="{_n(y(0) - y(c))}" fill="{BLUE}"><title>{_e(label)}</title></rect>'
            f'<text x="{_n(x + bin_w / 2)}" y="{_n(y(c) - 4)}" text-anchor="middle" '
            f'font-size="11">{c}</text>'
        )
    out.append(f'<line x1="{left}" x2="{left}" y1="{up}" y2="{up + plot_h}" {_AXIS}/>')
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{up + plot_h}" y2="{up + plot_h}" {_AXIS}/>'
    )
    for k in range(6):  # x axis: 0, 20 %, ... of the maximum score
        x = left + plot_w * k / 5
        out.append(
            f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{up + plot_h}" y2="{up + plot_h + 5}" '
            f'{_AXIS}/><text x="{_n(x)}" y="{up + plot_h + 18}" text-anchor="middle">'
            f"{_g(top * k / 5)}</text>"
        )
    out.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">score (out '
        f"of {top:g})</text>"
        f'<text transform="translate(14 {up + plot_h / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">students</text></svg>'
    )
    rows = "".join(
        f'<tr><td>{_g(edges[i])} to {_g(edges[i + 1])}</td><td class="n">{c}</td></tr>'
        for i, c in enumerate(counts)
    )
    out.append(
        '<details class="numbers"><summary>The numbers</summary><table><thead><tr>'
        '<th>score</th><th class="n">students</th></tr></thead><tbody>'
        f"{rows}</tbody></table></details>"
    )
    return "\n".join(out)


def item_split(stat: dict) -> tuple[float, float, float]:
    """(full, partial, none) percent of the students for one function's statistics."""
    n = max(stat["students"], 1)
    full = 100 * stat["full"] / n
    none = 100 * stat.get("none", 0) / n
    return full, max(0.0, 100 - full - none), none


def items_svg(stats: list[dict], ident: str = "items-plot") -> str:
    """Per function, how the class splits: full points, partial, nothing (the table under it
    gives the means; this shows where students stand)."""
    row_h, label_w, right, up, down = 19, 230, 16, 34, 40
    width = 750
    plot_w = width - label_w - right
    height = up + row_h * len(stats) + down
    colors = (("full points", GREEN), ("partial", YELLOW), ("no points", RED))
    out = [
        f'<svg id="{ident}" class="chart" role="img" aria-labelledby="{ident}-title '
        f'{ident}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'{_FONT} font-size="11">',
        f'<title id="{ident}-title">Share of students with full, partial and no points per '
        "function</title>",
        f'<desc id="{ident}-desc">'
        + _e(
            "; ".join(
                f"{s['item']}: {s['full']} full, "
                f"{s['students'] - s['full'] - s.get('none', 0)} partial, "
                f"{s.get('none', 0)} none of {s['students']}"
                for s in stats
            )
        )
        + "</desc>",
    ]
    x = label_w
    for name, color in colors:  # the legend, above the bars
        out.append(
            f'<rect x="{x}" y="10" width="12" height="10" fill="{color}"/>'
            f'<text x="{x + 16}" y="19">{name}</text>'
        )
        x += 16 + 7 * len(name) + 18
    for k in range(6):  # grid and x axis: 0 % .. 100 %
        gx = label_w + plot_w * k / 5
        out.append(
            f'<line x1="{_n(gx)}" x2="{_n(gx)}" y1="{up - 4}" y2="{up + row_h * len(stats)}" '
            f'stroke="#eef1f5"/><text x="{_n(gx)}" y="{up + row_h * len(stats) + 16}" '
            f'text-anchor="middle">{20 * k}</text>'
        )
    for i, s in enumerate(stats):
        y = up + i * row_h
        out.append(
            f'<text x="{label_w - 6}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
            f"{_e(s['item'])}</text>"
        )
        left = 0.0
        counts = (s["full"], s["students"] - s["full"] - s.get("none", 0), s.get("none", 0))
        for (name, color), pct, count in zip(colors, item_split(s), counts, strict=True):
            if pct <= 0:
                continue
            tip = f"{s['item']}: {name} {count}/{s['students']} ({pct:.0f}%)"
            out.append(
                f'<rect x="{_n(label_w + plot_w * left / 100)}" y="{y + 3}" '
                f'width="{_n(plot_w * pct / 100)}" height="{row_h - 6}" fill="{color}">'
                f"<title>{_e(tip)}</title></rect>"
            )
            left += pct
    bottom = up + row_h * len(stats)
    out.append(f'<line x1="{label_w}" x2="{label_w}" y1="{up - 4}" y2="{bottom}" {_AXIS}/>')
    out.append(
        f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{bottom}" y2="{bottom}" {_AXIS}/>'
        f'<text x="{label_w + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        "% of students</text></svg>"
    )
    rows = []
    for s in stats:
        full, partial, none = item_split(s)
        rows.append(
            f'<tr><td><code>{_e(s["item"])}</code></td><td class="n">{full:.0f}%</td>'
            f'<td class="n">{partial:.0f}%</td><td class="n">{none:.0f}%</td>'
            f'<td class="n">{s["students"]}</td></tr>'
        )
    out.append(
        '<details class="numbers"><summary>The numbers</summary><table><thead><tr>'
        '<th>function</th><th class="n">full points</th><th class="n">partial</th>'
        '<th class="n">no points</th><th class="n">students</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></details>"
    )
    return "\n".join(out)
