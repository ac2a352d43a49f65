"""Discovery that lists students first and reads each one's files only when it is graded.

:func:`discover_pending` finds the same students, ids, origins, problems and files as
:func:`autograder.discover.discover`, but for a PATH that is a folder on disk (a class folder, a
Gradescope or Canvas export on disk) a student's files are read by :meth:`Pending.load`, when
that student is graded. So a batch holds names, not files (memory flat in the class size), and a
``--shard`` process reads only its own students (plus the first student of a PATH, which the
"is anything here gradable?" check reads). A zip PATH is read as before (one archive).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import discover as _d
from .discover import DiscoveryError, Submission
from .discover.ids import _finalise
from .discover.read import DEFER


class _Deferred:
    """A stand-in for discover's ``_Found``: the submission is read on first need."""

    def __init__(self, raw_id: str, origin: str, make: Callable):
        self.sub = Submission(raw_id, origin, {}, [], {})
        self._make = make
        self._found = None

    def found(self):
        if self._found is None:
            self._found = self._make()
        return self._found

    @property
    def attempt(self) -> bool:
        return self.found().attempt


@dataclass
class Pending:
    """One student of a batch, before its files are read."""

    student: str
    origin: str
    _sub: Submission
    _deferred: _Deferred | None = None
    _before: int = 0  # problems noted before the student's own (discover's order)

    def load(self) -> Submission:
        """The submission, as :func:`autograder.discover.discover` returns it."""
        if self._deferred is None:
            return self._sub
        made = self._deferred.found().sub
        self._deferred._found = None  # read again if asked again: a batch holds no files
        notes = self._sub.problems
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

    def defer(raw_id: str, origin: str, make: Callable) -> _Deferred:
        item = _Deferred(raw_id, origin, make)
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
