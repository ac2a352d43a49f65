"""Output paths checked before any work starts: one sentence for every way they can be wrong.

``--out`` under a file, under a kernel file system (/proc, /sys), in a folder the user cannot
write, or itself a file where a folder is expected: each is found here, before grading or
building starts, instead of as a traceback after it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

PSEUDO = ("/proc", "/sys", "/dev")


class OutPathError(Exception):
    """One sentence: what is wrong with the output path and what was expected."""


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if os.path.lexists(parent):
            return parent
    return Path(path.anchor or "/")


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or type(exc).__name__


def _probe(folder: Path, flag: str, shown: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".grade-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutPathError(
            f"{flag} {shown}: cannot write in {folder} ({_reason(exc)}); "
            "choose a folder you can write to."
        ) from None


def _common(path: Path, flag: str) -> Path:
    absolute = Path(os.path.abspath(path))
    for root in PSEUDO:
        if absolute == Path(root) or Path(root) in absolute.parents:
            raise OutPathError(
                f"{flag} {path} is under {root}, a kernel file system that cannot hold "
                "output; choose an ordinary folder."
            )
    ancestor = _existing_ancestor(absolute)
    if ancestor != absolute and not ancestor.is_dir():
        raise OutPathError(
            f"{flag} {path} is under {ancestor}, which is a file, not a folder; "
            "choose another path."
        )
    return ancestor


def check_out_folder(path: Path, flag: str = "--out") -> None:
    """Raise :class:`OutPathError` unless ``path`` is, or can become, a writable folder."""
    path = Path(path)
    ancestor = _common(path, flag)
    absolute = Path(os.path.abspath(path))
    if ancestor == absolute and not absolute.is_dir():
        raise OutPathError(f"{flag} {path} is a file; expected a folder.")
    _probe(ancestor, flag, path)


def check_out_file(path: Path, flag: str = "--out") -> None:
    """Raise :class:`OutPathError` unless a file can be written at ``path``."""
    path = Path(path)
    ancestor = _common(path, flag)
    absolute = Path(os.path.abspath(path))
    if absolute.is_dir():
        raise OutPathError(f"{flag} {path} is a folder; expected a file name such as x.zip.")
    _probe(ancestor if ancestor != absolute else absolute.parent, flag, path)
