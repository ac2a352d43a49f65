"""Sections of the class report an instructor acts on: what was graded (assignment, date,
config digest, the development-secret warning), public versus hidden points per function, a
student x function matrix and the cases most students fail.

Everything is read from the results.json dicts (and ``DIR/run.json``, written by ``grade run``
with the config's name and digest), and every string is escaped.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from collections import Counter
from datetime import datetime, timezone
from fractions import Fraction
from itertools import chain, repeat
from pathlib import Path
from urllib.parse import quote

from .config import Config
from .exports import grader_failed, item_points, student_of

RUN_FILE = "run.json"
HARDEST = 12
_TITLE = re.compile(r"^(?P<name>\w+) \((?P<module>\w+)\.py\) - (?P<group>public|hidden) cases$")
_FAILED = re.compile(r"^- FAILED: `(?P<case>[^`]*)`")


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def config_digest(config: Config) -> str:
    """A short digest of everything in the config that decides a score, the secret included
    (as an HMAC-free hash of a hash: the digest reveals nothing about it)."""
    h = hashlib.sha256()
    h.update(repr(sorted(config.points.items())).encode())
    h.update(
        f"{config.assignment}|{config.public_share}|{config.public_visibility}|"
        f"{config.hidden_visibility}|{config.limits!r}".encode()
    )
    h.update(hashlib.sha256(b"secret:" + config.secret.encode()).digest())
    return h.hexdigest()[:12]


def run_info(config: Config) -> dict:
    """What ``DIR/run.json`` says of a run with ``config`` (graded now)."""
    return {
        "assignment": config.assignment,
        "graded_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config_digest": config_digest(config),
        "development_secret": config.secret_is_default,
        "points": config.total,
        "public_share": config.public_share,
    }


def write_run_info(out: Path, config: Config) -> dict:
    """``DIR/run.json``: what this folder was graded with (read back by ``grade report``)."""
    from .report import write_atomic

    info = run_info(config)
    write_atomic(Path(out) / RUN_FILE, json.dumps(info, indent=1) + "\n")
    return info


def read_run_info(out: Path) -> dict:
    try:
        data = json.loads((Path(out) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_section(info: dict) -> list[str]:
    if not info:
        return ['<p class="muted">Graded with an unknown config (no run.json in this folder).</p>']
    parts = [
        '<p class="meta">'
        f"Assignment <b>{_e(info.get('assignment', '?'))}</b> &middot; graded "
        f"{_e(info.get('graded_at', '?'))} &middot; config digest "
        f"<code>{_e(info.get('config_digest', '?'))}</code> &middot; "
        f"public share {100 * float(info.get('public_share', 0)):.0f}% of "
        f"{float(info.get('points', 0)):g} points</p>"
    ]
    if info.get("development_secret"):
        parts.append(
            '<p class="warn" id="dev-secret"><b>Graded with the kit\'s development secret.</b> '
            "Anyone with the kit can compute these hidden cases: set CNN_GRADE_SECRET (or "
            "[grading] secret) and regrade with --force before publishing.</p>"
        )
    return parts


@functools.lru_cache(maxsize=4096)
def _title(name: str) -> tuple[str, str] | None:
    """(item, group) of a test's title, or None: every student's tests have the same few
    titles, so each is parsed once."""
    m = _TITLE.match(name)
    return (f"{m['module']}.{m['name']}", m["group"]) if m else None


def split_points(result: dict) -> dict[str, dict[str, tuple[float, float]]]:
    """item -> group -> (score, max) of one student."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for test in result.get("tests", []):
        title = _title(str(test.get("name", "")))
        if title:
            item, group = title
            out.setdefault(item, {})[group] = (
                float(test.get("score", 0.0)),
                float(test.get("max_score", 0.0)),
            )
    return out


def splits_of(result: dict, items: list[str]) -> list[list[float]]:
    """Per item of ``items``: [public score, public max, hidden score, hidden max]."""
    split = split_points(result)
    out = []
    for item in items:
        groups = split.get(item, {})
        out.append([*groups.get("public", (0.0, 0.0)), *groups.get("hidden", (0.0, 0.0))])
    return out


class Splits:
    """Per item and group (public, hidden): the points earned by the graded students, added up
    one student at a time (:meth:`add`), and the most a student could earn. Each item's
    [public score, public max, hidden score, hidden max] rows are counted (a few distinct rows
    per item), so a student can be taken away again (:meth:`add_parsed` with ``sign`` -1) and
    the sums are exact, whatever the order the students came in."""

    def __init__(self, items: list[str]):
        self.items = list(items)
        self.students = 0
        self._rows: list[Counter[tuple[float, ...]]] = [Counter() for _ in self.items]

    def add(self, result: dict) -> None:
        self.add_parsed(splits_of(result, self.items))

    def add_parsed(self, split: list[list[float]], sign: int = 1) -> None:
        """:meth:`add` of :func:`splits_of` one result: per item, [public score, public max,
        hidden score, hidden max]; with ``sign`` -1, that student taken away."""
        self.students += sign
        for rows, row in zip(self._rows, split, strict=True):
            rows[tuple(row)] += sign

    def fractions(self) -> dict[str, tuple[float, float]]:
        """item -> (public, hidden) mean share of the points earned on those cases."""
        n = self.students

        def frac(rows: Counter, got: int, most: int) -> float:
            top = max((row[most] for row, c in rows.items() if c > 0), default=0.0)
            if not (top and n):
                return 0.0
            total = sum(Fraction(row[got]) * c for row, c in rows.items())
            return float(total) / (top * n)

        return {
            item: (frac(rows, 0, 1), frac(rows, 2, 3))
            for item, rows in zip(self.items, self._rows, strict=True)
        }

    def state(self) -> list:
        return [self.students, [[[*row, c] for row, c in rows.items() if c] for rows in self._rows]]

    def load(self, state: list) -> None:
        students, per_item = state
        if len(per_item) != len(self.items):
            raise ValueError("not these items' splits")
        self.students = int(students)
        self._rows = [
            Counter({tuple(map(float, r[:4])): int(r[4]) for r in rows}) for rows in per_item
        ]

    def settle(self) -> bool:
        """Drop the rows no student has any more; False when a count went below zero."""
        return settle_counts(*self._rows) and self.students >= 0


def settle_counts(*counters: Counter) -> bool:
    """Remove the keys counted zero times from ``counters`` (after students were taken away);
    False when a count is negative (a student taken away who was never added)."""
    ok = True
    for counter in counters:
        for key in [k for k, c in counter.items() if c <= 0]:
            ok = ok and counter[key] == 0
            del counter[key]
    return ok


def split_fractions(results: list[dict], items: list[str]) -> dict[str, tuple[float, float]]:
    """item -> (public, hidden) mean share of the points earned on those cases. A large gap
    means students pass what they can see and fail what they cannot."""
    splits = Splits(items)
    for r in results:
        if not grader_failed(r):
            splits.add(r)
    return splits.fractions()


def _cell_class(frac: float) -> str:
    """The matrix cell's colour class: ``p<percent>``, 0 to 100 (see :data:`MATRIX_CSS`)."""
    return f"p{100 * max(0.0, min(1.0, frac)):.0f}"


# One rule per percent, written once per page (each cell names its class, ~100 bytes less a
# cell than an inline style): red (0) -> yellow (50) -> green (100), light enough for black text.
MATRIX_CSS = "".join(f"#matrix .p{p}{{background:hsl({1.2 * p:.0f},70%,80%)}}" for p in range(101))


def matrix_head(items: list[str]) -> str:
    """The student x function matrix up to its first row (one row per student follows)."""
    modules: list[tuple[str, int]] = []
    for item in items:
        mod = item.split(".")[0]
        if modules and modules[-1][0] == mod:
            modules[-1] = (mod, modules[-1][1] + 1)
        else:
            modules.append((mod, 1))
    head1 = "".join(f'<th colspan="{n}" class="mod">{_e(m)}</th>' for m, n in modules)
    head2 = "".join(
        f'<th class="fn" title="{_e(i)}"><span>{_e(i.split(".")[1])}</span></th>' for i in items
    )
    return (
        "<h2>Students &times; functions</h2>\n"
        '<p class="muted">Percent of each function\'s points; hover a cell for the points.</p>\n'
        '<div class="scroll"><table id="matrix" class="matrix"><thead>'
        f'<tr><th></th>{head1}</tr><tr><th class="st">student</th>{head2}</tr></thead><tbody>'
    )


MATRIX_TAIL = "</tbody></table></div>"


def matrix_row(
    result: dict,
    items: list[str],
    feedback: str,
    points: dict[str, tuple[float, float]] | None = None,
) -> str:
    """One student's row: the share of each function's points earned (``points``: its
    ``item_points``, when the caller has them). A cell's title holds its points; the page's
    script puts the student and the function before them when the cell is first hovered (one
    class of 20,000 students: 30 MB less page)."""
    student = student_of(result)
    link = f"{quote(student, safe='')}/{feedback}"
    points = item_points(result) if points is None else points
    cells = []
    for item in items:
        score, top = points.get(item, (0.0, 0.0))
        frac = score / top if top else 0.0
        cells.append(
            f'<td class="{_cell_class(frac)}" title="{score:g} of {top:g}">{100 * frac:.0f}</td>'
        )
    return f'<tr><th class="st"><a href="{_e(link)}">{_e(student)}</a></th>{"".join(cells)}</tr>'


def matrix_section(results: list[dict], items: list[str], feedback: str) -> list[str]:
    """One row per student, one column per function: the share of its points earned."""
    if not results:
        return []
    rows = [matrix_row(r, items, feedback) for r in results]
    return [matrix_head(items), *rows, MATRIX_TAIL]


def hardest_of(result: dict) -> tuple[list[str], list[list[str]]]:
    """(items the student started, [item, group, [case, ...]] of the cases it failed), in the
    order of its tests: what :class:`Hardest` adds up of one result."""
    started: dict[str, None] = {}
    failing: list[list] = []
    for test in result.get("tests", []):
        title = _title(str(test.get("name", "")))
        if not title:
            continue
        item, group = title
        output = str(test.get("output", ""))
        if "not implemented yet" in output and float(test.get("score", 0.0)) == 0.0:
            continue
        started[item] = None
        if "FAILED" not in output:  # most tests: nothing failed
            continue
        for line in output.splitlines():
            f = _FAILED.match(line)
            if f and "not implemented yet" not in line:
                if not failing or failing[-1][:2] != [item, group]:
                    failing.append([item, group, []])
                failing[-1][2].append(f["case"])
    return list(started), failing


class Hardest:
    """The failing students per (item, group, case) and the students who started each item,
    one student at a time (:meth:`add`). Hidden cases are drawn per student, so most names
    are seen once: past ``cap`` names, those failed by the fewest students are dropped (lossy
    counting), which keeps the memory bounded and can only miss cases failed by a handful of
    students in a class of thousands; below the cap the counts are exact."""

    def __init__(self, cap: int = 20_000):
        self.cap, self.floor = cap, 0
        self.failing: Counter[tuple[str, str, str]] = Counter()
        self.trying: Counter[str] = Counter()

    def add(self, result: dict) -> None:
        self.add_parsed(*hardest_of(result))

    def add_parsed(self, started: list[str], failing: list[list], sign: int = 1) -> None:
        """:meth:`add` of what :func:`hardest_of` found in one result; with ``sign`` -1, that
        student taken away (:meth:`exact` counts only: nothing was dropped)."""
        if failing:  # one count per (item, group, case), in the order of the loop it replaces
            keys = chain.from_iterable(zip(repeat(i), repeat(g), cases) for i, g, cases in failing)
            if sign > 0:
                self.failing.update(keys)
            else:
                self.failing.subtract(keys)
        if sign > 0:
            self.trying.update(started)
        else:
            self.trying.subtract(started)
        if len(self.failing) > self.cap:
            while len(self.failing) > self.cap // 2:
                self.floor += 1
                for key in [k for k, n in self.failing.items() if n <= self.floor]:
                    del self.failing[key]

    @property
    def exact(self) -> bool:
        """No name was dropped: the counts are those of every student added."""
        return self.floor == 0

    def ranked(self) -> list[tuple[str, str, str, int, int]]:
        trying = self.trying
        out = [
            (item, group, case, n, trying[item])
            for (item, group, case), n in self.failing.items()
            if n >= 2 and trying[item]
        ]
        out.sort(key=lambda t: (-t[3] / t[4], -t[3], t[0], t[1], t[2]))
        per_item: Counter[str] = Counter()
        kept = []
        for row in out:  # at most two cases per function, so that one function cannot fill it
            per_item[row[0]] += 1
            if per_item[row[0]] <= 2:
                kept.append(row)
        return kept

    def state(self) -> list:
        failing = [[*key, n] for key, n in self.failing.items() if n]
        return [failing, [[item, n] for item, n in self.trying.items() if n]]

    def load(self, state: list) -> None:
        failing, trying = state
        self.floor = 0
        self.failing = Counter({(str(i), str(g), str(c)): int(n) for i, g, c, n in failing})
        self.trying = Counter({str(item): int(n) for item, n in trying})

    def settle(self) -> bool:
        return settle_counts(self.failing, self.trying) and len(self.failing) <= self.cap


def hardest_cases(results: list[dict]) -> list[tuple[str, str, str, int, int]]:
    """(item, group, case, students failing, students trying) for cases with the same name for
    several students (public cases and the Keras bank), among students who started the
    function; most failed first."""
    hardest = Hardest()
    for r in results:
        if not grader_failed(r):
            hardest.add(r)
    return hardest.ranked()


def hardest_section(ranked: list[tuple[str, str, str, int, int]]) -> list[str]:
    if not ranked:
        return [
            "<h2>Hardest cases</h2>",
            "<p>No case was failed by two or more students who started its function.</p>",
        ]
    rows = [
        f"<tr><td><code>{_e(item)}</code></td><td>{_e(group)}</td><td><code>{_e(case)}</code>"
        f'</td><td class="n">{n}/{tried}</td></tr>'
        for item, group, case, n, tried in ranked[:HARDEST]
    ]
    return [
        "<h2>Hardest cases</h2>",
        '<p class="muted">Cases failed by the most students among those who started the '
        "function (the public cases and the Keras bank are the same for everyone).</p>",
        '<table id="hardest" class="sortable"><thead><tr><th>function</th><th>group</th>'
        '<th>case</th><th class="n">students failing</th></tr></thead><tbody>',
        *rows,
        "</tbody></table>",
    ]


EXTRA_CSS = (
    ".meta{color:#444}.scroll{overflow-x:auto}"
    "table.matrix{border-collapse:collapse;font-size:10px}"
    "#hardest code{white-space:normal;overflow-wrap:anywhere}"
    "#hardest td:nth-child(2){white-space:nowrap}"
    "table.matrix td{width:22px;min-width:22px;text-align:center;padding:2px 0;"
    "border:1px solid #fff}"
    "table.matrix th.fn{height:120px;vertical-align:bottom;padding:0;width:22px;"
    "border:none;background:none}"
    "table.matrix th.fn span{display:inline-block;writing-mode:vertical-rl;"
    "transform:rotate(180deg);white-space:nowrap;font-weight:normal}"
    "table.matrix th.mod{font-weight:normal;color:#555;border-bottom:1px solid #999;"
    "background:none}"
    "table.matrix th.st{text-align:left;white-space:nowrap;padding-right:8px;"
    "font-weight:normal;background:none}" + MATRIX_CSS
)
