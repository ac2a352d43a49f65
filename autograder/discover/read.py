"""One submission read from a tree (a folder, a zip, a notebook) into a
:class:`~autograder.discover.submission.Submission`; a broken one never raises."""

from __future__ import annotations

import contextvars
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from .files import (
    _NOT_FOLLOWED,
    MAX_FILE_BYTES,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    RATIO_MIN_BYTES,
    _Entry,
    _ignored,
    _reason,
    _show,
    _split,
    _TooLarge,
    _ZipDir,
    _ZipTree,
)
from .package import MODULE_FILES, _analyse, _assemble
from .submission import Submission


@dataclass
class _Found:
    sub: Submission
    attempt: bool  # does it look like an attempt (so that a PATH of only these is gradable)?


def _build(
    raw_id: str,
    origin: str,
    entries: list[_Entry],
    problems: list[str],
    metadata: dict,
    archive: bool,
) -> Submission:
    """Read the package's files (with caps) and make the submission."""
    what = "archive" if archive else "submission"
    names = []
    for e in entries:
        if e.kind == "link":
            problems.append(f"{_show(e.path)} {_NOT_FOLLOWED}.")
        elif e.kind == "other":
            problems.append(f"{_show(e.path)} is not a regular file; it was skipped.")
        elif e.path.lower().endswith(".zip"):
            problems.append(
                f"nested archive {_show(e.path)} ignored: submit the cnn/ folder itself, "
                "not an archive of it."
            )
        else:
            names.append(e.path)
    layout = _analyse(names)
    by_path = {e.path: e for e in entries}
    if layout.folder is None:
        notebooks = [n for n in names if n.lower().endswith(".ipynb") and not _ignored_path(n)]
        if notebooks:
            return _from_notebook(raw_id, origin, by_path, notebooks, problems, metadata)
    contents: dict[str, bytes] = {}
    total = 0
    for key in layout.members:
        entry, shown = by_path[key], _show(key)
        if entry.size > MAX_FILE_BYTES:
            problems.append(f"{what} too large: {shown} is bigger than 1 MiB; it was not read.")
            continue
        if (
            entry.packed is not None
            and entry.size >= RATIO_MIN_BYTES
            and entry.size > MAX_RATIO * max(entry.packed, 1)
        ):
            problems.append(
                f"{what} too large: {shown} is compressed suspiciously well; it was not read."
            )
            continue
        try:
            data = entry.reader(MAX_FILE_BYTES + 1)
        except OSError as exc:
            if getattr(exc, "errno", None) == getattr(os, "ELOOP", -1):
                problems.append(f"{shown} {_NOT_FOLLOWED}.")
            else:
                problems.append(f"could not read {shown}: {_reason(exc)}.")
            continue
        except Exception as exc:  # corrupt member, bad CRC, encrypted, unknown compression
            problems.append(f"could not read {shown} from the archive: {_reason(exc)}.")
            continue
        if len(data) > MAX_FILE_BYTES:
            problems.append(f"{what} too large: {shown} is bigger than 1 MiB; it was not read.")
            continue
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            problems.append(
                f"{what} too large: its .py files add up to more than 8 MiB; "
                f"{shown} and the files after it were not read."
            )
            break
        contents[key] = data
    flat, more = _assemble(layout, contents)
    return Submission(raw_id, origin, flat, problems + layout.problems + more, metadata)


def _ignored_path(path: str) -> bool:
    parts = _split(path)
    return parts is None or any(_ignored(p) for p in parts)


def _notebook_submission(
    raw_id: str, origin: str, data: bytes, shown: str, problems: list[str], metadata: dict
) -> Submission:
    """The modules a handout notebook's %%writefile cells hold (nothing is executed)."""
    from ..lms.notebook import modules_from_notebook

    files, more = modules_from_notebook(data, shown)
    if files:
        more += [f"module {m} is missing." for m in MODULE_FILES if m not in files]
    return Submission(raw_id, origin, files, problems + more, {**metadata, "notebook": shown})


def _from_notebook(raw_id, origin, by_path, notebooks, problems, metadata) -> Submission:
    from ..lms.notebook import MAX_NOTEBOOK_BYTES

    notebooks.sort(key=lambda n: (n.count("/"), n))
    chosen, shown = by_path[notebooks[0]], _show(notebooks[0])
    problems = list(problems)
    if len(notebooks) > 1:
        rest = ", ".join(_show(n) for n in notebooks[1:4])
        problems.append(f"found several notebooks; graded {shown}, ignored {rest}.")
    if chosen.size > MAX_NOTEBOOK_BYTES:
        sentence = f"{shown} is bigger than 8 MiB; it was not read."
        return Submission(raw_id, origin, {}, [*problems, sentence], metadata)
    try:
        data = chosen.reader(MAX_NOTEBOOK_BYTES + 1)
    except Exception as exc:
        sentence = f"could not read {shown}: {_reason(exc)}."
        return Submission(raw_id, origin, {}, [*problems, sentence], metadata)
    return _notebook_submission(raw_id, origin, data, shown, problems, metadata)


def _unreadable(raw_id: str, origin: str, sentence: str, metadata: dict | None = None) -> _Found:
    return _Found(Submission(raw_id, origin, {}, [sentence], metadata or {}), True)


def _from_dir(raw_id: str, d, metadata: dict | None = None, explicit: bool = False) -> _Found:
    """One student's submission: the folder ``d`` (on disk or inside a zip)."""
    metadata = metadata or {}
    try:
        entries, problems = d.files()
    except Exception as exc:
        return _unreadable(raw_id, d.origin, f"could not read the submission: {_reason(exc)}.")
    files = [e for e in entries if e.kind == "file"]
    zips = [e for e in files if e.path.lower().endswith(".zip")]
    has_py = any(e.path.endswith(".py") for e in files)
    if zips and not has_py and not d.archive:
        # A folder holding just the student's zip (Moodle and LMS exports): grade the zip.
        zips.sort(key=lambda e: (e.path.count("/"), e.path))
        if len(zips) > 1:
            rest = ", ".join(_show(e.path) for e in zips[1:4])
            problems.append(
                f"found several archives; graded {_show(zips[0].path)}, ignored {rest}."
            )
        found = _from_zip(raw_id, d, zips[0].path, metadata)
        found.sub.problems[:0] = problems
        return found
    attempt = explicit or any(
        e.path.endswith(".py") or e.path.lower().endswith((".ipynb", ".zip")) for e in entries
    )
    sub = _build(raw_id, d.origin, entries, problems, metadata, d.archive)
    return _Found(sub, attempt)


def _from_zip(raw_id: str, parent, name: str, metadata: dict | None = None) -> _Found:
    """One student's submission: the zip ``name`` inside the folder ``parent``."""
    origin = parent.child_origin(name)
    try:
        zf = parent.open_zip(name)
    except _TooLarge as exc:
        return _unreadable(raw_id, origin, str(exc), metadata)
    except Exception as exc:
        sentence = f"the archive could not be opened: {_reason(exc)}."
        return _unreadable(raw_id, origin, sentence, metadata)
    with zf:
        return _from_open_zip(raw_id, zf, origin, metadata)


def _from_open_zip(raw_id: str, zf: zipfile.ZipFile, origin: str, metadata: dict | None) -> _Found:
    try:
        tree = _ZipTree(zf, origin)
    except _TooLarge as exc:
        return _unreadable(raw_id, origin, str(exc), metadata)
    except Exception as exc:
        sentence = f"the archive could not be opened: {_reason(exc)}."
        return _unreadable(raw_id, origin, sentence, metadata)
    return _from_dir(raw_id, _ZipDir(tree, ""), metadata, explicit=True)


# Set by autograder.stream (issue #16): a hook that takes (raw_id, origin, make, where) and
# returns a stand-in whose files are read later, so that a run lists students before it reads
# them; ``where`` is the student's folder or zip on disk, when it has one of its own.
DEFER: contextvars.ContextVar[Callable | None] = contextvars.ContextVar("defer", default=None)


def _guard(
    raw_id: str, origin: str, make: Callable[[], _Found], where: str | None = None
) -> _Found:
    """Run ``make``; an unexpected error becomes a problem of that one student."""
    defer = DEFER.get()
    if defer is not None:
        return defer(raw_id, origin, lambda: _guard_now(raw_id, origin, make), where)
    return _guard_now(raw_id, origin, make)


def _guard_now(raw_id: str, origin: str, make: Callable[[], _Found]) -> _Found:
    try:
        return make()
    except Exception as exc:  # never let one submission stop the batch
        return _unreadable(raw_id, origin, f"could not read the submission: {_reason(exc)}.")
