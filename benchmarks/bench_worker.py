"""The sandbox worker's own cost: CPU per worker start, per call, per submission (every process).

    python benchmarks/bench_worker.py [--starts 20] [--calls 200] [--submissions 5]
                                      [--isolation LEVEL] [--label NAME]

Every measurement runs in a child process placed in a fresh cgroup (v1 ``cpuacct`` or v2),
so the CPU of every process the sandbox starts is counted: ``unshare``, the mount helpers,
the namespace's init, the worker, a fork server and its children, and processes re-parented
away from their launcher, which ``RUSAGE_CHILDREN`` misses. Without a usable cgroup (not
root) it falls back to RUSAGE_SELF + RUSAGE_CHILDREN of the measuring process and says so.

1. start: ``run_calls`` on the solutions with one trivial call, ``--starts`` times: CPU per
   worker start (with the grader's own share of ``run_calls``: job folder, blob, lease).
2. call: one ``run_calls`` with ``--calls`` copies of a small call (relu on 4x8x8x3) minus
   one start, per call: the per-call cost of the wire (spec, answer, decoding).
3. submission: the real hidden suite's calls for one student (``Grader.cases``, computed
   before the window), ``run_calls`` on the solutions, ``--submissions`` times: the worker
   side of one correct submission (the trusted side's expected values are not in it).

Writes benchmarks/results/worker-<label>-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import BENCH_SECRET, REPO, SOLUTIONS, machine, median, table, write_results

CG_V1 = Path("/sys/fs/cgroup/cpuacct")
CG_V2 = Path("/sys/fs/cgroup")


class CpuMeter:
    """CPU of this process and every descendant, read from a cgroup of its own."""

    def __init__(self) -> None:
        self.group: Path | None = None
        self.kind = "rusage"
        name = f"cnn-bench-worker-{os.getpid()}"
        try:
            if (CG_V1 / "cpuacct.usage").exists():
                self.group = CG_V1 / name
                self.group.mkdir()
                (self.group / "tasks").write_text(str(os.getpid()))
                self.kind = "cgroup-v1-cpuacct"
            elif (CG_V2 / "cgroup.controllers").exists():
                self.group = CG_V2 / name
                self.group.mkdir()
                (self.group / "cgroup.procs").write_text(str(os.getpid()))
                self.kind = "cgroup-v2"
        except OSError:
            self.group, self.kind = None, "rusage"

    def seconds(self) -> float:
        if self.kind == "cgroup-v1-cpuacct":
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        if self.kind == "cgroup-v2":
            for line in (self.group / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def self_seconds(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime


def measure(args: argparse.Namespace) -> dict:
    """Runs in the child process (inside the cgroup)."""
    os.environ.setdefault("CNN_GRADE_SECRET", BENCH_SECRET)
    meter = CpuMeter()
    import numpy as np

    from autograder.cases import Call
    from autograder.config import load_config
    from autograder.engine import Grader
    from autograder.paths import MODULES
    from autograder.sandbox.isolation import detect
    from autograder.sandbox.runner import run_calls

    iso = detect(args.isolation) if args.isolation else detect()
    out: dict = {"meter": meter.kind, "isolation": iso.level}

    def window(fn):
        cpu0, own0, wall0 = meter.seconds(), meter.self_seconds(), time.perf_counter()
        fn()
        time.sleep(0.05)  # let a killed namespace's last processes be accounted
        return (
            meter.seconds() - cpu0,
            meter.self_seconds() - own0,
            time.perf_counter() - wall0,
        )

    probe = [Call("call", "shapes.conv_output_length", (28, 3), {})]

    def one_start():
        report = run_calls(SOLUTIONS, probe, ["x"], [False], isolation=iso, modules=MODULES)
        assert report.outcomes[0].status == "ok" and report.outcomes[0].value == 26, report
        assert report.worker_starts == 1

    one_start()  # warm: detection, scratch folders, the fork server if any
    starts = [window(one_start) for _ in range(args.starts)]
    out["start"] = {
        "cpu_all_median": median([s[0] for s in starts]),
        "cpu_grader_median": median([s[1] for s in starts]),
        "wall_median": median([s[2] for s in starts]),
        "repeats": len(starts),
    }

    x = np.random.default_rng(0).standard_normal((4, 8, 8, 3)).astype(np.float32)
    many = [Call("call", "activations.relu", (x,), {}) for _ in range(args.calls)]

    def calls_run():
        report = run_calls(
            SOLUTIONS, many, ["r"] * len(many), [True] * len(many), isolation=iso, modules=MODULES
        )
        assert all(o.status == "ok" for o in report.outcomes), report.outcomes[0]

    calls_run()
    runs = [window(calls_run) for _ in range(3)]
    total = median([r[0] for r in runs])
    out["call"] = {
        "calls": args.calls,
        "cpu_all_per_call": (total - out["start"]["cpu_all_median"]) / (args.calls - 1),
        "cpu_all_run_median": total,
    }

    config = load_config(None)
    grader = Grader.create(config)
    cases = grader.cases("student-001")
    calls = [c.call for c in cases]

    def submission():
        report = run_calls(
            SOLUTIONS,
            calls,
            [c.item for c in cases],
            [c.check_mutation and c.call.program == "call" for c in cases],
            limits=config.limits,
            isolation=iso,
            modules=MODULES,
            timeouts=[c.timeout for c in cases],
        )
        bad = [o for o in report.outcomes if o.status not in ("ok", "error")]
        assert not bad, bad[0]

    subs = [window(submission) for _ in range(args.submissions)]
    out["submission"] = {
        "calls": len(calls),
        "cpu_all_median": median([s[0] for s in subs]),
        "cpu_grader_median": median([s[1] for s in subs]),
        "wall_median": median([s[2] for s in subs]),
        "repeats": len(subs),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--submissions", type=int, default=5)
    parser.add_argument("--isolation", default="")
    parser.add_argument("--label", default="current")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return
    env = {**os.environ, "PYTHONPATH": str(REPO), "CNN_GRADE_SECRET": BENCH_SECRET}
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = [sys.executable, __file__, "--child", *sys.argv[1:]]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO)
    if run.returncode != 0:
        sys.exit(f"the measurement failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    data = json.loads(run.stdout.strip().splitlines()[-1])
    result = {"machine": machine(), "args": vars(args), "label": args.label, **data}
    path = write_results(f"worker-{args.label}", result)
    s, c, b = data["start"], data["call"], data["submission"]
    print(
        table(
            [
                ("isolation", f"{data['isolation']} (CPU counted by {data['meter']})"),
                ("worker start, CPU all processes", f"{s['cpu_all_median'] * 1000:.1f} ms"),
                ("  of it the grader's own", f"{s['cpu_grader_median'] * 1000:.1f} ms"),
                ("  wall", f"{s['wall_median'] * 1000:.1f} ms"),
                ("per call, CPU all processes", f"{c['cpu_all_per_call'] * 1000:.2f} ms"),
                (
                    f"submission ({b['calls']} calls), CPU all",
                    f"{b['cpu_all_median'] * 1000:.0f} ms",
                ),
                ("  of it the grader's own", f"{b['cpu_grader_median'] * 1000:.0f} ms"),
                ("  wall", f"{b['wall_median'] * 1000:.0f} ms"),
            ]
        )
    )
    print(f"written: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
