"""The trusted side of the sandbox: start a worker, feed it calls, collect what comes back.

Only inputs cross into the worker (JSON, arrays as dtype, shape and base64 bytes); results
come back the same way and are rebuilt only as plain numeric arrays: nothing is unpickled. A
call that overruns its time is killed with the whole worker (and, with namespaces, every
process it started); a fresh worker carries on with the next call. The runner never raises
for anything the student's code does.

At the ``process-group`` level (no PID namespace) the runner finds the processes a worker
left behind itself: each worker's environment carries a fresh token, and the grading process
is a child subreaper, so a daemon that double-forks and leaves the worker's session is
re-parented to it; ``_reap`` kills every process that carries the token, sits in the worker's
session, or is an orphan of ours running our interpreter.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cases import Call, Rng
from . import scratch
from .isolation import (
    NOBODY,
    TOKEN_ENV,
    Isolation,
    Limits,
    command,
    detect,
    new_token,
    own_process_count,
    preexec,
)
from .worker import pack  # one packing for both sides of the wire

WORKER = Path(__file__).with_name("worker.py")
MAX_JSON = 8 * 1024 * 1024
MAX_MESSAGE = 500  # characters of a student's exception message that reach the feedback
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Unsupported:
    """A returned value that cannot cross the boundary (not a plain array, number, ...)."""

    type_name: str


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


class _Encoder:
    """Call arguments as the worker's JSON (arrays packed like the worker packs answers)."""

    def __call__(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return {"$arr": pack(value)}
        if isinstance(value, Rng):
            return {"$rng": int(value.seed)}
        if isinstance(value, tuple):
            return {"$tuple": [self(v) for v in value]}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {"$dict": [[str(k), self(v)] for k, v in value.items()]}
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return value.item()
        return value


def _decode(value: Any, depth: int = 0) -> Any:
    """Rebuild a worker's result from its JSON, trusting none of it."""
    if depth > 25:
        return Unsupported("a structure nested too deeply")
    if isinstance(value, list):
        return [_decode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in ("$arr", "$npscalar"):
                arr = _unpack(inner)
                if arr is None:
                    return Unsupported("an array the grader could not read")
                return NpScalar(arr) if key == "$npscalar" else arr
            if key == "$tuple" and isinstance(inner, list):
                return tuple(_decode(v, depth + 1) for v in inner)
            if key == "$dict" and isinstance(inner, list):
                out = {}
                for pair in inner:
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                        out[pair[0]] = _decode(pair[1], depth + 1)
                return out
            if key == "$unsupported" and isinstance(inner, str):
                return Unsupported(inner[:200])
        return Unsupported("a malformed result")
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return Unsupported("a malformed result")


@dataclass(frozen=True)
class NpScalar:
    """A numpy scalar (``np.float64(3.0)``), carried as a 0-d array."""

    array: np.ndarray


def _unpack(spec: Any) -> np.ndarray | None:
    """An array from the worker's JSON, or None when it is not a plain numeric array."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "b64"}:
        return None
    dtype_text, shape, b64 = spec["dtype"], spec["shape"], spec["b64"]
    if not isinstance(dtype_text, str) or not isinstance(b64, str) or len(b64) > MAX_JSON:
        return None
    if not isinstance(shape, list) or len(shape) > 32:
        return None
    if not all(type(n) is int and 0 <= n <= 1 << 40 for n in shape):
        return None
    try:
        dtype = np.dtype(dtype_text)
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            return None
        data = base64.b64decode(b64, validate=True)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.itemsize != len(data):
            return None
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    except (TypeError, ValueError, binascii.Error):
        return None


def _arrays_in(value: Any, found: list) -> list:
    if isinstance(value, np.ndarray):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _arrays_in(v, found)
    return found


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


_live_lock = threading.Lock()
_live_pids: set[int] = set()  # the Popen children of this process that are workers
_subreaper = False


def _become_subreaper() -> None:
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


def _reap(session: int, token: str) -> int:
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
            with _live_lock:
                live = pid in _live_pids
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
        _collect_zombies()
        time.sleep(0.02)
    _collect_zombies()
    return killed


def _collect_zombies() -> None:
    """Wait for orphans re-parented to us (never for a live worker, which Popen waits for)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        info = _proc_info(pid)
        with _live_lock:
            live = pid in _live_pids
        if info and info[0] == me and not live:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


WATCH_SECONDS = 0.25  # how often the answer folder's size is checked while a call runs


def _folder_bytes(folder: Path, stop_after: int) -> int:
    """Bytes in the files of ``folder`` (one level), counting stops past ``stop_after``."""
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                if total > stop_after:
                    break
    except OSError:
        pass
    return total


class _Worker:
    """One worker process and the line protocol on its status pipe."""

    def __init__(self, job: Path, start: int, iso: Isolation, limits: Limits, hide: list[Path]):
        read_fd, write_fd = os.pipe()
        argv, sites, inside = command(
            iso, job, ["{job}/worker.py", "{job}", str(start), str(write_fd)], hide, write_fd
        )
        (job / "sites.json").write_text(json.dumps(sites))
        self.iso = iso
        self.token = new_token()
        nproc = None
        if not iso.namespaces:
            _become_subreaper()
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
        log = open(job / "output.log", "ab")  # noqa: SIM115 - closed in close()
        with _live_lock:  # no _reap may run between fork and registering the pid
            self.proc = subprocess.Popen(
                argv,
                cwd=job,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(write_fd,),
                preexec_fn=preexec(limits, iso.own_uid, nproc),
                close_fds=True,
            )
            _live_pids.add(self.proc.pid)
        os.close(write_fd)
        log.close()
        self.fd = read_fd
        self.buffer = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(read_fd, selectors.EVENT_READ)
        self.eof = False
        self.out_dir = job / "out"
        self.out_limit = limits.output_mb * 1024 * 1024
        self.flooded = False

    def line(self, deadline: float) -> str | None:
        """The next status line, or None at EOF (the worker died) or at the deadline."""
        while b"\n" not in self.buffer:
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self.sel.select(min(remaining, WATCH_SECONDS)):
                if _folder_bytes(self.out_dir, self.out_limit) > self.out_limit:
                    self.flooded = True  # a disk bomb in its answer folder: stop it now
                    self.eof = True
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                continue
            self.buffer += chunk
            if len(self.buffer) > 1 << 20:  # a flood on the status pipe: treat as a crash
                self.eof = True
                self.buffer = b""
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("ascii", "replace").strip()

    def timed_out(self, deadline: float) -> bool:
        return time.monotonic() >= deadline and not self.eof

    def kill(self) -> int | None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        with _live_lock:
            _live_pids.discard(self.proc.pid)
        if not self.iso.namespaces:
            _reap(self.proc.pid, self.token)
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
) -> RunReport:
    """Run ``calls`` in a worker over a throwaway copy of the package folder ``package``.

    ``items[i]`` names the graded item of call ``i`` (for the per-item timeout budget);
    ``mutation[i]`` asks the worker to send back the array arguments after the call.
    """
    limits = limits or Limits()
    iso = isolation or detect()
    hide = list(hide or [])
    job = scratch.mkdtemp("job-")
    try:
        return _run(job, package, calls, items, mutation, limits, iso, hide, modules)
    finally:
        scratch._remove(job)


def _prepare(
    job: Path, package: Path, calls: list[Call], mutation: list[bool], modules, landlock: int = 0
) -> None:
    (job / "pkg" / "cnn").mkdir(parents=True)
    (job / "out").mkdir()
    for src in sorted(package.glob("*.py")):
        if src.is_file() and not src.is_symlink():
            shutil.copyfile(src, job / "pkg" / "cnn" / src.name)
    if not (job / "pkg" / "cnn" / "__init__.py").exists():
        (job / "pkg" / "cnn" / "__init__.py").write_text("")
    shutil.copyfile(WORKER, job / "worker.py")
    enc = _Encoder()
    specs = [
        {
            "program": c.program,
            "target": c.target,
            "args": enc(list(c.args)),
            "kwargs": enc(dict(c.kwargs))["$dict"],
            "mutation": bool(m),
        }
        for c, m in zip(calls, mutation, strict=True)
    ]
    job_json = {
        "calls": specs,
        "modules": list(modules),
        "skip_modules": [],
        "skip_calls": [],
        "landlock": landlock,
    }
    (job / "calls.json").write_text(json.dumps(job_json))


def _give_to_worker(job: Path, iso: Isolation) -> None:
    """Make the job folder the worker's own (and ``out/`` writable only by it)."""
    if not iso.own_uid:
        return
    if not iso.namespaces:  # nobody reaches the job folder through its parents: traverse only
        for parent in (job.parent, job.parent.parent):
            if parent.stat().st_uid == os.getuid() and parent.name.startswith(
                ("cnn-grade", "run-")
            ):
                os.chmod(parent, 0o711)
    os.chmod(job, 0o755)
    for root, dirs, files in os.walk(job):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), 0, 0)
    os.chown(job / "out", NOBODY, NOBODY)
    os.chmod(job / "out", 0o700)


def _run(job, package, calls, items, mutation, limits, iso, hide, modules) -> RunReport:
    _prepare(job, package, calls, mutation, modules, iso.landlock)
    _give_to_worker(job, iso)
    n = len(calls)
    outcomes: list[Outcome | None] = [None] * n
    report = RunReport([], isolation=iso.level)
    timeouts: Counter[str] = Counter()
    budget_end = time.monotonic() + limits.submission_timeout
    start = 0
    skip_modules: list[str] = []
    while start < n:
        if time.monotonic() >= budget_end:
            break
        _rewrite_skips(job, skip_modules, outcomes)
        worker = _Worker(job, start, iso, limits, hide)
        report.worker_starts += 1
        importing, ready, index = None, False, start
        deadline = time.monotonic() + limits.import_timeout
        while True:
            line = worker.line(min(deadline, budget_end))
            if line is None:
                timed_out = worker.timed_out(min(deadline, budget_end))
                code = worker.kill()
                if not ready:
                    module = importing or "?"
                    why = (
                        f"importing it took longer than {limits.import_timeout:g} s"
                        if timed_out
                        else f"importing it ended the worker: {_signal_text(code)}"
                    )
                    report.import_errors[module] = why
                    if module == "?" or module in skip_modules:
                        start = n  # the worker cannot start at all
                        report.import_errors.setdefault("*", why)
                    else:
                        skip_modules.append(module)
                    break
                if index < n:
                    if timed_out:
                        timeouts[items[index]] += 1
                        outcomes[index] = Outcome(
                            "timeout",
                            detail=f"it did not finish within "
                            f"{limits.call_timeout:g} s (the worker was stopped)",
                        )
                    elif worker.flooded:
                        outcomes[index] = Outcome(
                            "crashed",
                            detail=f"it wrote more than {limits.output_mb} MB of files "
                            "(the worker was stopped)",
                        )
                    else:
                        outcomes[index] = Outcome(
                            "crashed", detail=f"the worker process died: {_signal_text(code)}"
                        )
                    if timeouts[items[index]] >= limits.max_timeouts_per_item:
                        for j in range(index + 1, n):
                            if items[j] == items[index] and outcomes[j] is None:
                                outcomes[j] = Outcome(
                                    "skipped",
                                    detail="skipped: earlier cases "
                                    "of this function ran out of time",
                                )
                start = _next_pending(outcomes, index + 1)
                break
            if line.startswith("import "):
                importing = line[7:]
            elif line == "ready":
                ready = True
                if start == 0:
                    report.import_errors.update(_read_imports(job))
                index = _next_pending(outcomes, start)
                deadline = time.monotonic() + limits.call_timeout
            elif line.startswith("done ") and ready:
                try:
                    done = int(line[5:])
                except ValueError:
                    continue
                if done != index:
                    continue
                outcomes[index] = _read_outcome(job, index)
                index = _next_pending(outcomes, index + 1)
                deadline = time.monotonic() + limits.call_timeout
                if index >= n:
                    worker.kill()
                    start = n
                    break
            elif line == "finished":
                worker.kill()
                start = _next_pending(outcomes, 0)
                if start < n:  # the worker skipped calls it was not asked to skip
                    for j in range(start, n):
                        if outcomes[j] is None:
                            outcomes[j] = Outcome("crashed", detail="the worker lost this call")
                    start = n
                break
    for j in range(n):
        if outcomes[j] is None:
            if "*" in report.import_errors:
                detail = "your package could not be imported: " + report.import_errors["*"]
            else:
                detail = "not run: the submission's time budget ran out"
            outcomes[j] = Outcome("skipped", detail=detail)
    report.outcomes = outcomes  # type: ignore[assignment]
    report.output_tail = _tail(job / "output.log")
    return report


def _next_pending(outcomes: list, i: int) -> int:
    while i < len(outcomes) and outcomes[i] is not None:
        i += 1
    return i


def _rewrite_skips(job: Path, skip_modules: list[str], outcomes: list) -> None:
    """What a fresh worker must not redo: modules that killed a worker, calls already done."""
    skips = {
        "skip_modules": skip_modules,
        "skip_calls": [i for i, o in enumerate(outcomes) if o is not None],
    }
    (job / "skips.json").write_text(json.dumps(skips))
    os.chmod(job / "skips.json", 0o644)  # the worker may run as another user


def _read_json(path: Path) -> Any:
    try:
        if os.path.islink(path) or path.stat().st_size > MAX_JSON:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _read_imports(job: Path) -> dict[str, str]:
    data = _read_json(job / "out" / "imports.json")
    if not isinstance(data, dict):
        return {}
    return {clean_text(k, 50): clean_text(v) for k, v in data.items()}


def _read_outcome(job: Path, index: int) -> Outcome:
    return outcome_from(_read_json(job / "out" / f"{index}.json"))


def outcome_from(data: Any) -> Outcome:
    """An :class:`Outcome` from a worker's answer, checking every part of it."""
    if not isinstance(data, dict):
        return Outcome("crashed", detail="the worker's answer could not be read")
    seconds = data.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) else 0.0
    if data.get("status") == "ok":
        value = _decode(data.get("value"))
        after = data.get("inputs_digest")
        inputs_after = None
        if isinstance(after, list):
            inputs_after = [str(a)[:200] for a in after]
        return Outcome("ok", value=value, inputs_after=inputs_after, seconds=seconds)
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


def arrays_in(value: Any) -> list[np.ndarray]:
    """The arrays of a call's arguments, in the order the worker reports them back."""
    return _arrays_in(value, [])
