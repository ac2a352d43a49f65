"""Find the students' submissions in the PATHs an instructor gives to ``grade``.

A PATH is one student's submission (a folder holding ``cnn/``, a zip of one, or loose module
files) or a folder of such submissions (one subfolder or zip per student; the student's id is
that name). Also accepted: a Gradescope export (per-submission folders next to
``submission_metadata.yml``) and a Canvas download (files named
``[<name>_][LATE_]<id>_<fileid>_<module>.py``, ``<id>`` the user id or ``anon_<id>`` for
anonymous grading, grouped by student), each as a folder or as a zip.

Everything a student submits is untrusted. Nothing is extracted to disk: archives are read in
memory with caps (zip bombs), unsafe member names (zip slip) and symbolic links are skipped,
and every oddity becomes one sentence in that student's ``problems`` (never an exception), so
one broken submission never stops the batch. Only instructor mistakes (no such PATH, nothing
gradable, unreadable Gradescope metadata) raise :class:`DiscoveryError`.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from .files import (
    _NOT_FOLLOWED,
    _DiskDir,
    _reason,
    _show,
    _TooLarge,
    _zip_stem,
    _ZipDir,
    _ZipTree,
    disk_path,
)
from .formats import _CANVAS, GRADESCOPE_META, _canvas_key, _canvas_student, _gradescope
from .ids import RESERVED_IDS, _finalise, safe_id
from .package import MODULE_FILES, find_package, materialise
from .read import (
    _Found,
    _from_dir,
    _from_zip,
    _guard,
    _notebook_submission,
    _unreadable,
)
from .submission import DiscoveryError, Submission

__all__ = [
    "RESERVED_IDS",
    "DiscoveryError",
    "Submission",
    "discover",
    "find_package",
    "materialise",
    "safe_id",
]


def _classify(d, plain: bool, depth: int = 0):
    """('gradescope' | 'canvas' | 'class' | 'single', folder) for the folder ``d``.

    ``plain``: may an ordinary folder of subfolders be a class? (Not inside a zip: a zip is one
    student's unless it is a Gradescope or Canvas export.)
    """
    kids = d.children()
    if kids.get(GRADESCOPE_META) == "file":
        return "gradescope", d
    if kids.get("cnn") == "dir" or any(kids.get(m) == "file" for m in MODULE_FILES):
        return "single", d
    if any(k == "file" and _CANVAS.fullmatch(n) for n, k in kids.items()):
        return "canvas", d
    dirs = [n for n, k in kids.items() if k == "dir"]
    zips = [n for n, k in kids.items() if k == "file" and n.lower().endswith(".zip")]
    if len(dirs) == 1 and not zips and depth < 8:
        try:
            kind, where = _classify(d.subdir(dirs[0]), plain, depth + 1)
        except OSError:  # an unreadable inner folder: let the student's report say so
            kind, where = "single", d
        if kind == "single":
            return "single", d  # one student's folder wrapped in another: the outer name
        if kind in ("gradescope", "canvas") or plain:
            return kind, where
    return ("class" if plain else "single"), d


def _class(d) -> list[_Found]:
    """The students in a class folder: subfolders, zips and Canvas file groups."""
    found: list[_Found] = []
    canvas: dict[str, list[tuple[str, re.Match]]] = {}
    for name, kind in sorted(d.children().items()):
        match = _CANVAS.fullmatch(name) if kind in ("file", "link") else None
        if match:
            canvas.setdefault(_canvas_key(match), []).append((name, match))
        elif kind == "link":
            raw_id = _zip_stem(name)
            sentence = f"{_show(name)} {_NOT_FOLLOWED}."
            found.append(_unreadable(raw_id, d.child_origin(name), sentence))
        elif kind == "dir":
            found.append(
                _guard(
                    name,
                    d.child_origin(name),
                    lambda n=name: _from_dir(n, d.subdir(n)),
                    disk_path(d, name),
                )
            )
        elif kind == "file" and name.lower().endswith(".zip"):
            stem = _zip_stem(name)
            found.append(
                _guard(
                    stem,
                    d.child_origin(name),
                    lambda n=name, s=stem: _from_zip(s, d, n),
                    disk_path(d, name),
                )
            )
    for uid, items in sorted(canvas.items()):
        origin = d.child_origin(f"*{uid}_*")
        found.append(_guard(uid, origin, lambda u=uid, i=items: _canvas_student(d, u, i)))
    return found


def _nothing_found(path: Path) -> DiscoveryError:
    return DiscoveryError(
        f"No submissions found in {_show(str(path))}: expected a folder holding cnn/, "
        "a zip of one, or a folder of such submissions."
    )


def _discover_path(path: Path, stack: ExitStack) -> list[_Found]:
    shown = _show(str(path))
    if not os.path.exists(path):  # also a dangling symlink
        raise DiscoveryError(f"No such file or folder: {shown}.")
    # The PATH itself is the instructor's: follow it if it is a symlink. Nothing below it.
    name = Path(os.path.abspath(path)).name
    if os.path.isdir(path):
        d = _DiskDir(str(path), str(path))
        try:
            kind, where = _classify(d, plain=True)
            if kind == "single":
                make = lambda: _from_dir(name, d, explicit=True)  # noqa: E731
                found = [_guard(name, shown, make, disk_path(d))]
            elif kind == "gradescope":
                found = _gradescope(where)
            else:
                found = _class(where)
        except OSError as exc:
            raise DiscoveryError(f"Cannot read {shown}: {_reason(exc)}.") from None
    elif os.path.isfile(path) and (name.lower().endswith(".zip") or _is_zip(path)):
        found = _discover_zip(path, _zip_stem(name), stack)
    elif os.path.isfile(path) and name.lower().endswith(".ipynb"):
        found = [_guard(name[:-6], shown, lambda: _notebook_path(name[:-6], path, shown))]
    else:
        raise DiscoveryError(
            f"Cannot grade {shown}: expected a folder, a .zip file or a handout notebook (.ipynb)."
        )
    if not any(f.attempt for f in found):
        raise _nothing_found(path)
    return found


def _notebook_path(raw_id: str, path: Path, shown: str) -> _Found:
    """A notebook PATH (the handout's, submitted as it is)."""
    from ..lms.notebook import MAX_NOTEBOOK_BYTES

    with open(path, "rb") as f:
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    return _Found(_notebook_submission(raw_id, shown, data, _show(path.name), [], {}), True)


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _discover_zip(path: Path, raw_id: str, stack: ExitStack) -> list[_Found]:
    """A zip PATH: one student's, or a whole Gradescope or Canvas export."""
    origin = str(path)
    try:
        zf = stack.enter_context(zipfile.ZipFile(path))
        tree = _ZipTree(zf, origin)
    except _TooLarge as exc:
        return [_unreadable(raw_id, origin, str(exc))]
    except Exception as exc:
        return [_unreadable(raw_id, origin, f"the archive could not be opened: {_reason(exc)}.")]
    root = _ZipDir(tree, "")
    kind, where = _classify(root, plain=False)
    if kind == "gradescope":
        return _gradescope(where)
    if kind == "canvas":
        return _class(where)
    return [_guard(raw_id, origin, lambda: _from_dir(raw_id, root, explicit=True))]


def discover(paths: Sequence[Path]) -> list[Submission]:
    """All submissions in ``paths``, sorted by student id (deterministic).

    Raises :class:`DiscoveryError` for an instructor mistake: a PATH that does not exist, a
    PATH with nothing gradable, unreadable Gradescope metadata. A student's broken submission
    never raises: it is listed with its problems (and no files, if nothing could be read).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise DiscoveryError("No PATH given: pass a submission or a folder of submissions.")
    found: list[Submission] = []
    seen: set[str] = set()
    with ExitStack() as stack:
        for path in paths:
            path = Path(path)
            key = os.path.realpath(path)
            if key in seen:
                continue  # the same PATH twice
            seen.add(key)
            found += [f.sub for f in _discover_path(path, stack)]
    return _finalise(found)
