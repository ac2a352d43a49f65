"""The grader's side of the fork server (``forkserver.py``): one server per grading process.

At the ``namespaces+user`` level (root) a worker is not exec'd through ``unshare``, a shell,
11 ``mount`` commands and ``setpriv`` into a fresh interpreter that imports numpy: the fork
server, a clean interpreter started once with numpy and the worker preloaded, forks a child
that isolates itself with system calls (the same namespaces, mounts, limits, uid, Landlock;
see ``forkserver.py``). :class:`ForkedWorker` has :class:`process.Worker`'s interface.

Kill: SIGKILL to the namespace's init through a pidfd (no pid reuse), and a shutdown of the
control socket, on which the trusted launcher (C1) kills the init itself; C1 reports the
status once the init is reaped, which the kernel allows only after every process of the
namespace is gone. The grader's death closes the server's socket (the server exits, its
children die by parent-death signal) and every control socket (each C1 kills its init).

``CNN_GRADE_FORKSERVER=0`` turns the server off (every worker exec'd as before).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy

from . import reap
from .errors import GradingStopped, WorkerStartError
from .isolation import PRIVATE_TMP, Isolation, Limits, _under, hidden_folders, package_dirs
from .pipe import StatusPipe, widen

SERVER = Path(__file__).with_name("forkserver.py")
WORKER = Path(__file__).with_name("worker.py")
START_TIMEOUT = 60.0
GRACE = 2.0  # seconds a worker that closed its pipe gets to exit on its own


def enabled(iso: Isolation) -> bool:
    return (
        iso.level == "namespaces+user"
        and os.geteuid() == 0
        and os.environ.get("CNN_GRADE_FORKSERVER", "1") != "0"
    )


class ForkServer:
    """The server process and its request socket (requests are serialised by a lock)."""

    def __init__(self) -> None:
        from .process import worker_env

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        site = str(Path(numpy.__file__).resolve().parent.parent)
        env = worker_env("forkserver")
        self.lock = threading.Lock()
        try:
            with reap.live_lock:
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        "-S",
                        "-B",
                        str(SERVER),
                        str(theirs.fileno()),
                        site,
                        str(WORKER),
                    ],
                    cwd="/",
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,
                )
                reap.live_pids.add(self.proc.pid)
        finally:
            theirs.close()
        self.sock = mine
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the server's hello (it imports numpy first); raise if it never came."""
        if self.ready:
            return
        self.sock.settimeout(START_TIMEOUT)
        try:
            hello = self.sock.recv(64)
        except OSError:
            hello = b""
        if hello != b"ready":
            self.close()
            raise WorkerStartError("the grader could not start the sandbox's fork server")
        self.ready = True

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, request: dict, fds: list[int]) -> int:
        """Fork one isolated worker; the launcher's pid (for the record only)."""
        with self.lock:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
                reply = json.loads(self.sock.recv(1 << 16) or b"{}")
            except (OSError, ValueError) as exc:
                raise WorkerStartError(f"the sandbox's fork server failed ({exc})") from None
        if "pid" not in reply:
            why = reply.get("error", "it stopped")
            raise WorkerStartError(f"the sandbox's fork server could not fork a worker ({why})")
        return int(reply["pid"])

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            with reap.live_lock:
                reap.live_pids.discard(self.proc.pid)


_server_lock = threading.Lock()
_server: ForkServer | None = None
_server_pid = 0


def _start_locked() -> ForkServer:
    """This process's server, started anew when there is none or it died (under the lock)."""
    global _server, _server_pid
    if _server is None or _server_pid != os.getpid() or not _server.alive():
        if _server is not None and _server_pid == os.getpid():
            _server.close()
        _server, _server_pid = None, os.getpid()
        _server = ForkServer()
    return _server


def server() -> ForkServer:
    """This process's fork server (started on first use, restarted if it died)."""
    global _server
    with _server_lock:
        started = _start_locked()
        try:
            started.wait_ready()
        except WorkerStartError:
            _server = None
            raise
        return started


def prestart(iso: Isolation) -> None:
    """Start this process's fork server now without waiting for it (it imports numpy while
    the grader builds the cases); the first worker then finds it ready. Best effort."""
    if not enabled(iso):
        return
    with _server_lock:
        try:
            _start_locked()
        except (OSError, WorkerStartError):
            pass  # _server stays None: server() tries again and reports the failure


def plan(job: Path, hide: list[Path]) -> dict:
    """What C1 covers, keeps and mounts (computed here, by the trusted grader)."""
    base = os.path.realpath(sys.base_prefix)
    numpy_dir = str(Path(numpy.__file__).resolve().parent)
    packages = list(package_dirs())
    wanted = hidden_folders(job, hide, [p for p in packages if not _under(p, base)])
    for kept in (base, numpy_dir):  # a folder on the way the worker's uid may not traverse
        parts = Path(kept).parts
        for n in range(2, len(parts)):
            folder = str(Path(*parts[:n]))
            try:
                if not os.stat(folder).st_mode & 0o001:
                    wanted.append(folder)
                    break
            except OSError:
                break
    cover = []
    for path in dict.fromkeys(wanted):
        if any(_under(path, t) for t in PRIVATE_TMP):
            continue  # behind a private tmpfs anyway
        if any(_under(path, c) and path != c for c in wanted):
            continue  # behind an outer cover
        if path in ("/", "/usr", "/usr/local") or path == base:
            continue
        cover.append(path)
    return {
        "job": str(job),
        "cover": cover,
        "keep": [base],
        "package_dirs": [p for p in packages if _under(p, base)],
        "numpy_dirs": [numpy_dir, numpy_dir + ".libs"],
        "private_tmp": PRIVATE_TMP,
    }


class ForkedWorker:
    """A worker forked by the fork server; the interface of :class:`process.Worker`."""

    def __init__(
        self,
        job: Path,
        start: int,
        iso: Isolation,
        limits: Limits,
        hide: list[Path],
        inputs_fd: int,
        uid: int | None,
    ):
        from . import process

        if process._stopping.is_set():
            raise GradingStopped()
        self.iso, self.uid, self.killed = iso, uid, False
        self.code: int | None = None
        self.launcher_lost = False
        self.pidfd: int | None = None
        self.init = None
        read_fd, write_fd = os.pipe()
        widen(write_fd)
        self.ctl, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = os.open(job / "output.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        request = {
            **plan(job, hide),
            "start": start,
            "uid": uid,
            "env": process.worker_env(process.new_token()),
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_mb": limits.memory_mb,
                "file_mb": limits.file_mb,
                "processes": limits.processes,
            },
        }
        try:
            server().spawn(request, [write_fd, inputs_fd, log, ctl_child.fileno()])
        except WorkerStartError:
            os.close(read_fd)
            self.ctl.close()
            raise
        finally:
            os.close(write_fd)
            os.close(log)
            ctl_child.close()
        self.buffer = b""
        with process._workers_lock:
            process._workers.add(self)  # type: ignore[arg-type]
        if process._stopping.is_set():
            self.send_kill()
        self.pipe = StatusPipe(read_fd)

    def _receive(self, timeout: float) -> bool:
        """Read the launcher's messages (the init's pidfd, the status); False at EOF."""
        self.ctl.settimeout(timeout)
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.ctl, 256, 1)
        except (TimeoutError, BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        for fd in fds:
            if self.pidfd is None and data.startswith(b"P"):
                self.pidfd = fd
            else:
                os.close(fd)
        if data.startswith(b"P"):
            data = data[1:]
        self.buffer += data
        if b"\n" in self.buffer and self.buffer.startswith(b"X "):
            try:
                self.code = int(self.buffer[2 : self.buffer.index(b"\n")])
            except ValueError:
                self.code = None
        return bool(data) or bool(fds)

    def _wait_status(self, end: float) -> None:
        while self.code is None and time.monotonic() < end:
            if not self._receive(max(0.0, end - time.monotonic())):
                break

    def note_init(self) -> None:
        if self.pidfd is None:
            self._receive(0)

    def send_kill(self) -> None:
        """SIGKILL the namespace's init (signal-safe: a pidfd signal and a socket shutdown)."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.ctl.shutdown(socket.SHUT_WR)  # C1 kills the init on this, too
        except OSError:
            pass

    def kill(self) -> int | None:
        """Kill the worker and everything in its namespace; its exit status."""
        from . import process

        if self.killed:
            return self.code
        self.killed = True
        self.note_init()
        if self.pipe.eof:  # the worker closed its pipe (died?): its own status, not our kill
            self._wait_status(time.monotonic() + GRACE)
        if self.code is None:
            self.send_kill()
        self._wait_status(time.monotonic() + 10)
        code = self.code
        # C1 always reports the init's status, even after our kill: none means the trusted
        # launcher itself died (the fork server was killed): not the student's doing.
        self.launcher_lost = code is None
        if code is not None and code > 128:
            code = 128 - code  # the init reports a signal as 128 + n
        with process._workers_lock:
            process._workers.discard(self)  # type: ignore[arg-type]
        if self.pidfd is not None:
            os.close(self.pidfd)
        self.ctl.close()
        self.pipe.close()
        self.code = code
        return code
