"""Gradebook exports from a graded folder: Canvas's import CSV, a plain CSV and JSON.

Pure functions over the ``results.json`` dicts that ``grade run`` writes (see
``batch.collect_results``); the command in ``commands/export.py`` only reads and writes files.
Every CSV cell goes through ``report.csv_text``, which neutralises spreadsheet formulas in
student-controlled strings (ids, names, problems).

Canvas's gradebook import reads the layout of its own gradebook export::

    Student,ID,SIS User ID,SIS Login ID,Section,CNN exercises (1234)
        Points Possible,,,,,100
    "Doe, Jane",4321,S123,jdoe,Section A,87.5

What Canvas's importer (GradebookImporter) does with it: a student is matched by ``ID`` (the
Canvas user id), else by SIS User ID or SIS Login ID, else by name (``Student`` equal to the
name or the sortable name); an assignment header ``Title (id)`` goes to the assignment of that
id; a header without an id first goes to an existing assignment whose title equals the whole
header, and only when there is none does Canvas create a new assignment of that name, with the
points of the "Points Possible" row. Canvas refuses imported grades on an anonymous assignment
whose grades are not posted, and an anonymous download has no user ids: those results are left
out with a warning.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .results import points
from .topics import ITEMS, MISTAKES

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # as in Canvas's own export
DEFAULT_ASSIGNMENT = "CNN exercises"
_TITLE = re.compile(r"^(?P<name>.+) \((?P<module>[^()]+)\.py\) - (?P<group>\w+) cases$")
_HAS_ID = re.compile(r"^.*\(\d+\)\s*$")
_ROSTER_ALIASES = {
    "student": "Student",
    "student name": "Student",
    "name": "Student",
    "id": "ID",
    "canvas user id": "ID",
    "canvas id": "ID",
    "user id": "ID",
    "sis user id": "SIS User ID",
    "sis id": "SIS User ID",
    "student id": "SIS User ID",
    "sis login id": "SIS Login ID",
    "login id": "SIS Login ID",
    "login": "SIS Login ID",
    "section": "Section",
}


class ExportError(Exception):
    """Bad input to an export (roster, assignment name): one clear sentence."""


# ---------------------------------------------------------------------------------------------
# Reading results.json dicts


def student_of(result: dict) -> str:
    return str(result.get("extra_data", {}).get("student", ""))


@functools.lru_cache(maxsize=4096)
def _item_of(title: str) -> str | None:
    """The item a test's title names ("conv2d (conv.py) - hidden cases" -> "conv.conv2d"):
    every student's tests have the same few titles, so each is parsed once."""
    match = _TITLE.match(title)
    return f"{match['module']}.{match['name']}" if match else None


def item_points(result: dict) -> dict[str, tuple[float, float]]:
    """item -> (score, max_score) of one student, summed over its public and hidden tests."""
    if "points" in result:  # a compact record (:func:`compact`)
        return result["points"]
    out: dict[str, list[float]] = {}
    for test in result.get("tests", []):
        item = _item_of(str(test.get("name", "")))
        if item is None:
            continue
        acc = out.setdefault(item, [0.0, 0.0])
        acc[0] += float(test.get("score", 0.0))
        acc[1] += float(test.get("max_score", 0.0))
    scores = result.get("extra_data", {}).get("item_scores", {})
    for item, score in scores.items():
        out.setdefault(item, [0.0, 0.0])[0] = float(score)
    return {k: (points(v[0]), points(v[1])) for k, v in out.items()}


# What an export reads of a result's extra_data (its tests are kept as item points only).
_EXPORTED = ("student", "max_score", "error", "status", "problems", "mistakes", "metadata")


def compact(result: dict) -> dict:
    """``result`` reduced to what the exports read (its score, its item points, a few fields of
    extra_data): a class of 20,000 results is held in a few KB per student, not tens."""
    extra = result.get("extra_data", {})
    return {
        "score": result.get("score", 0.0),
        "extra_data": {k: extra[k] for k in _EXPORTED if k in extra},
        "points": item_points(result),
    }


def item_mistakes(result: dict) -> dict[str, list[str]]:
    raw = result.get("extra_data", {}).get("mistakes", {}) or {}
    return {str(k): [str(m) for m in v] for k, v in raw.items() if v}


def items_of(results: Iterable[dict]) -> list[str]:
    """Every item graded in ``results``: the suite's order, then any unknown ones sorted."""
    seen: set[str] = set()
    for r in results:
        seen.update(item_points(r))
    known = [i for i in ITEMS if i in seen]
    return known + sorted(seen - set(ITEMS))


def grader_failed(result: dict) -> bool:
    return bool(result.get("extra_data", {}).get("error"))


def not_graded(extra: dict) -> bool:
    """A student the grader itself could not grade (its status, or the older error field)."""
    status = str(extra.get("status", "")).lower().replace("_", " ").replace("-", " ")
    return status == "not graded" or bool(extra.get("error"))


def _num(value: float) -> str:
    return f"{float(value):g}"


# ---------------------------------------------------------------------------------------------
# Canvas


@dataclass
class Roster:
    """Students of a roster CSV (e.g. Canvas's gradebook export), looked up by any id."""

    rows: list[dict[str, str]] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)  # the roster's other column headers
    _index: dict = field(default_factory=dict, repr=False)

    def find(self, keys: list[str]) -> dict[str, str] | None:
        """The first row whose ID, else SIS User ID, else SIS Login ID is one of ``keys``."""
        if not self._index:  # built on first use, after the rows are read
            self._index = {c: {} for c in ("ID", "SIS User ID", "SIS Login ID")}
            for row in self.rows:
                for column, index in self._index.items():
                    if row.get(column):
                        index.setdefault(row[column].casefold(), row)
        for index in self._index.values():
            for key in keys:
                if key.casefold() in index:
                    return index[key.casefold()]
        return None


def read_roster(text: str, name: str = "the roster") -> Roster:
    """Parse a roster CSV: Canvas's gradebook export, or any CSV with an id column."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError(f"{name} is empty; expected a CSV with a header row.") from None
    except csv.Error as exc:
        raise ExportError(f"{name} is not a readable CSV file ({exc}).") from None
    columns: dict[int, str] = {}
    others: list[str] = []
    for index, cell in enumerate(header):
        key = " ".join(cell.replace("_", " ").split()).casefold()
        canonical = _ROSTER_ALIASES.get(key)
        if canonical and canonical not in columns.values():
            columns[index] = canonical
        elif cell.strip():
            others.append(cell.strip())
    if not {"ID", "SIS User ID", "SIS Login ID"} & set(columns.values()):
        raise ExportError(
            f"{name} has no student id column; expected a header with ID, SIS User ID or "
            f"SIS Login ID (as in Canvas's gradebook export), found: {', '.join(header)[:200]}."
        )
    roster = Roster(assignments=others)
    try:
        for line in reader:
            row = {col: line[i].strip() for i, col in columns.items() if i < len(line)}
            if row.get("Student", "").strip().casefold() in ("points possible", "student, test"):
                continue
            if not any(row.get(c) for c in ("ID", "SIS User ID", "SIS Login ID")):
                continue  # Canvas's "Points Possible" and posting-policy rows
            roster.rows.append(row)
    except csv.Error as exc:
        raise ExportError(f"{name} is not a readable CSV file ({exc}).") from None
    return roster


def assignment_header(assignment: str, roster: Roster | None) -> str:
    """The assignment column: ``Name (id)`` as in the roster when it has that column, else as
    given (Canvas then uses an existing assignment of exactly that title, or creates one)."""
    assignment = " ".join(assignment.split())
    if not assignment:
        raise ExportError("--assignment must not be empty; give the Canvas assignment's name.")
    if _HAS_ID.match(assignment) or roster is None:
        return assignment
    for header in roster.assignments:
        stem = re.sub(r"\s*\(\d+\)\s*$", "", header)
        if stem != header and stem.casefold() == assignment.casefold():
            return header
    return assignment


def _identities(result: dict) -> list[dict]:
    """Who a result belongs to: [{canvas_id, keys, name, fallback}], one per submitter."""
    extra = result.get("extra_data", {})
    student = student_of(result)
    meta = extra.get("metadata") or {}
    if meta.get("source") == "canvas" and meta.get("canvas_user_id"):
        uid = str(meta["canvas_user_id"])
        return [{"canvas_id": uid, "keys": [uid], "name": str(meta.get("name", "")), "id": uid}]
    submitters = meta.get("submitters") if meta.get("source") == "gradescope" else None
    people = []
    for person in submitters or []:
        if not isinstance(person, dict):
            continue
        sid = str(person.get("sid") or "")
        email = str(person.get("email") or "")
        keys = [k for k in (sid, email, email.partition("@")[0]) if k]
        if keys:
            ident = sid or email.partition("@")[0]
            people.append({"canvas_id": "", "keys": keys, "name": person.get("name"), "id": ident})
    if people:
        return people
    return [{"canvas_id": "", "keys": [student], "name": "", "id": student}]


def _anonymous(result: dict) -> bool:
    """A result from a Canvas download of an anonymously graded assignment (no user id)."""
    meta = result.get("extra_data", {}).get("metadata") or {}
    return meta.get("source") == "canvas" and bool(meta.get("canvas_anonymous_id"))


@dataclass
class CanvasExport:
    rows: list[list]
    warnings: list[str]
    header: str


def canvas_rows(
    results: list[dict],
    assignment: str = DEFAULT_ASSIGNMENT,
    roster: Roster | None = None,
    id_column: str = "SIS User ID",
) -> CanvasExport:
    """Rows of a Canvas gradebook import (header and Points Possible row first).

    A Canvas download's results carry the Canvas user id, which goes to ``ID``; any other
    student id goes to ``id_column`` unless the roster maps it to a Canvas student. Results on
    which the grader itself failed are left out (a 0 would overwrite a real grade).
    """
    if id_column not in CANVAS_COLUMNS[1:4]:
        raise ExportError(f"id_column must be one of ID, SIS User ID, SIS Login ID: {id_column}.")
    header = assignment_header(assignment, roster)
    warnings: list[str] = []
    anonymous = sorted(student_of(r) for r in results if _anonymous(r))
    if anonymous:
        warnings.append(
            f"Left out {len(anonymous)} anonymous Canvas submission(s) ({', '.join(anonymous)}): "
            "an anonymous download carries no Canvas user id, and Canvas's importer matches "
            "students only by ID, SIS User ID, SIS Login ID or name; once the grades are "
            "posted, download the submissions again (with names and user ids) and grade that."
        )
    results = [r for r in results if not _anonymous(r)]
    graded = [r for r in results if not grader_failed(r)]
    failed = sorted(student_of(r) for r in results if grader_failed(r))
    if failed:
        warnings.append(
            f"Left out {len(failed)} student(s) on whom the grader itself failed "
            f"(regrade them with --force): {', '.join(failed)}."
        )
    top = max((float(r.get("extra_data", {}).get("max_score", 0)) for r in graded), default=0)
    rows: list[list] = [[*CANVAS_COLUMNS, header], [POINTS_POSSIBLE, "", "", "", "", _num(top)]]
    owner: dict[tuple, str] = {}
    unmatched: list[str] = []
    matched_rows: set[int] = set()
    for result in sorted(graded, key=student_of):
        student = student_of(result)
        for ident in _identities(result):
            found = roster.find(ident["keys"]) if roster is not None else None
            if found is not None:
                matched_rows.add(id(found))
                cells = [found.get(c, "") for c in CANVAS_COLUMNS]
                if not cells[0]:
                    cells[0] = ident["name"] or ident["id"]
            else:
                if roster is not None:
                    unmatched.append(student)
                cells = [ident["name"] or ident["id"], ident["canvas_id"], "", "", ""]
                if not ident["canvas_id"]:
                    cells[CANVAS_COLUMNS.index(id_column)] = ident["id"]
            key = tuple(cells[1:4])
            if key in owner:
                raise ExportError(
                    f"Students {owner[key]} and {student} are the same Canvas student "
                    f"({' / '.join(k for k in key if k)}); keep one of the two in the graded "
                    "folder and export again."
                )
            owner[key] = student
            rows.append([*cells, _num(result.get("score", 0.0))])
    if unmatched:
        warnings.append(
            f"{len(unmatched)} student(s) are not in the roster, so Canvas must match them by "
            f"their {id_column}: {', '.join(sorted(set(unmatched)))}."
        )
    if roster is not None:
        missing = len(roster.rows) - len(matched_rows)
        if missing > 0:
            warnings.append(
                f"{missing} roster student(s) have no graded submission; they are left out, "
                "so Canvas keeps their current grade."
            )
    return CanvasExport(rows, warnings, header)


# ---------------------------------------------------------------------------------------------
# Plain CSV and JSON


def _mistake_cell(mistakes: dict[str, list[str]], items: list[str]) -> str:
    order = {item: i for i, item in enumerate(items)}
    pairs = sorted(mistakes.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return " ".join(f"{item}:{m}" for item, ids in pairs for m in ids)


def plain_rows(results: list[dict], items: list[str]) -> list[list]:
    """A plain CSV for any LMS: one row per student, one column per item, named mistakes."""
    rows: list[list] = [
        ["student", "name", "score", "max_score", *items, "mistakes", "problems", "grader_error"]
    ]
    for result in sorted(results, key=student_of):
        extra = result.get("extra_data", {})
        points = item_points(result)
        names = [i["name"] for i in _identities(result) if i["name"]]
        problems = [str(p) for p in extra.get("problems", [])]
        rows.append(
            [
                student_of(result),
                "; ".join(str(n) for n in names),
                _num(result.get("score", 0.0)),
                _num(extra.get("max_score", 0.0)),
                *[_num(points.get(i, (0.0, 0.0))[0]) for i in items],
                _mistake_cell(item_mistakes(result), items),
                " | ".join(" ".join(p.split()) for p in problems),
                " ".join(str(extra.get("error") or "").split()),
            ]
        )
    return rows


def plain_json(results: list[dict], items: list[str]) -> str:
    """The same as :func:`plain_rows` as JSON, with each item's maximum and mistakes."""
    students = []
    used: set[str] = set()
    for result in sorted(results, key=student_of):
        extra = result.get("extra_data", {})
        points = item_points(result)
        mistakes = item_mistakes(result)
        used.update(m for ids in mistakes.values() for m in ids)
        students.append(
            {
                "student": student_of(result),
                "names": [i["name"] for i in _identities(result) if i["name"]],
                "score": float(result.get("score", 0.0)),
                "max_score": float(extra.get("max_score", 0.0)),
                "items": {
                    item: {
                        "score": points.get(item, (0.0, 0.0))[0],
                        "max_score": points.get(item, (0.0, 0.0))[1],
                        "mistakes": mistakes.get(item, []),
                    }
                    for item in items
                },
                "problems": [str(p) for p in extra.get("problems", [])],
                "grader_error": str(extra.get("error") or ""),
                "metadata": extra.get("metadata") or {},
            }
        )
    doc = {
        "items": items,
        "mistakes": {m: MISTAKES.get(m, m) for m in sorted(used)},
        "students": students,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
