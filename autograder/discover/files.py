"""A read-only virtual file system over the folders and zips a student submits, with the
archive limits: nothing is extracted to disk, members are read in memory under caps (zip
bombs), unsafe member names (zip slip) and symbolic links are skipped, every oddity a sentence."""

from __future__ import annotations

import bisect
import dataclasses
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

# Caps on what one submission may make us read (all in memory).
MAX_FILE_BYTES = 1 << 20  # one .py file


MAX_TOTAL_BYTES = 8 << 20  # all .py files of one submission


MAX_ENTRIES = 2000  # files in one submission (ignored folders such as __MACOSX not counted)


MAX_ARCHIVE_BYTES = 64 << 20  # a zip held inside another zip (read into memory to open it)


MAX_CLASS_ENTRIES = 200_000  # members of a whole-class archive (Gradescope/Canvas export zip)


MAX_RATIO = 200  # declared size / compressed size above which a big member is a zip bomb


RATIO_MIN_BYTES = 256 << 10  # ... for members declaring at least this many bytes


MAX_DEPTH = 32  # folder nesting we walk on disk


_IGNORED_DIRS = frozenset({"__MACOSX", "__pycache__", "node_modules", "site-packages", "venv"})


_NOT_FOLLOWED = "is a symbolic link, which is never followed; it was skipped"


def _show(text: str, limit: int = 200) -> str:
    """``text`` made safe to print: undecodable bytes and control characters escaped."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    if not text.isprintable():  # (most names are: the same string without a pass per char)
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ignored(name: str) -> bool:
    """Hidden files and folders, macOS resource forks, caches and virtual environments."""
    return name.startswith(".") or name in _IGNORED_DIRS


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


def disk_path(d, name: str | None = None) -> str | None:
    """The path on disk of the folder ``d`` (or of its child ``name``); None inside a zip."""
    if not isinstance(d, _DiskDir):
        return None
    return d.path if name is None else os.path.join(d.path, name)


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
