"""The trusted side of the sandbox: feed a submission's calls to workers, collect the outcomes.

Only inputs cross into the worker (call specs as JSON, array arguments in a shared input blob);
answers come back on the status pipe (:mod:`pipe`) and are parsed under hard bounds
(:mod:`wire`, :mod:`answers`): nothing is unpickled, nothing the worker sends can raise here.
A call that overruns its time is killed with the whole worker and every process it started
(:mod:`process`); a fresh worker carries on with the next call. The runner never raises for
anything the student's code does; it raises :class:`WorkerStartError` when the grader could
not start a worker, and :class:`GradingStopped` once :func:`stop_all` was called (a signal to
``grade``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..cases import Call
from . import forked, scratch, slots
from .answers import (  # noqa: F401 - re-exported: the suite and the tests import them from here
    MAX_MESSAGE,
    Outcome,
    clean_text,
    outcome_from,
    outcome_from_answer,
    signal_text,
)
from .errors import GradingStopped, WorkerStartError
from .forked import ForkedWorker, prestart  # noqa: F401 - re-exported for the engine
from .isolation import Isolation, Limits, detect
from .process import (  # noqa: F401 - re-exported
    Worker,
    _stopping,
    reset_stop,
    stop_all,
    stopping,
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
    read_answer,
)

WORKER = Path(__file__).with_name("worker.py")
JOB_FILE = "calls.marshal"  # the calls and the job's settings (worker.py reads it)
MAX_IMPORTS = 256 * 1024  # bytes of the import report
START_SECONDS = 60.0  # a worker that says nothing for this long could not be started


@dataclass
class RunReport:
    outcomes: list[Outcome]
    import_errors: dict[str, str] = field(default_factory=dict)
    isolation: str = ""
    worker_starts: int = 0
    output_tail: str = ""


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
    progress: Callable[[list, dict[str, str]], None] | None = None,
) -> RunReport:
    """Run ``calls`` in a worker over a throwaway copy of the package folder ``package``.

    ``items[i]`` names the graded item of call ``i`` (for the per-item timeout budget);
    ``mutation[i]`` asks whether the call changed its array arguments (``InputBlob.check``:
    this process reads the shared input blob after the call and compares it with its own
    copy: :data:`wire.UNCHANGED`, else the arguments' digests). ``timeouts[i]``, when given
    and not None, replaces ``limits.call_timeout`` for call ``i`` (part 2's training outcome
    case has its own).
    ``progress(outcomes, import_errors)``, when given, is called as outcomes arrive (``None``:
    not run yet), outside any call's time limit (the Gradescope route's partial results).
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
            run.progress = progress
            return run.go()
        finally:
            os.close(fd)
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
    if not forked.enabled(iso):  # the fork server has the worker preloaded
        shutil.copyfile(WORKER, job / "worker.py")
    data = blob.job_bytes(
        modules=list(modules),
        skip_modules=[],
        skip_calls=[],
        landlock=iso.landlock,
        seccomp=iso.seccomp,
        # In a user namespace RLIMIT_NPROC counts only the namespace's processes: set inside.
        nproc=limits.processes if iso.level == "namespaces" and os.geteuid() != 0 else 0,
    )
    (job / JOB_FILE).write_bytes(data)


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
        self.progress: Callable[[list, dict[str, str]], None] | None = None

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
            if self.progress is not None:
                self.progress(self.outcomes, self.report.import_errors)
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
        kind = ForkedWorker if forked.enabled(self.iso) else Worker
        worker = kind(self.job, start, self.iso, limits, self.hide, self.fd, self.uid)
        self.report.worker_starts += 1
        try:
            return self._drive(worker, start, skip_modules)
        finally:
            worker.kill()
            if _stopping.is_set() and _next_pending(self.outcomes, 0) < n:
                raise GradingStopped()

    def _drive(self, worker: Worker | ForkedWorker, start: int, skip_modules: list[str]) -> int:
        limits, n = self.limits, self.n
        importing, ready, said, index = None, False, False, start
        # Until its first line no student code has run: starting is the grader's time, and a
        # loaded machine may need long; then the import budget starts.
        deadline = time.monotonic() + max(START_SECONDS, limits.import_timeout)
        while True:
            line = worker.pipe.line(min(deadline, self.budget_end))
            if line is None:
                timed_out = worker.pipe.timed_out(min(deadline, self.budget_end))
                code = worker.kill()
                if _stopping.is_set():
                    raise GradingStopped()
                if not said:
                    why = "it did not start in time" if timed_out else signal_text(code)
                    raise WorkerStartError(
                        f"the grader could not start the sandbox worker ({why}; "
                        f"{clean_text(_tail(self.job / 'output.log', 300), 300).strip()})"
                    )
                if getattr(worker, "launcher_lost", False):  # the grader's trouble, not theirs
                    raise WorkerStartError(
                        "the sandbox's fork server stopped while a worker ran (retry the run)"
                    )
                if not ready:
                    module = importing or "?"
                    why = (
                        f"importing it took longer than {limits.import_timeout:g} s"
                        if timed_out
                        else f"importing it ended the worker: {signal_text(code)}"
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
                    too_big = size > limits.answer_mb * 1024 * 1024
                    if too_big or not worker.pipe.skip(size, deadline):
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
                if self.progress is not None:
                    self.progress(self.outcomes, self.report.import_errors)
                deadline = time.monotonic() + self.timeout_of(index)
                if index >= n:
                    return n
            elif line == "finished":
                nxt = _next_pending(self.outcomes, 0)
                for j in range(nxt, n):  # the worker skipped calls it was not asked to skip
                    if self.outcomes[j] is None:
                        self.outcomes[j] = Outcome("crashed", detail="the worker lost this call")
                return n

    def _answer(self, worker: Worker, index: int, size: int, deadline: float) -> str:
        """Read, bound and decode call ``index``'s answer; '' or why it was refused."""
        limits = self.limits
        if size > limits.answer_mb * 1024 * 1024:
            return f"its answer was larger than {limits.answer_mb} MB (the worker was stopped)"
        if self.answer_bytes + size > limits.output_mb * 1024 * 1024:
            return (
                f"the answers of this submission passed {limits.output_mb} MB in total "
                "(the worker was stopped)"
            )
        data = worker.pipe.payload(size, deadline)
        if data is None:
            return "the worker died while sending its answer"
        self.answer_bytes += size
        try:
            answer = read_answer(data)
        except AnswerError as exc:
            return f"{exc} (the worker was stopped)"
        if self.answer_values + answer["values"] > MAX_TOTAL_VALUES:
            return (
                f"the answers of this submission held more than {MAX_TOTAL_VALUES} values "
                "in total (the worker was stopped)"
            )
        self.answer_values += answer["values"]
        outcome = outcome_from_answer(answer)
        del data
        if self.mutation[index] and outcome.status == "ok":
            outcome.inputs_after = self.blob.check(index)
        self.outcomes[index] = outcome
        return ""

    def _read_imports(self, worker: Worker, line: str, deadline: float) -> None:
        size = line[8:].strip()
        if not size.isdigit() or int(size) > MAX_IMPORTS:
            return
        data = worker.pipe.payload(int(size), deadline)
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
                "crashed", detail=f"the worker process died: {signal_text(code)}"
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


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
