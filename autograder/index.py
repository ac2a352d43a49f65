"""A compact index of an output folder, so a run never re-reads every results.json (issue #16).

``OUT/.grade-index.jsonl`` holds one line per student folder: the ``results.json`` file's stamp
(size, mtime, inode) and a *slim* copy of it: everything the gradebook, the class report and the
resume check read, with each test's Markdown output cut to what the report uses (its FAILED
case names and whether it says "not implemented yet"). A run loads the index, checks every
stamp against the folder (one ``stat`` per student) and re-reads only the results.json files
that changed behind its back (another tool, a merge, a run killed before it saved the index);
so a regrade of one student in a large folder reads one results.json, not all of them.

The index is a cache: deleting it is always safe (the next run rebuilds it from the folder),
and the reports built from it are the ones built from the full files.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from .report import write_atomic

NAME = ".grade-index.jsonl"
_FAILED = re.compile(r"^- FAILED: `[^`]*`")  # summary_extra.hardest_cases reads these lines
_TODO = "not implemented yet"
_TEST_KEYS = ("name", "score", "max_score")  # (and the cut output) all a report reads of a test


def stamp(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def slim(data: dict) -> dict:
    """``results.json`` without what no report reads (the long Markdown texts, the tests'
    Gradescope fields)."""
    out = {k: v for k, v in data.items() if k != "output"}
    tests = []
    for test in data.get("tests", []):
        lines, todo = [], False
        for line in str(test.get("output", "")).splitlines():
            if _TODO in line:
                todo = True
            elif m := _FAILED.match(line):
                lines.append(m.group(0))
        if todo:
            lines.append(_TODO)
        kept = {k: test[k] for k in _TEST_KEYS if k in test}
        tests.append(kept | {"output": "\n".join(lines)})
    out["tests"] = tests
    return _shared_strings(out)


def _shared_strings(record: dict) -> dict:
    """The strings every student's record repeats (test names, item ids), held once."""
    for test in record.get("tests", []):
        if isinstance(test.get("name"), str):
            test["name"] = sys.intern(test["name"])
    extra = record.get("extra_data", {})
    for key in ("item_scores", "mistakes"):
        if isinstance(extra.get(key), dict):
            extra[key] = {sys.intern(str(k)): v for k, v in extra[key].items()}
    return record


def read_results(path: Path) -> dict | None:
    """A results.json written by ``grade run`` (None when missing or not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "extra_data" in data else None


class Index:
    """student folder name -> (stamp, slim results) for one output folder."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.entries: dict[str, tuple[list[int], dict]] = {}
        self.reread = 0  # results.json files read because the index did not know them

    @classmethod
    def load(cls, out: Path) -> Index:
        index = cls(out)
        known: dict[str, tuple[list[int], dict]] = {}
        try:
            with open(index.out / NAME, encoding="utf-8") as f:
                for line in f:
                    try:
                        name, st, record = json.loads(line)
                    except (ValueError, TypeError):
                        continue
                    if isinstance(name, str) and isinstance(record, dict):
                        known[name] = (st, _shared_strings(record))
        except OSError:
            pass
        try:
            folders = sorted(e.name for e in os.scandir(index.out) if e.is_dir())
        except OSError:
            folders = []
        for name in folders:
            path = index.out / name / "results.json"
            st = stamp(path)
            if st is None:
                continue
            old = known.get(name)
            if old is not None and old[0] == st:
                index.entries[name] = old
                continue
            data = read_results(path)
            index.reread += 1
            if data is not None:
                index.entries[name] = (st, slim(data))
        return index

    def put(self, name: str, st: list[int] | None, record: dict) -> None:
        if st is not None:
            self.entries[name] = (st, record)

    def record(self, name: str) -> dict | None:
        entry = self.entries.get(name)
        return entry[1] if entry else None

    def records(self) -> list[dict]:
        """Every student's slim results, in folder-name order (as ``collect_results``)."""
        return [self.entries[name][1] for name in sorted(self.entries)]

    def save(self) -> None:
        lines = (
            json.dumps([name, st, record], allow_nan=False)
            for name, (st, record) in sorted(self.entries.items())
        )
        write_atomic(self.out / NAME, "".join(line + "\n" for line in lines))
