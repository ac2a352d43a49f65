"""Discovery that lists students first and reads each one's files only when it is graded.

:func:`discover_pending` finds the same students, ids, origins, problems and files as
:func:`autograder.discover.discover`, but for a PATH that is a folder on disk (a class folder, a
Gradescope or Canvas export on disk) a student's files are read by :meth:`Pending.load`, when
that student is graded. So a batch holds names, not files (memory flat in the class size), and a
``--shard`` process reads only its own students (plus the first student of a PATH, which the
"is anything here gradable?" check reads). A zip PATH is read as before (one archive).

A student with a folder or zip of its own on disk also has a *source stamp*
(:meth:`Pending.source_stamp`): a digest of the names, types, sizes, inodes and change times
of everything in it, read with one ``lstat`` per file and no file opened. Equal stamps mean
equal files (what make and rsync assume; the change time cannot be set back by a program), so
a rerun skips an unchanged student without reading it (issue #16: a regrade of one student in a
large class reads one student).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from . import discover as _d
from .discover import DiscoveryError, Submission
from .discover.ids import _finalise
from .discover.read import DEFER


class _Deferred:
    """A stand-in for discover's ``_Found``: the submission is read on first need."""

    def __init__(self, raw_id: str, origin: str, make: Callable, where: str | None = None):
        self.sub = Submission(raw_id, origin, {}, [], {})
        self._make = make
        self._found = None
        self.where = where

    def found(self):
        if self._found is None:
            self._found = self._make()
        return self._found

    @property
    def attempt(self) -> bool:
        return self.found().attempt


class Pending:
    """One student of a batch, before its files are read: a batch holds one per student
    (hence slots, and no placeholder submission kept once the ids are final)."""

    __slots__ = ("student", "origin", "_sub", "_make", "_where", "_notes", "_before", "_source")

    def __init__(
        self,
        student: str,
        origin: str,
        sub: Submission,
        deferred: _Deferred | None = None,
        before: int = 0,
    ):
        self.student, self.origin = student, origin
        # read now (not deferred): the submission itself; deferred: how to read it, where
        self._sub = sub if deferred is None else None
        self._make = None if deferred is None else deferred._make
        self._where = None if deferred is None else deferred.where
        self._notes = tuple(sub.problems)  # discover's notes (ids, duplicates)
        self._before = before  # of the notes, those that come before the student's own
        self._source: str | None = None

    def source_stamp(self) -> str | None:
        """The stamp of the student's folder or zip on disk (:func:`tree_stamp`), taken once,
        before its files are read; None when it has none (a member of a zip PATH, a Canvas file
        group) or its files changed too recently for a stamp to be trusted."""
        if self._source is None and self._where:
            self._source = tree_stamp(self._where) or ""
        return self._source or None

    def load(self) -> Submission:
        """The submission, as :func:`autograder.discover.discover` returns it (read again each
        time it is asked for: a batch holds no files)."""
        if self._make is None:
            return self._sub
        made = self._make().sub
        notes = list(self._notes)
        return Submission(
            self.student,
            self.origin,
            made.files,
            notes[: self._before] + made.problems + notes[self._before :],
            made.metadata,
        )


def discover_pending(paths: Sequence[Path]) -> list[Pending]:
    """The students in ``paths`` (as :func:`autograder.discover.discover`), files not read yet."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise DiscoveryError("No PATH given: pass a submission or a folder of submissions.")
    found: list = []
    seen: set[str] = set()
    deferred: dict[int, _Deferred] = {}

    def defer(raw_id: str, origin: str, make: Callable, where: str | None = None) -> _Deferred:
        item = _Deferred(raw_id, origin, make, where)
        deferred[id(item.sub)] = item
        return item

    with ExitStack() as stack:
        for path in paths:
            path = Path(path)
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            # Only a folder on disk: members of an archive cannot be read once it is closed.
            token = DEFER.set(defer if os.path.isdir(path) else None)
            try:
                found += _d._discover_path(path, stack)
            finally:
                DEFER.reset(token)
        subs = [f.sub for f in found]
        before = {id(s): len(s.problems) for s in subs}
        final = _finalise(subs)
        return [Pending(s.student, s.origin, s, deferred.get(id(s)), before[id(s)]) for s in final]


MAX_STAMP_ENTRIES = 4096  # a folder holding more is read and fingerprinted instead
RECENT_NS = 2_000_000_000  # a change younger than this may share its timestamp with the next
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def tree_stamp(where: str) -> str | None:
    """A digest of the path, type, size, device, inode, modification and change times (ns) of
    ``where`` and of everything below it (symbolic links not followed; one ``lstat`` each, no
    file opened). None when it cannot be read, holds more than ``MAX_STAMP_ENTRIES`` entries,
    or anything in it changed in the last two seconds: a later change within the file system's
    clock granularity could then leave the stamp unchanged (git's "racy" entries)."""
    limit = time.time_ns() - RECENT_NS
    lines: list[str] = []  # one per entry, hashed at once (the digest of their concatenation)
    add, lstat, isdir = lines.append, os.lstat, stat.S_ISDIR
    where = os.fspath(where)
    count = 0  # entries listed below ``where``
    # depth first in name order: a stack of the folders being walked, each an iterator over
    # its entries (path below ``where``, lstat); a folder is opened once and its entries are
    # read with one lstat each relative to it (no path joined, nor resolved, per entry)
    try:
        stack = [iter([("", lstat(where))])]
        while stack:
            for rel, st in stack[-1]:
                if st.st_mtime_ns > limit or st.st_ctime_ns > limit:
                    return None
                mode = st.st_mode
                add(
                    f"{rel}\0{mode}|{st.st_size}|{st.st_dev}|{st.st_ino}|"
                    f"{st.st_mtime_ns}|{st.st_ctime_ns}\n"
                )
                if isdir(mode):
                    fd = os.open(where + rel, _DIR_FLAGS)
                    try:
                        names = os.listdir(fd)
                        count += len(names)
                        if count >= MAX_STAMP_ENTRIES:  # with ``where``: more than a stamp holds
                            return None
                        names.sort()
                        stack.append(iter([(f"{rel}/{n}", lstat(n, dir_fd=fd)) for n in names]))
                    finally:
                        os.close(fd)
                    break  # its entries first
            else:
                stack.pop()  # the folder is done: on with its parent's next entry
    except OSError:
        return None
    data = "".join(lines).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(data, digest_size=16).hexdigest()
