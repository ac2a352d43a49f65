"""The trusted side of the sandbox: start a worker, feed it calls, collect what comes back.

Only inputs cross into the worker (call specs as JSON, array arguments in a shared input blob);
answers come back on the status pipe and are parsed under hard bounds (:mod:`wire`): nothing
is unpickled, nothing the worker sends can raise here. A call that overruns its time is killed
with the whole worker and every process it started; a fresh worker carries on with the next
call. The runner never raises for anything the student's code does; it raises
:class:`WorkerStartError` when the grader could not start a worker, and
:class:`GradingStopped` once :func:`stop_all` was called (a signal to ``grade``).

The kill, by level: with namespaces the worker lives in its own PID namespace whose init is a
trusted shell; killing ``unshare`` (the grader's child, with a parent-death signal, so also
when the grader dies) kills that init, and the kernel then kills every process in the
namespace. At the ``user`` level every worker has a uid of its own (:mod:`slots`) and all its
processes are killed by uid. At ``process-group`` the fallback of :mod:`reap` is used.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cases import Call
from . import reap, scratch, slots
from .errors import GradingStopped, WorkerStartError
from .isolation import (
    TOKEN_ENV,
    Isolation,
    Limits,
    command,
    detect,
    new_token,
    own_process_count,
    preexec,
)
from .wire import (  # noqa: F401 - re-exported: the suite and the tests import them from here
    MAX_TOTAL_VALUES,
    MAX_VALUES,
    AnswerError,
    InputBlob,
    NpScalar,
    Unsupported,
    arrays_in,
    count_values,
    decode,
    digest,
    parse_answer,
)

WORKER = Path(__file__).with_name("worker.py")
MAX_LINE = 64 * 1024  # a status line longer than this is a flood
MAX_IMPORTS = 256 * 1024  # bytes of the import report
START_SECONDS = 60.0  # a worker that says nothing for this long could not be started
MAX_MESSAGE = 500  # characters of a student's exception message that reach the feedback
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass
class Outcome:
    """What one call did: ``ok`` (value), ``error`` (exception), ``timeout``, ``crashed``,
    ``skipped``."""

    status: str
    value: Any = None
    exception: dict | None = None
    inputs_after: list | None = None  # digests of the array arguments after the call
    seconds: float = 0.0
    detail: str = ""


@dataclass
class RunReport:
    outcomes: list[Outcome]
    import_errors: dict[str, str] = field(default_factory=dict)
    isolation: str = ""
    worker_starts: int = 0
    output_tail: str = ""


def _signal_text(code: int | None) -> str:
    if code is None:
        return "it was still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hints = {
            "SIGKILL": " (killed: usually the memory or CPU-time limit)",
            "SIGSEGV": " (a segmentation fault)",
            "SIGXCPU": " (the CPU-time limit)",
            "SIGXFSZ": " (it wrote a file larger than allowed)",
        }
        return f"it was killed by {name}{hints.get(name, '')}"
    return f"it exited with status {code}"


def clean_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """Student-controlled text made short and printable (control characters removed)."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


_workers_lock = threading.Lock()
_workers: set[_Worker] = set()
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


class _Worker:
    """One worker process and the protocol on its status pipe."""

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
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(job),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            TOKEN_ENV: self.token,
        }
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if key in os.environ:
                env[key] = os.environ[key]
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
        self.fd = read_fd
        self.buffer = bytearray()
        self.sel = selectors.DefaultSelector()
        self.sel.register(read_fd, selectors.EVENT_READ)
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        """Read what the pipe has (waiting until ``deadline``); False at EOF or deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.sel.select(remaining):
            return False
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def line(self, deadline: float) -> str | None:
        """The next status line, or None at EOF (the worker died) or at the deadline."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:  # a flood on the status pipe: treat as a crash
                self.eof, self.buffer = True, bytearray()
            if not self._fill(deadline):
                return None
        end = self.buffer.index(b"\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line.decode("ascii", "replace").strip()

    def payload(self, size: int, deadline: float) -> bytes | None:
        """Exactly ``size`` bytes after a status line, or None (EOF, deadline)."""
        while len(self.buffer) < size:
            if not self._fill(deadline):
                return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def skip(self, size: int, deadline: float) -> bool:
        """Drop ``size`` bytes of the pipe (reading them in pieces)."""
        while size:
            if not self.buffer and not self._fill(deadline):
                return False
            n = min(size, len(self.buffer))
            del self.buffer[:n]
            size -= n
        return True

    def timed_out(self, deadline: float) -> bool:
        return time.monotonic() >= deadline and not self.eof

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
        self.sel.close()
        os.close(self.fd)
        return code


def run_calls(
    package: Path,
    calls: list[Call],
    items: list[str],
    mutation: list[bool],
    limits: Limits | None = None,
    isolation: Isolation | None = None,
    hide: list[Path] | None = None,
    modules: tuple[str, ...] = (),
    timeouts: list[float | None] | None = None,
) -> RunReport:
    """Run ``calls`` in a worker over a throwaway copy of the package folder ``package``.

    ``items[i]`` names the graded item of call ``i`` (for the per-item timeout budget);
    ``mutation[i]`` asks for the array arguments' digests after the call (read by this
    process from the shared input blob). ``timeouts[i]``, when given and not None, replaces
    ``limits.call_timeout`` for call ``i`` (part 2's training outcome case has its own).
    """
    limits = limits or Limits()
    iso = isolation or detect()
    if _stopping.is_set():
        raise GradingStopped()
    job = scratch.mkdtemp("job-")
    slot = None
    try:
        if iso.own_uid:
            try:
                slot = slots.lease()
            except OSError as exc:
                raise WorkerStartError(f"the grader could not lease a worker uid ({exc})") from None
        blob = InputBlob(calls)
        _prepare(job, package, blob, modules, iso, limits)
        _give_to_worker(job, iso)
        fd = blob.memfd()
        try:
            run = _Run(job, calls, items, mutation, limits, iso, list(hide or []), blob, fd)
            run.uid = slot.uid if slot else None
            run.call_timeouts = list(timeouts or [])
            return run.go()
        finally:
            os.close(fd)
            blob.view.close()
    finally:
        if slot is not None:
            slot.release()
        scratch._remove(job)


def _prepare(job: Path, package: Path, blob: InputBlob, modules, iso: Isolation, limits) -> None:
    (job / "pkg" / "cnn").mkdir(parents=True)
    for src in sorted(package.glob("*.py")):
        if src.is_file() and not src.is_symlink():
            shutil.copyfile(src, job / "pkg" / "cnn" / src.name)
    if not (job / "pkg" / "cnn" / "__init__.py").exists():
        (job / "pkg" / "cnn" / "__init__.py").write_text("")
    shutil.copyfile(WORKER, job / "worker.py")
    job_json = {
        "calls": blob.specs,
        "inputs_size": blob.size,
        "modules": list(modules),
        "skip_modules": [],
        "skip_calls": [],
        "landlock": iso.landlock,
        # In a user namespace RLIMIT_NPROC counts only the namespace's processes: set inside.
        "nproc": limits.processes if iso.level == "namespaces" and os.geteuid() != 0 else 0,
    }
    (job / "calls.json").write_text(json.dumps(job_json))


def _give_to_worker(job: Path, iso: Isolation) -> None:
    """Let a worker with a uid of its own read (never write) the job folder."""
    if not iso.own_uid:
        return
    if not iso.namespaces:  # the worker reaches the job folder through its parents: traverse
        for parent in (job.parent, job.parent.parent):
            if parent.stat().st_uid == os.getuid() and parent.name.startswith(
                ("cnn-grade", "run-")
            ):
                os.chmod(parent, 0o711)
    os.chmod(job, 0o755)
    for root, dirs, files in os.walk(job):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), 0, 0)


class _Run:
    """One submission's calls through as many workers as it takes."""

    def __init__(self, job, calls, items, mutation, limits, iso, hide, blob, fd):
        self.job, self.calls, self.items, self.mutation = job, calls, items, mutation
        self.limits, self.iso, self.hide, self.blob, self.fd = limits, iso, hide, blob, fd
        self.uid: int | None = None
        self.n = len(calls)
        self.outcomes: list[Outcome | None] = [None] * self.n
        self.report = RunReport([], isolation=iso.level)
        self.timeouts: Counter[str] = Counter()
        self.answer_bytes = 0
        self.answer_values = 0
        self.budget_end = time.monotonic() + limits.submission_timeout
        self.call_timeouts: list[float | None] = []

    def timeout_of(self, index: int) -> float:
        """Call ``index``'s own time limit, else ``limits.call_timeout``."""
        if index < len(self.call_timeouts) and self.call_timeouts[index] is not None:
            return float(self.call_timeouts[index])  # type: ignore[arg-type]
        return self.limits.call_timeout

    def go(self) -> RunReport:
        n, start = self.n, 0
        skip_modules: list[str] = []
        while start < n and time.monotonic() < self.budget_end:
            self._rewrite_skips(skip_modules)
            start = self._one_worker(start, skip_modules)
        for j in range(n):
            if self.outcomes[j] is None:
                if "*" in self.report.import_errors:
                    detail = "your package could not be imported: " + self.report.import_errors["*"]
                else:
                    detail = "not run: the submission's time budget ran out"
                self.outcomes[j] = Outcome("skipped", detail=detail)
        self.report.outcomes = self.outcomes  # type: ignore[assignment]
        self.report.output_tail = _tail(self.job / "output.log")
        return self.report

    def _one_worker(self, start: int, skip_modules: list[str]) -> int:
        """Run one worker from call ``start``; return where the next one starts."""
        limits, n = self.limits, self.n
        worker = _Worker(self.job, start, self.iso, limits, self.hide, self.fd, self.uid)
        self.report.worker_starts += 1
        try:
            return self._drive(worker, start, skip_modules)
        finally:
            worker.kill()
            if _stopping.is_set() and _next_pending(self.outcomes, 0) < n:
                raise GradingStopped()

    def _drive(self, worker: _Worker, start: int, skip_modules: list[str]) -> int:
        limits, n = self.limits, self.n
        importing, ready, said, index = None, False, False, start
        # Until its first line no student code has run: starting is the grader's time, and a
        # loaded machine may need long; then the import budget starts.
        deadline = time.monotonic() + max(START_SECONDS, limits.import_timeout)
        while True:
            line = worker.line(min(deadline, self.budget_end))
            if line is None:
                timed_out = worker.timed_out(min(deadline, self.budget_end))
                code = worker.kill()
                if _stopping.is_set():
                    raise GradingStopped()
                if not said:
                    why = "it did not start in time" if timed_out else _signal_text(code)
                    raise WorkerStartError(
                        f"the grader could not start the sandbox worker ({why}; "
                        f"{clean_text(_tail(self.job / 'output.log', 300), 300).strip()})"
                    )
                if not ready:
                    module = importing or "?"
                    why = (
                        f"importing it took longer than {limits.import_timeout:g} s"
                        if timed_out
                        else f"importing it ended the worker: {_signal_text(code)}"
                    )
                    self.report.import_errors[module] = why
                    if module == "?" or module in skip_modules:
                        self.report.import_errors.setdefault("*", why)
                        return n  # the worker cannot start at all
                    skip_modules.append(module)
                    return start
                if index < n:
                    self._lost(index, timed_out, code)
                return _next_pending(self.outcomes, index + 1)
            if not said:
                said = True
                deadline = time.monotonic() + limits.import_timeout
            worker.note_init()
            if line == "sandbox-failed":
                worker.kill()
                raise WorkerStartError(
                    "the grader could not start the sandbox worker (it could not apply "
                    "Landlock; see the worker's output)"
                )
            if line.startswith("import ") and not ready:
                importing = line[7:]
            elif line.startswith("imports ") and not ready:
                self._read_imports(worker, line, deadline)
            elif line == "ready" and not ready:  # once: a repeated one must not buy time
                ready = True
                index = _next_pending(self.outcomes, start)
                deadline = time.monotonic() + self.timeout_of(index)
            elif line.startswith("done ") and ready:
                parts = line.split()
                if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
                    continue
                done, size = int(parts[1]), int(parts[2])
                if done != index:  # not the call we wait for: skip its bytes, stay in step
                    if size > limits.answer_mb * 1024 * 1024 or not worker.skip(size, deadline):
                        self.outcomes[index] = Outcome(
                            "crashed", detail="the worker's answers were out of order"
                        )
                        return _next_pending(self.outcomes, index + 1)
                    continue
                problem = self._answer(worker, index, size, deadline)
                if problem:  # the rest of this worker's pipe cannot be trusted: a new one
                    self.outcomes[index] = Outcome("crashed", detail=problem)
                    return _next_pending(self.outcomes, index + 1)
                index = _next_pending(self.outcomes, index + 1)
                deadline = time.monotonic() + self.timeout_of(index)
                if index >= n:
                    return n
            elif line == "finished":
                nxt = _next_pending(self.outcomes, 0)
                for j in range(nxt, n):  # the worker skipped calls it was not asked to skip
                    if self.outcomes[j] is None:
                        self.outcomes[j] = Outcome("crashed", detail="the worker lost this call")
                return n

    def _answer(self, worker: _Worker, index: int, size: int, deadline: float) -> str:
        """Read, bound and decode call ``index``'s answer; '' or why it was refused."""
        limits = self.limits
        if size > limits.answer_mb * 1024 * 1024:
            return f"its answer was larger than {limits.answer_mb} MB (the worker was stopped)"
        if self.answer_bytes + size > limits.output_mb * 1024 * 1024:
            return (
                f"the answers of this submission passed {limits.output_mb} MB in total "
                "(the worker was stopped)"
            )
        data = worker.payload(size, deadline)
        if data is None:
            return "the worker died while sending its answer"
        self.answer_bytes += size
        values = count_values(data)
        if values > MAX_VALUES:
            return f"its answer holds more than {MAX_VALUES} values (the worker was stopped)"
        if self.answer_values + values > MAX_TOTAL_VALUES:
            return (
                f"the answers of this submission held more than {MAX_TOTAL_VALUES} values "
                "in total (the worker was stopped)"
            )
        self.answer_values += values
        try:
            outcome = outcome_from(parse_answer(data))
        except AnswerError as exc:
            return f"{exc} (the worker was stopped)"
        del data
        if self.mutation[index] and outcome.status == "ok":
            outcome.inputs_after = self.blob.after(index)
        self.outcomes[index] = outcome
        return ""

    def _read_imports(self, worker: _Worker, line: str, deadline: float) -> None:
        size = line[8:].strip()
        if not size.isdigit() or int(size) > MAX_IMPORTS:
            return
        data = worker.payload(int(size), deadline)
        try:
            errors = parse_answer(data or b"{}")
        except AnswerError:
            return
        if isinstance(errors, dict):
            for k, v in list(errors.items())[:50]:
                self.report.import_errors[clean_text(k, 50)] = clean_text(v)

    def _lost(self, index: int, timed_out: bool, code: int | None) -> None:
        """Call ``index`` did not answer: a timeout or a crash (and the timeout budget)."""
        limits, item = self.limits, self.items[index]
        if timed_out:
            self.timeouts[item] += 1
            self.outcomes[index] = Outcome(
                "timeout",
                detail=f"it did not finish within {self.timeout_of(index):g} s "
                "(the worker was stopped)",
            )
        else:
            self.outcomes[index] = Outcome(
                "crashed", detail=f"the worker process died: {_signal_text(code)}"
            )
        if self.timeouts[item] >= limits.max_timeouts_per_item:
            for j in range(index + 1, self.n):
                if self.items[j] == item and self.outcomes[j] is None:
                    self.outcomes[j] = Outcome(
                        "skipped", detail="skipped: earlier cases of this function ran out of time"
                    )

    def _rewrite_skips(self, skip_modules: list[str]) -> None:
        """What a fresh worker must not redo: modules that killed a worker, calls already done."""
        skips = {
            "skip_modules": skip_modules,
            "skip_calls": [i for i, o in enumerate(self.outcomes) if o is not None],
        }
        path = self.job / "skips.json"
        path.write_text(json.dumps(skips))
        os.chmod(path, 0o644)  # the worker may run as another user


def _next_pending(outcomes: list, i: int) -> int:
    while i < len(outcomes) and outcomes[i] is not None:
        i += 1
    return i


def outcome_from(data: Any) -> Outcome:
    """An :class:`Outcome` from a worker's parsed answer, checking every part of it."""
    if not isinstance(data, dict):
        return Outcome("crashed", detail="the worker's answer could not be read")
    seconds = data.get("seconds")
    seconds = float(seconds) if type(seconds) in (int, float) else 0.0
    if data.get("status") == "ok":
        return Outcome("ok", value=decode(data.get("value")), seconds=seconds)
    exc = data.get("exception")
    if not isinstance(exc, dict):
        return Outcome("crashed", detail="the worker's answer could not be read")
    clean = {
        "type": clean_text(exc.get("type", "?"), 100),
        "value_error": exc.get("value_error") is True,
        "not_implemented": exc.get("not_implemented") is True,
        "message": clean_text(exc.get("message", "")),
        "where": clean_text(exc.get("where", ""), 200),
    }
    return Outcome("error", exception=clean, seconds=seconds)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
