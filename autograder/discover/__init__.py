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

import bisect
import dataclasses
import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .paths import MODULES

__all__ = ["DiscoveryError", "Submission", "discover", "find_package", "materialise"]

# Caps on what one submission may make us read (all in memory).
MAX_FILE_BYTES = 1 << 20  # one .py file
MAX_TOTAL_BYTES = 8 << 20  # all .py files of one submission
MAX_ENTRIES = 2000  # files in one submission (ignored folders such as __MACOSX not counted)
MAX_ARCHIVE_BYTES = 64 << 20  # a zip held inside another zip (read into memory to open it)
MAX_CLASS_ENTRIES = 200_000  # members of a whole-class archive (Gradescope/Canvas export zip)
MAX_RATIO = 200  # declared size / compressed size above which a big member is a zip bomb
RATIO_MIN_BYTES = 256 << 10  # ... for members declaring at least this many bytes
MAX_META_BYTES = 16 << 20  # Gradescope's submission_metadata.yml
MAX_DEPTH = 32  # folder nesting we walk on disk
MAX_NOTES = 10  # "found x.ipynb" style notes per submission before summarising

GRADESCOPE_META = "submission_metadata.yml"
MODULE_FILES = tuple(f"{m}.py" for m in MODULES)
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")
# "conv (1).py" (browser re-download), "conv-1.py" (Canvas), "conv copy.py" (macOS Finder).
_RENAMED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?: ?\((\d+)\)|-(\d+)| copy(?: (\d+))?)\.py")
# A Canvas download names each file [<name>_][LATE_]<id>_<fileid>_<file> (ContentZipper): <name>
# is the sortable name, lowercased, non-word characters removed, absent when the assignment is
# anonymous; <id> is the user id, or anon_<anonymous id> (5 base58 characters) for anonymous
# grading. Older Canvas lowercased the whole name ("late_"), and its anonymous-grading feature
# left out the name but kept the user id. A name is never "late_..."/"anon_..." or all digits.
_CANVAS = re.compile(
    r"(?:(?!(?i:late|anon)_|\d+_)(?P<name>.+?)_)?"
    r"(?:(?P<late>(?i:late))_)?"
    r"(?:(?i:anon)_(?P<anon>[A-Za-z0-9]+)|(?P<uid>\d+))_"
    r"(?P<fid>\d+)_(?P<rest>.+)"
)
_CANVAS_RESUBMITTED = re.compile(r"(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[^.]+)")
# Names the kit writes in the output folder next to the student folders: a student id equal to
# one of them (ignoring case) is renamed, so OUT/<student>/ never takes the place of a report.
RESERVED_IDS = frozenset({"gradebook.csv", "summary.html", "mistakes.csv", "run.json"})
_ID_BAD = re.compile(r"[^A-Za-z0-9._@+-]+")
_ATTEMPT_SUFFIXES = frozenset(
    {"py", "pyc", "pyw", "txt", "py.txt", "bak", "py.bak", "py.orig", "py~", "rtf", "doc", "docx"}
)
_IGNORED_DIRS = frozenset({"__MACOSX", "__pycache__", "node_modules", "site-packages", "venv"})
_NOT_FOLLOWED = "is a symbolic link, which is never followed; it was skipped"


class DiscoveryError(Exception):
    """An instructor error: one clear sentence (no such path, nothing gradable found)."""


@dataclass
class Submission:
    """One student's submission, read into memory."""

    student: str  # safe, unique id: [A-Za-z0-9._@+-] (plus "~N" for duplicates), <= 100 chars
    origin: str  # where it came from, for reports (path, or path!member for zips)
    files: dict[str, bytes]  # 'conv.py' -> bytes: the .py files of the cnn package (flat names)
    problems: list[str] = field(default_factory=list)  # one clear sentence each
    metadata: dict = field(default_factory=dict)  # Gradescope/Canvas names and ids


# --------------------------------------------------------------------------- small helpers


def _show(text: str, limit: int = 200) -> str:
    """``text`` made safe to print: undecodable bytes and control characters escaped."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ignored(name: str) -> bool:
    """Hidden files and folders, macOS resource forks, caches and virtual environments."""
    return name.startswith(".") or name in _IGNORED_DIRS


def _safe_id(raw: str) -> str:
    """A student id made of ``[A-Za-z0-9._@+-]`` only, no leading '.', at most 100 chars."""
    text = raw
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


def _zip_stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".zip") else name


def _split(path: str) -> list[str] | None:
    """The components of a relative path, or None if it is unsafe (absolute, '..', 'C:')."""
    path = path.replace("\\", "/")
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or not parts:
        return None
    return parts


def _reason(exc: BaseException) -> str:
    """A short, one-line reason for an error."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile):
        text = str(exc) or "corrupt archive"
        text = text[:1].lower() + text[1:]
    elif isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        text = "it is encrypted"
    elif isinstance(exc, UnicodeDecodeError):
        text = "a file name in it is marked UTF-8 but is not"
    elif isinstance(exc, NotImplementedError):
        text = "it uses an unsupported compression method"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _show(" ".join(text.split()), 160).rstrip(".")


# --------------------------------------------------------------------------- file trees


@dataclass
class _Entry:
    """One file of a submission, not read yet."""

    path: str  # relative posix path inside the submission
    kind: str  # "file", "link" (symbolic link) or "other" (fifo, device, ...)
    size: int = 0  # declared size in bytes
    reader: Callable[[int], bytes] | None = None  # reads at most n bytes
    packed: int | None = None  # compressed size, for zip members


def _read_disk(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``, never following a symlink."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        chunks: list[bytes] = []
        while limit > 0:
            chunk = os.read(fd, min(limit, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            limit -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _disk_reader(path: str) -> Callable[[int], bytes]:
    return lambda limit: _read_disk(path, limit)  # looked up at call time (tests patch it)


def _zip_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[int], bytes]:
    def read(limit: int) -> bytes:
        with zf.open(info) as member:  # streams: never decompresses more than asked
            return member.read(limit)

    return read


def _disk_kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "other"


class _OwningZipFile(zipfile.ZipFile):
    """A ZipFile that closes the file object it was opened on."""

    def __init__(self, handle):
        self._handle = handle
        super().__init__(handle)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._handle.close()


class _DiskDir:
    """A folder on disk."""

    archive = False

    def __init__(self, path: str, origin: str):
        self.path = path
        self.origin = origin

    def children(self) -> dict[str, str]:
        with os.scandir(self.path) as it:
            return {e.name: _disk_kind(e) for e in it if not _ignored(e.name)}

    def subdir(self, name: str) -> _DiskDir:
        return _DiskDir(os.path.join(self.path, name), self.child_origin(name))

    def child_origin(self, name: str) -> str:
        return os.path.join(self.origin, name)

    def entry(self, name: str) -> _Entry:
        path = os.path.join(self.path, name)
        st = os.lstat(path)
        kind = "file" if stat.S_ISREG(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else ""
        return _Entry(name, kind or "other", st.st_size, _disk_reader(path))

    def read(self, name: str, limit: int) -> bytes:
        return _read_disk(os.path.join(self.path, name), limit)

    def open_zip(self, name: str) -> zipfile.ZipFile:
        path = os.path.join(self.path, name)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
        handle = os.fdopen(fd, "rb")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(0, "not a regular file")
            return _OwningZipFile(handle)
        except BaseException:
            handle.close()
            raise

    def files(self) -> tuple[list[_Entry], list[str]]:
        """Every file below this folder (symlinks listed, never followed), capped."""
        entries: list[_Entry] = []
        problems: list[str] = []
        stack = [("", self.path, 0)]
        while stack:
            rel, path, depth = stack.pop()
            try:
                with os.scandir(path) as it:
                    items = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                problems.append(f"could not read the folder {_show(rel or '.')}: {_reason(exc)}.")
                continue
            for item in items:
                if _ignored(item.name):
                    continue
                relpath = rel + item.name
                try:
                    kind = _disk_kind(item)
                    if kind == "dir":
                        if depth + 1 >= MAX_DEPTH:
                            problems.append(
                                f"folder {_show(relpath)} is nested too deeply; skipped."
                            )
                        else:
                            stack.append((relpath + "/", item.path, depth + 1))
                        continue
                    size = item.stat(follow_symlinks=False).st_size if kind == "file" else 0
                except OSError as exc:
                    problems.append(f"could not read {_show(relpath)}: {_reason(exc)}.")
                    continue
                entries.append(_Entry(relpath, kind, size, _disk_reader(item.path)))
                if len(entries) > MAX_ENTRIES:
                    msg = f"submission too large: it holds more than {MAX_ENTRIES} files."
                    return [], [*problems, msg]
        entries.sort(key=lambda e: e.path)
        return entries, problems


class _ZipTree:
    """The members of one zip archive, with safe relative paths; nothing read yet."""

    def __init__(self, zf: zipfile.ZipFile, label: str):
        self.zf = zf
        self.label = label
        self.entries: dict[str, _Entry] = {}
        self.dirs: set[str] = set()
        self.problems: list[tuple[str, str]] = []  # (raw name, sentence)
        infos = zf.infolist()
        if len(infos) > MAX_CLASS_ENTRIES:
            raise _TooLarge(f"archive too large: it holds more than {MAX_CLASS_ENTRIES} entries.")
        for info in infos:
            raw = info.filename
            parts = _split(raw)
            if parts is None:
                if raw.strip("/"):
                    sentence = f"unsafe path {_show(raw)} in the archive was skipped."
                    self.problems.append((raw.replace("\\", "/"), sentence))
                continue
            path = "/".join(parts)
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISDIR(mode):
                self.dirs.add(path)
                continue
            if path in self.entries:
                sentence = f"the archive holds {_show(path)} twice; the first copy was used."
                self.problems.append((raw, sentence))
                continue
            fmt = stat.S_IFMT(mode)
            kind = "link" if fmt == stat.S_IFLNK else "file" if fmt in (0, stat.S_IFREG) else ""
            reader = _zip_reader(zf, info)
            self.entries[path] = _Entry(
                path, kind or "other", info.file_size, reader, info.compress_size
            )
            for i in range(1, len(parts)):
                self.dirs.add("/".join(parts[:i]))
        self.paths = sorted(self.entries)  # for prefix look-ups by bisection

    def under(self, prefix: str) -> list[str]:
        """The member paths starting with ``prefix``, sorted."""
        start = bisect.bisect_left(self.paths, prefix)
        end = start
        while end < len(self.paths) and self.paths[end].startswith(prefix):
            end += 1
        return self.paths[start:end]


class _TooLarge(Exception):
    pass


class _ZipDir:
    """A folder inside a zip archive ('' is the archive's root)."""

    archive = True

    def __init__(self, tree: _ZipTree, prefix: str):
        self.tree = tree
        self.prefix = prefix  # "" or "a/b/"
        self.origin = f"{tree.label}!{prefix.rstrip('/')}" if prefix else tree.label

    def children(self) -> dict[str, str]:
        out: dict[str, str] = {}
        n = len(self.prefix)
        for path in self.tree.dirs:
            if path.startswith(self.prefix) and "/" not in path[n:]:
                out[path[n:]] = "dir"
        for path in self.tree.under(self.prefix):
            name, sep, _ = path[n:].partition("/")
            out[name] = "dir" if sep else self.tree.entries[path].kind
        return {k: v for k, v in out.items() if not _ignored(k)}

    def subdir(self, name: str) -> _ZipDir:
        return _ZipDir(self.tree, f"{self.prefix}{name}/")

    def child_origin(self, name: str) -> str:
        return f"{self.tree.label}!{self.prefix}{name}"

    def entry(self, name: str) -> _Entry:
        return dataclasses.replace(self.tree.entries[self.prefix + name], path=name)

    def read(self, name: str, limit: int) -> bytes:
        return self.entry(name).reader(limit)

    def open_zip(self, name: str) -> zipfile.ZipFile:
        entry = self.entry(name)
        if entry.kind != "file":
            raise OSError(0, "not a regular file")
        data = entry.reader(MAX_ARCHIVE_BYTES + 1)
        if len(data) > MAX_ARCHIVE_BYTES:
            raise _TooLarge(f"archive too large: {_show(name)} is bigger than 64 MiB.")
        return zipfile.ZipFile(io.BytesIO(data))

    def files(self) -> tuple[list[_Entry], list[str]]:
        n = len(self.prefix)
        problems = [s for raw, s in self.tree.problems if raw.startswith(self.prefix)]
        entries = []
        for path in self.tree.under(self.prefix):
            if not any(_ignored(p) for p in path.split("/")):
                entries.append(dataclasses.replace(self.tree.entries[path], path=path[n:]))
        if len(entries) > MAX_ENTRIES:
            return [], [*problems, f"archive too large: it holds more than {MAX_ENTRIES} files."]
        return entries, problems


# --------------------------------------------------------------------------- the package


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


# --------------------------------------------------------------------------- one submission


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
    from .lms.notebook import modules_from_notebook

    files, more = modules_from_notebook(data, shown)
    if files:
        more += [f"module {m} is missing." for m in MODULE_FILES if m not in files]
    return Submission(raw_id, origin, files, problems + more, {**metadata, "notebook": shown})


def _from_notebook(raw_id, origin, by_path, notebooks, problems, metadata) -> Submission:
    from .lms.notebook import MAX_NOTEBOOK_BYTES

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


# --------------------------------------------------------------------------- many submissions


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
                _guard(name, d.child_origin(name), lambda n=name: _from_dir(n, d.subdir(n)))
            )
        elif kind == "file" and name.lower().endswith(".zip"):
            stem = _zip_stem(name)
            found.append(
                _guard(stem, d.child_origin(name), lambda n=name, s=stem: _from_zip(s, d, n))
            )
    for uid, items in sorted(canvas.items()):
        origin = d.child_origin(f"*{uid}_*")
        found.append(_guard(uid, origin, lambda u=uid, i=items: _canvas_student(d, u, i)))
    return found


def _guard(raw_id: str, origin: str, make: Callable[[], _Found]) -> _Found:
    """Run ``make``; an unexpected error becomes a problem of that one student."""
    try:
        return make()
    except Exception as exc:  # never let one submission stop the batch
        return _unreadable(raw_id, origin, f"could not read the submission: {_reason(exc)}.")


def _canvas_key(match: re.Match) -> str:
    """The student id of a Canvas file: the user id, or anon_<id> for anonymous grading."""
    return match["uid"] or f"anon_{match['anon']}"


def _canvas_student(d, uid: str, items: list[tuple[str, re.Match]]) -> _Found:
    """One student's files in a Canvas download, all named ``<name>_<uid>_<fileid>_<rest>``."""
    with ExitStack() as stack:  # the student's zips stay open until their files are read
        return _canvas_student_in(d, uid, items, stack)


def _canvas_student_in(d, uid: str, items: list[tuple[str, re.Match]], stack: ExitStack) -> _Found:
    origin = d.child_origin(f"*{uid}_*")
    names = sorted({m["name"] or "" for _, m in items})
    anonymous = uid.startswith("anon_")
    metadata = {
        "source": "canvas",
        "canvas_user_id": "" if anonymous else uid,
        "name": names[0],
        "late": any(m["late"] for _, m in items),
        **({"canvas_anonymous_id": uid[5:]} if anonymous else {}),
        "files": sorted(_show(name) for name, _ in items),
    }
    problems: list[str] = []
    entries: dict[str, _Entry] = {}
    rank: dict[str, tuple[int, int]] = {}
    loose: list[tuple[str, re.Match]] = []
    for name, match in sorted(items, key=lambda it: (int(it[1]["fid"]), it[0])):
        rest = match["rest"]
        if not rest.lower().endswith(".zip"):
            loose.append((name, match))
            continue
        prefix = _zip_stem(rest)
        inner = _from_canvas_zip(d, name, stack)
        if isinstance(inner, str):
            problems.append(inner)
            continue
        tree_entries, tree_problems = inner
        problems += tree_problems
        for e in tree_entries:
            entries.setdefault(
                f"{prefix}/{e.path}", dataclasses.replace(e, path=f"{prefix}/{e.path}")
            )
    for name, match in loose:
        rest = match["rest"]
        resub = _CANVAS_RESUBMITTED.fullmatch(rest)
        target, number = (resub["stem"] + resub["ext"], int(resub["n"])) if resub else (rest, 0)
        order = (int(match["fid"]), number)
        if target in entries and target in rank:
            older = min(order, rank[target])
            problems.append(
                f"several copies of {_show(target)}; the newest was graded "
                f"(file id {max(order, rank[target])[0]}, not {older[0]})."
            )
            if order < rank[target]:
                continue
        try:
            entry = d.entry(name)
        except Exception as exc:
            problems.append(f"could not read {_show(name)}: {_reason(exc)}.")
            continue
        entries[target] = dataclasses.replace(entry, path=target)
        rank[target] = order
    ordered = [entries[k] for k in sorted(entries)]
    return _Found(_build(uid, origin, ordered, problems, metadata, d.archive), True)


def _from_canvas_zip(d, name: str, stack: ExitStack) -> tuple[list[_Entry], list[str]] | str:
    """The files of a student's zip in a Canvas download, or a sentence saying why not."""
    try:
        zf = stack.enter_context(d.open_zip(name))
        tree = _ZipTree(zf, d.child_origin(name))
    except _TooLarge as exc:
        return str(exc)
    except Exception as exc:
        return f"the archive {_show(name)} could not be opened: {_reason(exc)}."
    return _ZipDir(tree, "").files()


def _gradescope(d) -> list[_Found]:
    """The submissions of a Gradescope export (folders listed in submission_metadata.yml)."""
    where = d.child_origin(GRADESCOPE_META)
    try:
        text = d.read(GRADESCOPE_META, MAX_META_BYTES + 1)
        if len(text) > MAX_META_BYTES:
            raise DiscoveryError(
                f"Cannot read the Gradescope metadata {_show(where)}: it is too large."
            )
        data = yaml.safe_load(text)
    except DiscoveryError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        why = getattr(exc, "problem", None) or "invalid YAML"
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: {_show(str(why))}{at}."
        ) from None
    except Exception as exc:
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: {_reason(exc)}."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: "
            "it is not a mapping of submission folders."
        )
    kids = d.children()
    found: list[_Found] = []
    for key in sorted(data, key=str):
        folder = str(key)
        info = data[key] if isinstance(data[key], dict) else {}
        sub_id = folder.removeprefix("submission_")
        submitters = _submitters(info)
        ids = [s.get("sid") or s.get("email", "").partition("@")[0] for s in submitters]
        raw_id = "+".join(i for i in ids if i) or folder
        metadata = {"source": "gradescope", "submission_id": sub_id, "submitters": submitters}
        for extra in ("created_at", "score", "status"):
            value = _field(info, extra)
            if value is not None:
                metadata[extra] = str(value)
        origin = d.child_origin(folder)
        kind = kids.get(folder)
        if kind == "dir":
            maker = lambda f=folder, r=raw_id, m=metadata: _from_dir(r, d.subdir(f), m, True)  # noqa: E731
            found.append(_guard(raw_id, origin, maker))
        elif kind == "link":
            found.append(_unreadable(raw_id, origin, f"{_show(folder)} {_NOT_FOLLOWED}.", metadata))
        else:
            sentence = "the submission folder is missing from the Gradescope export."
            found.append(_unreadable(raw_id, origin, sentence, metadata))
    listed = {str(k) for k in data}
    for name, kind in sorted(kids.items()):
        if kind == "dir" and name not in listed:
            item = _guard(name, d.child_origin(name), lambda n=name: _from_dir(n, d.subdir(n)))
            item.sub.problems.insert(0, f"{_show(name)} is not listed in {GRADESCOPE_META}.")
            found.append(item)
    return found


def _field(info: dict, name: str):
    """``info[':name']``: Gradescope writes Ruby symbols (``:sid: 1`` loads as ``':sid'``)."""
    for key in (f":{name}", f":{name}:", name):
        if key in info:
            return info[key]
    return None


def _submitters(info: dict) -> list[dict[str, str]]:
    raw = _field(info, "submitters")
    out = []
    for person in raw if isinstance(raw, list) else []:
        if not isinstance(person, dict):
            continue
        entry = {}
        for field_name in ("name", "sid", "email"):
            value = _field(person, field_name)
            if value is not None and str(value).strip():
                entry[field_name] = str(value).strip()
        out.append(entry)
    return out


# --------------------------------------------------------------------------- the entry points


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
                found = [_guard(name, shown, lambda: _from_dir(name, d, explicit=True))]
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
    from .lms.notebook import MAX_NOTEBOOK_BYTES

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


def _finalise(found: list[Submission]) -> list[Submission]:
    """Safe ids; duplicates become ``x``, ``x~2``, ... (a problem on each); sorted by id."""
    for sub in found:
        sub.student = _safe_id(sub.student)
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
