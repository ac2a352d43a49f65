"""Grading processes for ``grade run --jobs N`` (issue #16): the trusted work in N processes.

Each grading process is forked from the batch process once the grader's per-batch state is
built (reference solutions, the Keras bank, the public and bank cases), so it starts with all
of it and builds nothing twice; it then grades one student at a time (reads the submission,
builds its cases, drives its sandbox workers, judges, writes the student's files) and sends
back a small message per student. The batch process only hands out student numbers and
collects messages, so N processes use N cores (threads in one process shared one lock).

Stopping: a signal to the batch is forwarded to every grading process, which kills its
sandbox workers at once (``runner.stop_all``), finishes nothing new and exits; a student it
had finished is still reported. A grading process dies with the batch process (a parent-death
signal), and its sandbox workers die with it (their own parent-death chain). A grading
process that dies while grading leaves that student "not graded" (retried by the next run); a
new process takes its place.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .sandbox import runner, scratch
from .sandbox.errors import GradingStopped

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_HEAD = struct.Struct("<I")


@dataclass
class Done:
    """What grading one student produced (sent from a grading process as JSON)."""

    index: int
    kind: str  # "graded" | "failed" (not graded) | "skipped" (unchanged, already graded)
    student: str
    stamp: list[int] | None = None  # of the results.json written
    record: dict | None = None  # its slim results (autograder.index.slim)
    source: str | None = None  # the stamp of the submission's files, taken before reading them
    facts: list[dict] | None = None  # what the reports read of it (autograder.summary.report_facts)


Work = Callable[[int], Done]


class WorkerDied(Exception):
    """A grading process ended while it graded student ``index``."""

    def __init__(self, index: int, why: str):
        super().__init__(why)
        self.index = index


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _child(work: Work, tasks: int, results: int, parent: int) -> None:
    """The loop of one grading process (never returns)."""
    state = {"idle": True, "stop": False}

    def on_stop(_signum, _frame):
        runner.stop_all()  # kills this process's sandbox workers now
        state["stop"] = True
        if state["idle"]:
            raise GradingStopped()

    code = 0
    try:
        _die_with_parent()
        if os.getppid() != parent:  # the batch died before we set the death signal
            os._exit(1)
        for sig in STOP_SIGNALS:
            signal.signal(sig, on_stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        reader = os.fdopen(tasks, "rb", buffering=0)
        buf = b""
        while not state["stop"]:
            while b"\n" not in buf:
                chunk = reader.read(64)
                if not chunk:
                    raise EOFError
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            state["idle"] = False
            try:
                done = work(int(line))
            except GradingStopped:
                break
            except Exception as exc:  # noqa: BLE001 - reported as that student's failure
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                done = Done(int(line), "error", detail)
            payload = json.dumps(done.__dict__, allow_nan=False).encode()
            _write_all(results, _HEAD.pack(len(payload)) + payload)
            state["idle"] = True
    except (GradingStopped, EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    except BaseException:  # noqa: BLE001 - a grading process must never run the batch's code
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            runner.stop_all()
            if scratch._run is not None and scratch._run_pid == os.getpid():
                scratch._remove(scratch._run)
        os._exit(code)


RETIRE = 200  # students a grading process grades before a fresh one takes over


class _Proc:
    def __init__(self, pid: int, tasks: int, results: int):
        self.pid, self.tasks, self.results = pid, tasks, results
        self.buf = b""
        self.busy: int | None = None  # the student index it is grading
        self.alive = True
        self.given = 0  # students given to it
        self.retired = False  # given its last student: a fresh process took its place


class Pool:
    """``jobs`` grading processes running ``work(index)``; iterate :meth:`run` for results."""

    def __init__(self, jobs: int, work: Work):
        self.jobs, self.work = max(1, jobs), work
        self.procs: list[_Proc] = []
        self.sel = selectors.DefaultSelector()

    def _spawn(self) -> _Proc:
        self.procs = [p for p in self.procs if p.alive]  # (the reaped hold no descriptor)
        task_r, task_w = os.pipe()
        res_r, res_w = os.pipe()
        parent = os.getpid()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:  # the grading process
                os.close(task_w)
                os.close(res_r)
                for other in self.procs:
                    for fd in (other.tasks, other.results):
                        with contextlib.suppress(OSError):
                            os.close(fd)
                _child(self.work, task_r, res_w, parent)
        finally:
            if os.getpid() == parent:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.close(task_r)
        os.close(res_w)
        proc = _Proc(pid, task_w, res_r)
        self.procs.append(proc)
        self.sel.register(res_r, selectors.EVENT_READ, proc)
        return proc

    def run(self, tasks: list[int]) -> Iterator[Done | WorkerDied]:
        """Grade ``tasks`` (student indices); yield each result as it arrives."""
        todo = list(reversed(tasks))
        for _ in range(min(self.jobs, len(todo))):
            self._spawn()
        for proc in self.procs:
            self._give(proc, todo)
        while any(p.busy is not None for p in self.procs):
            for key, _ in self.sel.select():
                proc: _Proc = key.data
                yield from self._read(proc)
                if proc.alive:
                    self._give(proc, todo)
                elif todo and not proc.retired:
                    self._give(self._spawn(), todo)

    def _give(self, proc: _Proc, todo: list[int]) -> None:
        if proc.busy is not None or not proc.alive:
            return
        if not todo:
            self._close(proc)
            return
        if proc.given >= RETIRE:
            # A grading process's memory grows with the students it graded: every object of
            # the batch it touches (a student's entry, its discovered files) becomes its own
            # copy of the page it is on. A fresh fork starts from the shared pages again.
            proc.retired = True
            self._close(proc)
            self._give(self._spawn(), todo)
            return
        index = todo.pop()
        proc.busy = index
        proc.given += 1
        try:
            _write_all(proc.tasks, f"{index}\n".encode())
        except OSError:
            pass  # it died: its pipe's end-of-file reports the student

    def _read(self, proc: _Proc) -> list[Done | WorkerDied]:
        try:
            chunk = os.read(proc.results, 1 << 20)
        except OSError:
            chunk = b""
        out: list[Done | WorkerDied] = []
        if not chunk:
            self._reap(proc)
            if proc.busy is not None:
                out.append(WorkerDied(proc.busy, "the grading process ended unexpectedly"))
                proc.busy = None
            return out
        proc.buf += chunk
        while len(proc.buf) >= _HEAD.size:
            (size,) = _HEAD.unpack_from(proc.buf)
            if len(proc.buf) < _HEAD.size + size:
                break
            end = _HEAD.size + size
            payload, proc.buf = proc.buf[_HEAD.size : end], proc.buf[end:]
            done = Done(**json.loads(payload))
            proc.busy = None
            out.append(done)
        return out

    def _close(self, proc: _Proc) -> None:
        """No more work for it: closing its task pipe ends it."""
        if proc.tasks >= 0:
            with contextlib.suppress(OSError):
                os.close(proc.tasks)
            proc.tasks = -1

    def _reap(self, proc: _Proc) -> None:
        if not proc.alive:
            return
        proc.alive = False
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.sel.unregister(proc.results)
        with contextlib.suppress(OSError):
            os.close(proc.results)
        proc.results = -1  # (its number may be reused: a later fork must not close that)
        self._close(proc)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, 0)

    def stop(self, signum: int = signal.SIGTERM, grace: float = 30.0) -> list[Done]:
        """Stop every grading process (each kills its sandbox workers); the results that were
        finished meanwhile are returned."""
        finished: list[Done] = []
        for proc in self.procs:
            if proc.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)
        deadline = time.monotonic() + grace
        while any(p.alive for p in self.procs):
            left = deadline - time.monotonic()
            if left <= 0:
                for proc in self.procs:
                    if proc.alive:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(proc.pid, signal.SIGKILL)
                        self._reap(proc)
                break
            for key, _ in self.sel.select(timeout=min(left, 1.0)):
                finished += [d for d in self._read(key.data) if isinstance(d, Done)]
        return finished

    def close(self) -> None:
        for proc in self.procs:
            self._close(proc)
        for proc in self.procs:
            self._reap(proc)
        self.sel.close()
