"""Where the ``cnn`` package is in a submitted tree (nested folders, loose modules, renamed
downloads such as ``conv (1).py``), and writing a found package to a scratch folder."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..paths import MODULES
from .files import _ignored, _show, _split
from .submission import Submission

MAX_NOTES = 10  # "found x.ipynb" style notes per submission before summarising


MODULE_FILES = tuple(f"{m}.py" for m in MODULES)


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")


# "conv (1).py" (browser re-download), "conv-1.py" (Canvas), "conv copy.py" (macOS Finder).
_RENAMED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?: ?\((\d+)\)|-(\d+)| copy(?: (\d+))?)\.py")


_ATTEMPT_SUFFIXES = frozenset(
    {"py", "pyc", "pyw", "txt", "py.txt", "bak", "py.bak", "py.orig", "py~", "rtf", "doc", "docx"}
)


@dataclass
class _Layout:
    folder: str | None  # "" (root) or "a/cnn"; None when nothing was found
    members: list[str]  # original keys of the .py files directly in that folder
    problems: list[str]


def _attempt_note(path: str) -> str | None:
    """A note for a file that looks like an attempt at a module but is not a .py file."""
    name = path.rsplit("/", 1)[-1]
    if name.lower().endswith(".ipynb"):
        return (
            f"found {_show(path)}: a notebook is graded only when the upload holds no cnn/ "
            "package or module files, so it was ignored."
        )
    stem, _, rest = name.partition(".")
    rest = rest.lower()
    if name.endswith(".py"):
        return None
    if stem in MODULES and (rest in _ATTEMPT_SUFFIXES or rest.endswith(".pyc")):
        return f"found {_show(path)}: only .py files are graded, so it was ignored."
    return None


def _capped(notes: list[str]) -> list[str]:
    if len(notes) <= MAX_NOTES:
        return notes
    return [*notes[:MAX_NOTES], f"{len(notes) - MAX_NOTES} more such files were ignored."]


def _analyse(keys: Sequence[str]) -> _Layout:
    """Locate the package among the file paths of one submission (names only)."""
    problems: list[str] = []
    original: dict[str, str] = {}
    for key in sorted(keys):
        parts = _split(key)
        if parts is None:
            problems.append(f"unsafe path {_show(key)} was skipped.")
            continue
        if not any(_ignored(p) for p in parts):
            original.setdefault("/".join(parts), key)
    by_dir: dict[str, list[str]] = {}
    for path in original:
        folder, _, name = path.rpartition("/")
        by_dir.setdefault(folder, []).append(name)

    def depth(folder: str) -> int:
        return folder.count("/") + 1 if folder else 0

    cnn_dirs = [
        d
        for d, names in by_dir.items()
        if d.rpartition("/")[2] == "cnn" and any(n.endswith(".py") for n in names)
    ]
    module_dirs = [d for d, names in by_dir.items() if any(n in MODULE_FILES for n in names)]
    candidates = cnn_dirs or module_dirs
    folder = min(candidates, key=lambda d: (depth(d), d)) if candidates else None

    problems += _capped([n for n in (_attempt_note(p) for p in original) if n])
    if folder is None:
        problems.append("no cnn package or module files found.")
        return _Layout(None, [], problems)

    shown = f"{folder}/" if folder else "the top folder"
    others = sorted(d for d in candidates if d != folder)
    if others:
        listed = ", ".join(f"{_show(d)}/" for d in others[:5])
        problems.append(f"graded the package in {_show(shown)}; ignored the one(s) in {listed}.")
    members, extra = [], []
    for name in sorted(by_dir[folder]):
        path = f"{folder}/{name}" if folder else name
        if name.endswith(".py"):
            members.append(original[path])
        elif _attempt_note(path) is None:
            extra.append(f"extra file {_show(path)} ignored.")
    problems += _capped(extra)
    prefix = f"{folder}/" if folder else ""
    subfolders = sorted(
        {
            p[len(prefix) :].split("/")[0]
            for p in original
            if p.startswith(prefix) and p.endswith(".py") and "/" in p[len(prefix) :]
        }
    )
    for sub in subfolders:
        path = _show(prefix + sub)
        problems.append(
            f"subfolder {path}/ ignored: only the .py files directly in the package are graded."
        )
    return _Layout(folder, members, problems)


def _assemble(layout: _Layout, contents: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """The flat {name.py: bytes} of the package's files that were read, and notes on them."""
    problems: list[str] = []
    flat: dict[str, bytes] = {}
    renamed: dict[str, tuple[int, str, bytes]] = {}
    for key in layout.members:
        if key not in contents:
            continue  # not read (too large, unreadable, ...): already noted
        name = key.replace("\\", "/").rsplit("/", 1)[-1]
        data = contents[key]
        if _MODULE_NAME.fullmatch(name):
            flat[name] = bytes(data)
            continue
        match = _RENAMED.fullmatch(name)
        if match:
            number = int(next((g for g in match.groups()[1:] if g), "0"))
            target = f"{match[1]}.py"
            if target not in renamed or renamed[target][0] < number:
                renamed[target] = (number, name, bytes(data))
            continue
        problems.append(f"file {_show(name)} ignored: it is not a valid Python module name.")
    for target, (_, name, data) in sorted(renamed.items()):
        if target in flat:
            problems.append(f"file {_show(name)} ignored: {target} is there too.")
        else:
            flat[target] = data
            problems.append(f"file {_show(name)} was graded as {target}.")
    if layout.folder is not None:
        problems += [f"module {m} is missing." for m in MODULE_FILES if m not in flat]
    return dict(sorted(flat.items())), problems


def find_package(files: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """Locate the ``cnn`` package among all files of one submission.

    ``files`` maps relative posix paths to contents. A folder named ``cnn`` holding .py files
    wins (the shallowest; ``__MACOSX/``, hidden files and ``__pycache__`` are ignored); else the
    shallowest folder holding loose contract modules. Returns the .py files directly in that
    folder as ``{name.py: bytes}`` and the problems found, one sentence each.
    """
    layout = _analyse(list(files))
    contents = {}
    for key in layout.members:
        value = files[key]
        if isinstance(value, bytes | bytearray | memoryview):
            contents[key] = bytes(value)
        else:
            layout.problems.append(f"could not read {_show(key)}: its content is not bytes.")
    flat, problems = _assemble(layout, contents)
    return flat, layout.problems + problems


def materialise(sub: Submission, dest: Path) -> Path:
    """Write ``sub``'s files to ``dest/cnn/`` (mode 0o644) and return that folder.

    Adds an empty ``__init__.py`` if the student has none. Only flat module file names are
    written (anything else raises ValueError before a byte is written), and never through a
    symbolic link, so nothing lands outside ``dest``.
    """
    files = dict(sub.files)
    for name in files:
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
            raise ValueError(f"refusing to write {name!r}: not a module file name")
    files.setdefault("__init__.py", b"")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    package = dest / "cnn"
    if os.path.islink(package) or (os.path.lexists(package) and not package.is_dir()):
        os.unlink(package)  # a link is removed, never followed
    package.mkdir(exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for name, data in sorted(files.items()):
        target = package / name
        if os.path.lexists(target):
            os.unlink(target)  # a stale file or a planted symlink: replaced, not written through
        fd = os.open(target, flags | getattr(os, "O_BINARY", 0), 0o644)
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), 0o644)
            handle.write(bytes(data))
    return package
