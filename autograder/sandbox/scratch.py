"""One base folder for every temporary folder a grading run makes, and cleanup after a kill.

Each grading process owns a run folder ``<tmp>/cnn-grade-<uid>/run-<pid>-<random>/`` and holds
an exclusive ``flock`` on its ``lock`` file for as long as it lives. The kernel drops the lock
when the process dies, however it dies (SIGKILL included), so the next run removes every run
folder whose lock it can take: those belong to dead runs. Folders of runs still alive (another
batch grading at the same time) keep their lock and are left alone.

The base folder is created ``0700``; one that is not a real folder owned by us (a symlink or a
folder planted by another user in the shared ``/tmp``) is refused, and a private one is used
instead.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_run: Path | None = None
_run_pid = 0
_lock_fd: int | None = None


def tmp_root() -> str:
    """``$TMPDIR`` when set; else ``/dev/shm`` when it is a roomy tmpfs that is writable and
    allows exec; else the system's temporary folder. A job folder holds the student's files, the
    call specs and the worker's output log (at most ``Limits.file_mb``); answers travel on a
    pipe and inputs in a memfd, so nothing large is written there."""
    if os.environ.get("TMPDIR"):
        return tempfile.gettempdir()
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return tempfile.gettempdir()
    roomy = st.f_bavail * st.f_frsize >= 512 * 1024 * 1024
    usable = not st.f_flag & (os.ST_RDONLY | getattr(os, "ST_NOEXEC", 0))
    if roomy and usable and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def base_dir() -> Path:
    """``<tmp>/cnn-grade-<uid>``, created 0700 and verified to be ours."""
    base = Path(tmp_root()) / f"cnn-grade-{os.getuid()}"
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        # Someone else's folder, or a symlink: do not put anything there.
        return Path(tempfile.mkdtemp(prefix=f"cnn-grade-{os.getuid()}-", dir=tmp_root()))
    return base


def clean_stale(base: Path | None = None) -> list[str]:
    """Remove the run folders of grading processes that died; return their names."""
    base = base or base_dir()
    removed = []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return removed
    for name in entries:
        path = base / name
        if not name.startswith("run-") or path == _run:
            continue
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                continue
            fd = os.open(path / "lock", os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = None  # a run killed before it took its lock
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its process is alive
            _remove(path)
            removed.append(name)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _remove(path: Path) -> None:
    """rmtree that also copes with folders a sandbox made read-only."""

    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def run_dir() -> Path:
    """This process's run folder (created and locked on first use; stale ones cleaned)."""
    global _run, _run_pid, _lock_fd
    with _lock:
        if _run is not None and _run_pid == os.getpid() and _run.is_dir():
            return _run
        base = base_dir()
        clean_stale(base)
        run = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=base))
        fd = os.open(run / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.set_inheritable(fd, False)
        _run, _run_pid, _lock_fd = run, os.getpid(), fd
        atexit.register(_remove_own, run, os.getpid())
        return run


def _remove_own(run: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child
        _remove(run)


def mkdtemp(prefix: str) -> Path:
    """A fresh folder inside this process's run folder."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=run_dir()))
