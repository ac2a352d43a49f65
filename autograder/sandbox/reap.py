"""Finding and killing what a worker left behind at the levels without a PID namespace.

``process-group`` (no namespaces, not root): each worker's environment carries a fresh token,
and the grading process is a child subreaper, so a daemon that double-forks and leaves the
worker's session is re-parented to it; :func:`reap` kills every process that carries the
token, sits in the worker's session, or is an orphan of ours running our interpreter. This is
the strongest the kernel offers an unprivileged process without namespaces; a process that
rewrites its own environment and escapes to another parent is not found (documented).
``user`` (root, no namespaces) kills by uid instead (:func:`slots.kill_uid`), which the kernel
guarantees.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .isolation import TOKEN_ENV

live_lock = threading.Lock()
live_pids: set[int] = set()  # the Popen children of this process that are workers
_subreaper = False


def become_subreaper() -> None:
    """Orphans of our workers are re-parented to us (Linux), so we can find and kill them."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _proc_info(pid: int) -> tuple[int, int, int] | None:
    """(ppid, pgid, sid) of a process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2 :].split()
        return int(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, ValueError, IndexError):
        return None


def _has_token(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return token in f.read(1 << 20)
    except OSError:
        return False


def _runs_our_python(pid: int) -> bool:
    try:
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(sys.executable)
    except OSError:
        return False


def reap(session: int, token: str) -> int:
    """Kill every leftover process of one worker; return how many were killed."""
    if not os.path.isdir("/proc"):
        return 0
    me, mark, killed = os.getpid(), f"{TOKEN_ENV}={token}".encode(), 0
    for _ in range(20):  # until a scan finds nothing (a process may fork while we scan)
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            pid = int(name)
            info = _proc_info(pid)
            if info is None:
                continue
            ppid, pgid, sid = info
            with live_lock:
                live = pid in live_pids
            if live:
                continue
            if (
                sid == session
                or pgid == session
                or _has_token(pid, mark)
                or (ppid == me and _subreaper and _runs_our_python(pid))
            ):
                found.append(pid)
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        collect_zombies()
        time.sleep(0.02)
    collect_zombies()
    return killed


def collect_zombies() -> None:
    """Wait for orphans re-parented to us (never for a live worker, which Popen waits for)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        info = _proc_info(pid)
        with live_lock:
            live = pid in live_pids
        if info and info[0] == me and not live:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def proc_start(pid: int) -> int | None:
    """A process's start time (clock ticks since boot): tells a pid from a reused one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def is_gone(pid: int, start: int | None) -> bool:
    """True once ``pid`` (started at ``start``) has exited (gone, or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return True
    rest = data[data.rindex(b")") + 2 :].split()
    try:
        return rest[0] in (b"Z", b"X") or int(rest[19]) != start
    except (ValueError, IndexError):
        return True


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        pass
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = _proc_info(int(name))
            if info and info[0] == pid:
                found.append(int(name))
    return found
