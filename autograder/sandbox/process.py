"""Starting, killing and reaping sandbox workers (process control only).

The kill, by level: with namespaces the worker lives in its own PID namespace whose init is a
trusted shell; killing ``unshare`` (the grader's child, with a parent-death signal, so also
when the grader dies) kills that init, and the kernel then kills every process in the
namespace. At the ``user`` level every worker has a uid of its own (:mod:`slots`) and all its
processes are killed by uid. At ``process-group`` the fallback of :mod:`reap` is used.

:func:`stop_all` kills every live worker of this process and refuses new ones (signal-safe:
it only sends signals); the threads driving them then raise :class:`GradingStopped`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import reap, slots
from .errors import GradingStopped, WorkerStartError
from .isolation import TOKEN_ENV, Isolation, Limits, command, new_token, own_process_count, preexec
from .pipe import StatusPipe, widen

_workers_lock = threading.Lock()
_workers: set[Worker] = set()
_stopping = threading.Event()


def stop_all() -> None:
    """Kill every live worker of this process now and start no new one (signal-safe: it only
    sends signals). The threads running them then raise :class:`GradingStopped`."""
    _stopping.set()
    for worker in list(_workers):
        worker.send_kill()


def stopping() -> bool:
    return _stopping.is_set()


def reset_stop() -> None:
    """Allow new workers again (after a stop, once every worker thread is done)."""
    _stopping.clear()


def worker_env(token: str) -> dict[str, str]:
    """The whole environment of a worker: nothing of the grader's (no secret) crosses."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        TOKEN_ENV: token,
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class Worker:
    """One worker process (started by ``unshare``/``setpriv``/the interpreter) and its pipe."""

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
        if _stopping.is_set():
            raise GradingStopped()
        read_fd, write_fd = os.pipe()
        widen(write_fd)
        argv, sites, _inside = command(
            iso,
            job,
            ["{job}/worker.py", "{job}", str(start), str(write_fd), str(inputs_fd)],
            hide,
            (write_fd, inputs_fd),
            uid,
        )
        (job / "sites.json").write_text(json.dumps(sites))
        self.iso, self.uid, self.killed = iso, uid, False
        self.token = new_token()
        self.init: tuple[int, int | None] | None = None  # the PID namespace's init
        nproc = None
        reap.become_subreaper()  # orphans come back to us: we reap them (or kill them)
        if not iso.namespaces:
            nproc = own_process_count() + limits.processes
        env = {**worker_env(self.token), "HOME": str(job)}
        log = open(job / "output.log", "ab")  # noqa: SIM115 - closed below
        try:
            with reap.live_lock:  # no reap may run between fork and registering the pid
                self.proc = subprocess.Popen(
                    argv,
                    cwd=job,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(write_fd, inputs_fd),
                    preexec_fn=preexec(limits, iso.own_uid, nproc),
                    close_fds=True,
                )
                reap.live_pids.add(self.proc.pid)
        except OSError as exc:
            os.close(read_fd)
            raise WorkerStartError(
                f"the grader could not start the sandbox worker ({argv[0]}: {exc.strerror})"
            ) from None
        finally:
            os.close(write_fd)
            log.close()
        with _workers_lock:
            _workers.add(self)
        if _stopping.is_set():
            self.send_kill()
        self.pipe = StatusPipe(read_fd)

    def note_init(self) -> None:
        """Remember the PID namespace's init (unshare's child) while it surely exists."""
        if self.iso.namespaces and self.init is None:
            kids = reap.children(self.proc.pid)
            if kids:
                self.init = (kids[0], reap.proc_start(kids[0]))

    def send_kill(self) -> None:
        """SIGKILL the worker's root process (and so, with namespaces, its whole namespace)."""
        if self.proc.returncode is not None:
            return  # already collected: its pid may belong to someone else now
        if self.init is not None and not reap.is_gone(*self.init):
            try:
                os.kill(self.init[0], signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.send_signal(signal.SIGKILL)
        except OSError:
            pass

    def kill(self) -> int | None:
        """Kill the worker and everything it started; return its exit status."""
        if self.killed:
            return self.proc.returncode
        self.killed = True
        self.note_init()
        self.send_kill()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        if self.init is not None:  # the namespace is gone once its init has exited
            end = time.monotonic() + 10
            while not reap.is_gone(*self.init) and time.monotonic() < end:
                time.sleep(0.005)
            try:  # re-parented to us (a subreaper) once unshare died: collect it
                os.waitpid(self.init[0], os.WNOHANG)
            except ChildProcessError:
                pass
        if self.iso.namespaces and code is not None and code > 128:
            code = 128 - code  # the init shell reports a signal as 128 + n
        with reap.live_lock:
            reap.live_pids.discard(self.proc.pid)
        if self.iso.level == "user" and self.uid is not None:
            slots.kill_uid(self.uid)
            slots.remove_files_of(self.uid)
        elif not self.iso.namespaces:
            reap.reap(self.proc.pid, self.token)
        with _workers_lock:
            _workers.discard(self)
        self.pipe.close()
        return code
