"""Student-id rules: a safe id from any name, reserved names, duplicates made unique."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .files import _show
from .submission import Submission

# Names the kit writes in the output folder next to the student folders: a student id equal to
# one of them (ignoring case) is renamed, so OUT/<student>/ never takes the place of a report.
RESERVED_IDS = frozenset({"gradebook.csv", "summary.html", "mistakes.csv", "run.json"})


_ID_BAD = re.compile(r"[^A-Za-z0-9._@+-]+")


def safe_id(raw: str) -> str:
    """A student id made of ``[A-Za-z0-9._@+-]`` only, no leading '.', at most 100 chars."""
    text = raw
    if not raw.isascii():  # (an ASCII name is its own decoding and normal form)
        try:  # undecodable bytes on disk arrive as surrogates: give them back their bytes
            text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            pass
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))  # Jürgen -> Jurgen
    text = _ID_BAD.sub("_", text).lstrip(".")[:100]
    if not any(c.isalnum() for c in text):  # e.g. a name in a non-Latin script
        digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        text = f"student-{digest}"
    return text


def _finalise(found: list[Submission]) -> list[Submission]:
    """Safe ids; duplicates become ``x``, ``x~2``, ... (a problem on each); sorted by id."""
    for sub in found:
        sub.student = safe_id(sub.student)
        sub.origin = _show(sub.origin, 4096)
        if sub.student.lower() in RESERVED_IDS:
            sub.problems.append(
                f"the student id {sub.student} is the name of one of the grader's own output "
                f"files; this submission is graded as student-{sub.student}."
            )
            sub.student = f"student-{sub.student}"
    found.sort(key=lambda s: (s.student.lower(), s.student, s.origin))
    groups: dict[str, list[Submission]] = {}
    for sub in found:
        groups.setdefault(sub.student.lower(), []).append(sub)
    for group in groups.values():
        if len(group) < 2:
            continue
        original = [s.student for s in group]
        for i, sub in enumerate(group[1:], start=2):
            suffix = f"~{i}"
            sub.student = sub.student[: 100 - len(suffix)] + suffix
        for i, sub in enumerate(group):
            others = ", ".join(o.origin for o in group if o is not sub)
            sub.problems.append(
                f"duplicate student id {original[i]} (also {others}); "
                f"this submission is graded as {sub.student}."
            )
    found.sort(key=lambda s: s.student)
    return found
