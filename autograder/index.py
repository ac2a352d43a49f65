"""A compact index of an output folder, so a run never re-reads every results.json (issue #16).

``OUT/.grade-index.jsonl`` holds one line per student folder: a short JSON header (the
student, the ``results.json`` file's stamp (size, mtime, inode), its fingerprint, whether the
grader failed, the stamp of the submission's files it was graded from and the run key of the
kit and config that graded it), then the student's *facts* (:meth:`Index.facts`: what the
gradebook and the class report show of it, under a key naming the code and items that built
them; absent from older lines), then a *slim* copy of the results: everything the gradebook,
the class report and the resume check read, with each test's Markdown output cut to what the
report uses (its FAILED case names and whether it says "not implemented yet"), tab-separated
(JSON never holds a raw tab). A run
loads the headers only, checks every stamp against the folder (one ``stat`` per student) and
re-reads only the results.json files that changed behind its back (another tool, a merge, a run
killed before it saved the index); a student whose submission stamp and run key are unchanged
is skipped without reading its files (:mod:`autograder.stream`). So a regrade of one student in
a large folder reads one submission and one results.json, not all of them.

Memory stays flat in the class size: in memory the index keeps per student only where its line
is in the file, the stamp, the fingerprint and whether the grader failed (what the resume check
needs); a record put during a run is appended to the file at once (a later line for the same
student wins), :meth:`Index.save` rewrites the file sorted by student with one line each (the
lines are copied, not parsed) when its dead lines are worth it, and :meth:`Index.iter_records`
and :meth:`Index.facts` stream the records and the facts back from it.

The index is a cache: deleting it is always safe (the next run rebuilds it from the folder),
and the reports built from it are the ones built from the full files.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from .exports import item_points, items_of
from .report import open_atomic

NAME = ".grade-index.jsonl"
# Beside it, what refers to where its lines are (batch's class statistics of the last report):
# removed whenever the file is rewritten, as a file rewritten may reuse the old one's inode.
LINES_OF = ".grade-report-stats.json"
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
    Gradescope fields), with its item points (:func:`autograder.exports.item_points`)."""
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
    out["points"] = item_points(data)  # what every report pass reads first, computed once
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


class Entry(NamedTuple):
    """What the index keeps in memory of one student (its record stays in the file)."""

    offset: int  # of its line in OUT/.grade-index.jsonl
    stamp: tuple[int, ...]
    fingerprint: str | None
    error: bool
    source: str | None = None  # the submission's stamp when it was graded (stream.tree_stamp)
    run: str | None = None  # the run key of the kit and config that graded it
    size: int = 0  # of its line

    def header(self, name: str) -> bytes:
        fields = [name, list(self.stamp), self.fingerprint, self.error, self.source, self.run]
        return json.dumps(fields, allow_nan=False).encode()


def _entry(offset: int, st, record: dict, source=None, run=None) -> Entry:
    extra = record.get("extra_data") or {}
    fp = extra.get("fingerprint")
    fp = fp if isinstance(fp, str) else None
    return Entry(offset, tuple(st), fp, bool(extra.get("error")), source, run)


def _parse_header(head: bytes, offset: int, size: int) -> tuple[str, Entry] | None:
    """(student, entry) of a line's header field ``head`` (the line at ``offset``, ``size``
    bytes long); None when it is not one."""
    try:
        name, st, fp, error, source, run = json.loads(head)
    except (ValueError, TypeError):
        return None
    if not (isinstance(name, str) and isinstance(st, list) and all(type(v) is int for v in st)):
        return None
    ok = all(v is None or isinstance(v, str) for v in (fp, source, run))
    if not ok:
        return None
    return name, Entry(offset, tuple(st), fp, bool(error), source, run, size)


_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
RELEASE_EVERY = 1 << 22  # bytes of the index read between two :meth:`_Map.release`
RELEASE_LINES = 256  # lines of a pass between two (their fields: a few pages each)


class _Map:
    """The index file mapped read-only, to slice the fields of its lines without copying the
    lines (a line is tens of KB, most of it the record a pass does not read). Lines appended
    after it was mapped (:meth:`Index._append` while a pass runs) are mapped again on need."""

    def __init__(self, path: Path):
        self.path = path
        self.mm: mmap.mmap | bytes = b""
        self._map()

    def _map(self) -> None:
        self.close()
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def bounds(self, entry: Entry) -> tuple[int, int]:
        """(start, end) of the entry's line: the ``readline`` at its offset."""
        start = entry.offset
        end = start + entry.size
        if entry.size and end > len(self.mm):
            self._map()
        mm = self.mm
        if not (entry.size and end <= len(mm) and mm[end - 1] == 10):  # 10: b"\n"
            nl = mm.find(b"\n", start)
            end = len(mm) if nl < 0 else nl + 1
        return start, end

    def release(self) -> None:
        """Drop the pages read so far from the process's resident set (they stay in the page
        cache): a pass over a large index would else hold all of it resident, and memory
        stays flat in the class size."""
        if isinstance(self.mm, mmap.mmap) and _DONTNEED is not None:
            self.mm.madvise(_DONTNEED)

    def close(self) -> None:
        if isinstance(self.mm, mmap.mmap):
            self.mm.close()
        self.mm = b""

    def __enter__(self) -> _Map:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _record(line: bytes) -> dict:
    return json.loads(line.rpartition(b"\t")[2])


def _facts(line: bytes) -> list[bytes]:
    """The facts fields of a line (header, facts..., record): none in an older line."""
    return line.split(b"\t")[1:-1]


_POINTS = b'"points": {'
_DECODER = json.JSONDecoder()


def _trailing_points(mm, start: int, end: int) -> list[str] | None:
    """The item names of the line ``mm[start:end]`` read from its record's trailing
    ``"points": {...}`` alone; None when the record does not end so (read it whole then).
    The key's quote, after ``, `` or the record's ``{``, is one of the JSON's own (a string's
    quotes are escaped), and the object it names is the record's own when the line ends
    right after it with the record's ``}`` (no tab after it: in the last field)."""
    at = mm.rfind(_POINTS, start, end)  # from the end: a few hundred bytes read, not the line
    if at < 0:
        return None
    before = mm[at - 2 : at] if at - 2 >= start else b"\t" + mm[start:at]
    if before != b", " and before != b"\t{":  # (a line without a tab is its record alone)
        return None
    brace = at + len(_POINTS) - 1
    try:
        text = mm[brace:end].decode("utf-8")
        points, stop = _DECODER.raw_decode(text)
    except ValueError:  # (UnicodeDecodeError is one)
        return None
    if type(points) is not dict or text[stop:] != "}\n":
        return None
    return list(points)


def items_named(names: Iterable[Iterable[str]]) -> list[str]:
    """:func:`autograder.exports.items_of` of the results whose item names are ``names`` (one
    iterable each, as :meth:`Index.iter_item_names` reads them). (Here, not in exports: a
    change to that module's code changes the key of every index's facts.)"""
    seen: set[str] = set()
    for n in names:
        seen.update(n)
    return items_of([{"points": dict.fromkeys(seen)}])  # a compact record's points: its items


def encode_facts(key: str, facts: list | None) -> list[bytes] | None:
    """The facts fields of a line: ``key``, then each part of ``facts`` (:meth:`Index.facts`)."""
    if facts is None:
        return None
    return [json.dumps(key).encode(), *(json.dumps(f, allow_nan=False).encode() for f in facts)]


MEMO = 256  # shared facts fields parsed once per pass (the memo is emptied when full)
COMPACT_BELOW = 1 << 20  # bytes: a smaller index is rewritten whenever it holds a dead line


class Index:
    """student folder name -> :class:`Entry` for one output folder; the records in the file."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / NAME
        self.entries: dict[str, Entry] = {}
        self.reread = 0  # results.json files read because the index did not know them
        self.size = 0  # of the file: what its lines take, the dead ones included

    @classmethod
    def load(cls, out: Path) -> Index:
        index = cls(out)
        known: dict[str, Entry] = {}
        try:
            with _Map(index.path) as m:
                mm, find = m.mm, m.mm.find
                offset, size, release = 0, len(mm), RELEASE_EVERY
                while offset < size:
                    if offset >= release:
                        m.release()
                        release = offset + RELEASE_EVERY
                    nl = find(b"\n", offset)
                    if nl < 0:  # a line that a killed run left half written
                        break
                    tab = find(b"\t", offset, nl)
                    if tab >= 0:
                        found = _parse_header(mm[offset:tab], offset, nl + 1 - offset)
                        if found is not None:
                            known[found[0]] = found[1]
                    offset = nl + 1
                index.size = size
        except OSError:
            pass
        try:
            folders = sorted(e.name for e in os.scandir(index.out) if e.is_dir())
        except OSError:
            folders = []
        base = os.path.join(str(index.out), "")
        for name in folders:
            path = base + name + "/results.json"  # (strings: a Path per student costs more)
            st = stamp(path)
            if st is None:
                continue
            old = known.get(name)
            if old is not None and old.stamp == tuple(st):
                index.entries[name] = old
                continue
            data = read_results(Path(path))
            index.reread += 1
            if data is not None:
                index.put(name, st, slim(data))
        return index

    def current(self, name: str, fingerprint: str) -> bool:
        """The student's results are of this fingerprint and were graded (a rerun skips it)."""
        entry = self.entries.get(name)
        return entry is not None and not entry.error and entry.fingerprint == fingerprint

    def fresh(self, name: str, source: str | None, run: str) -> bool:
        """The student was graded (the grader did not fail) from files of stamp ``source`` by
        a run of key ``run``: its results are current without reading its files."""
        entry = self.entries.get(name)
        return (
            source is not None
            and entry is not None
            and not entry.error
            and entry.source == source
            and entry.run == run
        )

    def put(
        self,
        name: str,
        st: list[int] | None,
        record: dict,
        source: str | None = None,
        run: str | None = None,
        facts: list[bytes] | None = None,
    ) -> None:
        """Append the student's record to the file (a later line wins over an earlier one);
        ``source`` and ``run``: the submission's stamp and the run key it was graded with;
        ``facts``: what the reports read of it (JSON, :meth:`facts`), when known."""
        if st is None:
            return
        entry = _entry(0, st, record, source, run)
        body = json.dumps(record, allow_nan=False).encode()
        self._append(name, entry, entry.header(name), facts, body)

    def _append(
        self, name: str, entry: Entry, head: bytes, facts: list[bytes] | None, body: bytes
    ) -> None:
        line = b"\t".join([head, *(facts or []), body]) + b"\n"
        with open(self.path, "a+b") as f:  # opened per record: nothing buffered across a fork
            offset = f.seek(0, os.SEEK_END)
            if offset:
                f.seek(offset - 1)
                if f.read(1) != b"\n":  # a line that a killed run left half written
                    f.write(b"\n")
                    offset += 1
            f.write(line)
        self.size = offset + len(line)
        self.entries[name] = entry._replace(offset=offset, size=len(line))

    def restamp(self, name: str, source: str | None, run: str) -> None:
        """The student's results were found current by their fingerprint, from files whose
        stamp is now ``source``: note it, so that the next run need not read them."""
        entry = self.entries.get(name)
        if source is None or entry is None or (entry.source, entry.run) == (source, run):
            return
        line = self._line(name)
        if line:
            new = entry._replace(source=source, run=run)
            body = line.rpartition(b"\t")[2].rstrip(b"\n")
            self._append(name, new, new.header(name), _facts(line), body)

    def _line(self, name: str) -> bytes:
        entry = self.entries.get(name)
        if entry is None:
            return b""
        with open(self.path, "rb") as f:
            f.seek(entry.offset)
            line = f.readline()
        return line if line.endswith(b"\n") else b""

    def _lines(self) -> Iterator[tuple[str, bytes]]:
        """(name, its line) in name order, read from the file at each entry's offset."""
        with open(self.path, "rb") as f:
            for name in sorted(self.entries):
                f.seek(self.entries[name].offset)
                yield name, f.readline()

    def facts_at(self, name: str, offset: int, key: str, part: int):
        """Part ``part`` of the facts (:meth:`facts`) of ``name``'s line at ``offset`` (its
        line now or an earlier one: until :meth:`save` rewrites the file, lines are only
        appended), when they are of ``key``. ValueError when there is no such line."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            line = f.readline()
        fields = line.split(b"\t", part + 3)  # header, key, parts 0 .. part, the rest
        if not line.endswith(b"\n") or len(fields) != part + 4:
            raise ValueError(f"no facts at {offset}")
        found = _parse_header(fields[0], offset, len(line))
        if found is None or found[0] != name or fields[1] != json.dumps(key).encode():
            raise ValueError(f"not {name}'s facts at {offset}")
        return json.loads(fields[part + 2])

    def record(self, name: str) -> dict | None:
        line = self._line(name)
        return _shared_strings(_record(line)) if line else None

    def iter_records(self) -> Iterator[dict]:
        """Every student's slim results, in folder-name order (as ``collect_results``), one
        at a time."""
        if not self.entries:
            return
        for _name, line in self._lines():
            yield _record(line)  # one at a time: nothing to share

    def iter_item_names(self) -> Iterator[list[str]]:
        """Every student's item names (the keys of :func:`autograder.exports.item_points` of
        its record), in folder-name order: what :func:`autograder.exports.items_of` reads of
        :meth:`iter_records`, most of it without parsing the record. :func:`slim` writes the
        points as the record's last key, so a line ending ``, "points": {...}}`` has them in
        that object alone; a line of any other ending is parsed whole."""
        for _name, _entry, mm, start, end in self._mapped():
            names = _trailing_points(mm, start, end)
            if names is None:
                names = list(item_points(_record(mm[start:end])))
            yield names

    def _mapped(self) -> Iterator[tuple[str, Entry, mmap.mmap | bytes, int, int]]:
        """(name, entry, the mapped file, start, end of its line) in name order, the pages
        read released every :data:`RELEASE_LINES` lines."""
        if not self.entries:
            return
        with _Map(self.path) as m:
            for n, name in enumerate(sorted(self.entries), 1):
                if not n % RELEASE_LINES:
                    m.release()
                entry = self.entries[name]
                start, end = m.bounds(entry)  # (may map the file again: m.mm after it)
                yield name, entry, m.mm, start, end

    def records(self) -> list[dict]:
        return list(self.iter_records())

    def facts(self, key: str, build: Callable[[dict], list]) -> Callable[..., Iterator[list]]:
        """A source of every student's facts, in folder-name order: ``source(*parts)`` yields,
        per student, those parts of what the reports read of it, ``build(record)`` (a list
        of JSON values, kept on the student's line as fields of their own, so that a pass
        parses only the parts it reads), when the line's facts are of ``key``. Facts of
        another key (another kit, other items or links) are built again from the record on
        the same line, and the line is rewritten with them at the end of the file, so that
        the next pass (and the next run) reads the facts alone. A field of the ``shared``
        parts met again (most students' statistics are those of many others) is parsed once:
        the values of those parts may be shared between students and must not be changed."""
        tag = json.dumps(key).encode()

        def source(*parts: int, shared: tuple[int, ...] = ()) -> Iterator[list]:
            memo: dict[bytes, object] = {}
            last = max(parts) + 2  # the tab that ends the last part read: fields[last - 1]
            for name, entry, mm, start, end in self._mapped():
                # the line's tabs up to ``last`` (fields[i]: between tabs i and i + 1)
                tabs = [mm.find(b"\t", start, end)]
                while len(tabs) <= last and tabs[-1] >= 0:
                    tabs.append(mm.find(b"\t", tabs[-1] + 1, end))
                if tabs[-1] >= 0 and mm[tabs[0] + 1 : tabs[1]] == tag:
                    got = []
                    try:
                        for part in parts:
                            raw = mm[tabs[part + 1] + 1 : tabs[part + 2]]
                            if part not in shared:
                                got.append(json.loads(raw))
                                continue
                            value = memo.get(raw)
                            if value is None:
                                if len(memo) >= MEMO:
                                    memo.clear()
                                value = memo[raw] = json.loads(raw)
                            got.append(value)
                    except ValueError:  # a damaged field: built again from the record
                        got = None
                    if got is not None:
                        yield got
                        continue
                line = mm[start:end]
                record = _shared_strings(_record(line))
                facts = build(record)
                raw_fields = encode_facts(key, facts)
                body = line.rpartition(b"\t")[2].rstrip(b"\n")
                self._append(name, entry, entry.header(name), raw_fields, body)
                yield [facts[part] for part in parts]

        return source

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def dead(self) -> int:
        """Bytes of the file in lines that a later line replaced (or that are broken)."""
        return self.size - sum(e.size for e in self.entries.values())

    def save(self, compact: bool = False) -> None:
        """Rewrite the file with one line per student, sorted (lines copied, not parsed), when
        ``compact`` or when its dead lines are worth it: any of them in a file under
        :data:`COMPACT_BELOW`, else a quarter of it. A regrade of a few students in a large
        folder appends their lines and leaves the rest of the file alone."""
        if not self.entries:
            (self.out / LINES_OF).unlink(missing_ok=True)
            with open_atomic(self.path, sync=False):
                pass
            self.size = 0
            return
        dead = self.dead
        if not (compact or (dead and (self.size < COMPACT_BELOW or 4 * dead > self.size))):
            return
        moved: dict[str, Entry] = {}
        (self.out / LINES_OF).unlink(missing_ok=True)
        with open_atomic(self.path, sync=False, binary=True) as out:
            for name, line in self._lines():
                line = line if line.endswith(b"\n") else line + b"\n"
                moved[name] = self.entries[name]._replace(offset=out.tell(), size=len(line))
                out.write(line)
            size = out.tell()
        self.entries = moved
        self.size = size
