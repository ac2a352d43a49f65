"""Run a command and count the CPU of EVERY process it starts (for the benchmarks).

With a writable cgroup-v1 ``cpuacct`` hierarchy (root on this machine), the command runs in a
fresh cgroup: the kernel charges every descendant's CPU to it, including processes re-parented
away from the command (a sandbox's orphans, a namespace's init), which ``RUSAGE_CHILDREN`` misses.
Without one, the benchmark becomes a child subreaper and reaps every orphan, so their CPU
reaches ``RUSAGE_CHILDREN`` too; the method used is reported.

While it runs, the *grader's* memory is sampled: the proportional set size (PSS, shared pages
split between sharers) of the command's process and of its children running the same program
(``grade``'s grading processes), not of the sandbox workers.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _cgroup() -> Path | None:
    if not (CPUACCT / "cpuacct.usage").is_file():
        return None
    path = CPUACCT / f"cnn-bench-{os.getpid()}-{time.monotonic_ns()}"
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


class _Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_kb = 0
        self.peak_procs = 0
        self.done = threading.Event()

    def run(self) -> None:
        me = _cmdline(self.pid)
        while not self.done.is_set():
            pids = [self.pid] + [c for c in _children(self.pid) if _cmdline(c) == me]
            total = sum(_pss_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(pids)
            self.done.wait(self.every)


def measure(argv: list[str], *, env=None, cwd=None, timeout: float = 7200, cpu_quota=None):
    """Run ``argv``; return a dict: wall, cpu (every descendant), method, returncode, stdout,
    stderr, grader peak PSS in MB. ``cpu_quota`` (e.g. 0.5) caps the command's CPU share
    (cgroup ``cpu`` controller), as on a Gradescope container with half a CPU."""
    group = _cgroup()
    quota_group = None
    if cpu_quota is not None and Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").is_file():
        quota_group = Path("/sys/fs/cgroup/cpu") / f"cnn-bench-{os.getpid()}-{time.monotonic_ns()}"
        quota_group.mkdir()
        (quota_group / "cpu.cfs_period_us").write_text("100000")
        (quota_group / "cpu.cfs_quota_us").write_text(str(int(100000 * cpu_quota)))
    groups = [g for g in (group, quota_group) if g is not None]

    def enter() -> None:
        for g in groups:
            (g / "cgroup.procs").write_text(str(os.getpid()))

    if group is None:
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=enter,
    )
    sampler = _Sampler(proc.pid)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - started
    # Leftovers (there should be none): wait for them, so their CPU is counted.
    deadline = time.monotonic() + 30
    while group is not None and (group / "cgroup.procs").read_text().strip():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if group is None:
        while True:  # reap re-parented orphans
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if group is not None:
        cpu = int((group / "cpuacct.usage").read_text()) / 1e9
        method = "cgroup cpuacct (every descendant)"
    else:
        cpu = rusage_cpu
        method = "RUSAGE_CHILDREN with a subreaper"
    for g in groups:
        try:
            g.rmdir()
        except OSError:
            pass
    return {
        "wall": wall,
        "cpu": cpu,
        "cpu_rusage_children": rusage_cpu,
        "method": method,
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "grader_peak_pss_mb": sampler.peak_kb / 1024,
        "grader_processes_at_peak": sampler.peak_procs,
        "cpu_quota": cpu_quota if quota_group is not None else None,
    }
