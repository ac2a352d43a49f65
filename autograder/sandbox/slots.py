"""Worker uids for a grader running as root: one uid per worker slot, from a reserved range.

Each worker runs as a uid of its own (``UID_BASE + k``), leased with an ``flock`` on
``/run/cnn-grade-slots/<uid>`` for as long as the worker runs: two workers (of this batch or
of another grading process on the machine) never share a uid, so a per-uid limit
(``RLIMIT_NPROC``) counts exactly one worker's processes, and no process of another user
(``nobody``'s 70 processes of some service, say) can use it up. The kernel drops the lock when
the grader dies, however it dies.

A uid's processes are all killed by :func:`kill_uid`: a helper switched to that uid calls
``kill(-1, SIGKILL)`` until nothing is left, which reaches every process of the uid whatever
it did (new sessions, double forks, ignored signals). The range is the kit's: set
``CNN_GRADE_UID_BASE`` if something else on the machine uses it.

Lease domains: a grader in a chroot or container with its own ``/run`` takes its locks in
another folder, so locks alone cannot keep two graders off one uid. Two defences: each lock
folder (identified by its device and inode) gets its own block of ``UID_COUNT`` uids out of
``DOMAINS`` (``domain_base``), and a leased uid that still has processes is used (and its
leftovers killed) only when every one of them is an orphan (its parent is another process of
that uid, PID 1, this grader, or gone): a process whose parent is a live launcher (another
grader, its ``unshare``, its namespace's init, its fork server) belongs to a grader that is
alive, and that uid is skipped, never killed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import signal
import threading
from pathlib import Path

UID_BASE = int(os.environ.get("CNN_GRADE_UID_BASE", "2100000000"))
UID_COUNT = 4096  # uids of one lease domain
DOMAINS = 64  # blocks of UID_COUNT uids from UID_BASE; isolation.PROBE_UID lies past them
SLOT_DIR = Path("/run/cnn-grade-slots")

_lock = threading.Lock()
_held: dict[int, int] = {}  # uid -> lock fd held by this process


class Slot:
    """A leased uid (release() or use as a context manager)."""

    def __init__(self, uid: int, fd: int):
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        with _lock:
            if self._fd >= 0:
                _held.pop(self.uid, None)
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _slot_dir() -> Path:
    folder = SLOT_DIR
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
        if st.st_uid == 0 and not st.st_mode & 0o022 and os.path.isdir(folder):
            return folder
    except OSError:
        pass
    from .scratch import base_dir

    folder = base_dir() / "slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _in_passwd(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def domain_base(folder: Path) -> int:
    """The first uid of the lease domain whose locks live in ``folder``."""
    try:
        st = os.stat(folder)
    except OSError:
        return UID_BASE
    key = hashlib.blake2b(f"{st.st_dev}:{st.st_ino}".encode(), digest_size=8).digest()
    return UID_BASE + UID_COUNT * (int.from_bytes(key, "big") % DOMAINS)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def owned_elsewhere(uid: int, pids: set[int] | None = None) -> bool:
    """Whether a live process of ``uid`` has a parent that is a live launcher (not an orphan
    of a dead grader): then another grader uses that uid now."""
    pids = set(processes_of(uid)) if pids is None else pids
    me = os.getpid()
    for pid in pids:
        parent = _parent(pid)
        if parent is None or parent in pids or parent in (0, 1, me):
            continue
        if os.path.exists(f"/proc/{parent}"):
            return True
    return False


def lease(kill_leftovers: bool = True) -> Slot:
    """A uid no other worker on this machine uses now (its leftovers, if any, killed: a
    grader SIGKILLed at the ``user`` level leaves its workers' children behind)."""
    folder = _slot_dir()
    first = domain_base(folder)
    for uid in range(first, first + UID_COUNT):
        with _lock:
            if uid in _held:
                continue
            fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            os.set_inheritable(fd, False)
            pids = set(processes_of(uid))
            if _in_passwd(uid) or owned_elsewhere(uid, pids):  # not ours to use (or to kill)
                os.close(fd)
                continue
            _held[uid] = fd
        if kill_leftovers and pids:
            kill_uid(uid)
        return Slot(uid, fd)
    raise OSError(f"all {UID_COUNT} worker uids from {first} are in use")


def kill_uid(uid: int) -> bool:
    """SIGKILL every process of ``uid``: a forked helper switches to that uid and calls
    ``kill(-1, SIGKILL)`` until none is left. No ``execve`` as that uid, which the kernel
    refuses once the uid is at its process limit (a fork bomb's)."""
    if os.geteuid() != 0 or uid < UID_BASE:
        return False
    pid = os.fork()
    if pid == 0:  # only system calls here (a forked copy of a threaded process)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(500):
                try:
                    os.kill(-1, signal.SIGKILL)  # every process of this uid but ourselves
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # another thread's zombie collection already reaped the helper
        pass
    # Killed processes that were re-parented to us (the grader is a child subreaper) stay
    # zombies until we wait for them, and a zombie still counts against the uid's process
    # limit: without this, a uid collects zombies until its next worker cannot even start.
    from .reap import collect_zombies

    collect_zombies()
    return True


def processes_of(uid: int) -> list[int]:
    """Pids whose real uid is ``uid`` (from /proc; raw reads: this runs once per lease)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fd = os.open(f"/proc/{name}/status", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                data = os.read(fd, 8192)
            except OSError:
                continue
            finally:
                os.close(fd)
            at = data.find(b"\nUid:")
            if at >= 0:
                fields = data[at + 5 : data.find(b"\n", at + 5)].split()
                if fields and fields[0].isdigit() and int(fields[0]) == uid:
                    found.append(int(name))
    return found


SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def remove_files_of(uid: int, places: tuple[str, ...] = SHARED_TMP) -> int:
    """Remove what ``uid`` left in the shared temp folders (the ``user`` level has no private
    mounts; Landlock, where present, already refused those writes). Returns the count."""
    import stat

    from .scratch import _remove

    removed = 0
    for place in places:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid != uid:
                continue
            try:
                if stat.S_ISDIR(st.st_mode):
                    _remove(Path(entry.path))
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed
