"""Peak memory of a sandbox worker grading the reference submission (target: under 300 MB).

    python benchmarks/bench_memory.py [--submission PATH_TO_cnn]

Runs every case one student is graded on (public, hidden and Keras-bank cases) through the real
sandbox (``run_calls``, strongest isolation) on a throwaway copy of the submission, with one
extra module added to that copy, ``cnn/_memprobe.py``, whose ``peak()`` returns the worker's
own peak resident set (``getrusage(RUSAGE_SELF).ru_maxrss``, the kernel's VmHWM; the sandbox
hides ``/proc/self/status``); its call comes last, so it sees the peak over every graded call.
Also reports the grading process's own peak RSS.
Writes benchmarks/results/memory-*.json.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from _common import BENCH_SECRET, REPO, SOLUTIONS, machine, table, write_results

PROBE = '''"""Benchmark probe: the worker's own peak resident set (getrusage ru_maxrss, kB)."""
import resource


def peak():
    return {"ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
'''

LIMIT_MB = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submission", type=Path, default=SOLUTIONS, help="a cnn/ folder")
    args = parser.parse_args()

    import os

    os.environ.setdefault("CNN_GRADE_SECRET", BENCH_SECRET)
    from autograder.cases import Call
    from autograder.config import load_config
    from autograder.engine import Grader
    from autograder.paths import MODULES
    from autograder.sandbox.runner import run_calls

    config = load_config(None)
    grader = Grader.create(config)
    cases = grader.cases("student-001")
    tmp = Path(tempfile.mkdtemp(prefix="cnn-bench-mem-"))
    try:
        package = tmp / "cnn"
        shutil.copytree(args.submission, package, ignore=shutil.ignore_patterns("__pycache__"))
        (package / "_memprobe.py").write_text(PROBE)
        calls = [c.call for c in cases] + [Call("call", "_memprobe.peak")]
        report = run_calls(
            package,
            calls,
            [c.item for c in cases] + ["_memprobe.peak"],
            [c.check_mutation and c.call.program == "call" for c in cases] + [False],
            limits=config.limits,
            isolation=grader.isolation,
            modules=(*MODULES, "_memprobe"),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    probe = report.outcomes[-1]
    if probe.status != "ok" or not isinstance(probe.value, dict):
        sys.exit(f"the memory probe failed: {probe.status} {probe.detail} {probe.exception}")
    failed = [
        c.name for c, o in zip(cases, report.outcomes, strict=False) if o.status in ("crashed",)
    ]
    kb = probe.value
    worker_peak_mb = kb["ru_maxrss_kb"] / 1024
    trusted_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    slowest = max(report.outcomes[:-1], key=lambda o: o.seconds)
    result = {
        "machine": machine(),
        "submission": str(args.submission),
        "isolation": report.isolation,
        "worker_starts": report.worker_starts,
        "calls": len(cases),
        "crashed_calls": failed,
        "worker_peak_rss_mb": worker_peak_mb,
        "memory_limit_mb": config.limits.memory_mb,
        "grading_process_peak_rss_mb": trusted_mb,
        "slowest_call_seconds": slowest.seconds,
        "target worker peak rss < 300 MB": worker_peak_mb < LIMIT_MB,
    }
    print(
        table(
            [
                ("submission", str(args.submission)),
                ("isolation / worker starts", f"{report.isolation} / {report.worker_starts}"),
                ("calls", str(len(cases))),
                ("worker peak RSS", f"{worker_peak_mb:.1f} MB  (target < {LIMIT_MB} MB)"),
                ("slowest call", f"{slowest.seconds:.3f} s"),
                ("grading process peak RSS", f"{trusted_mb:.1f} MB"),
            ]
        )
    )
    path = write_results("memory", result)
    print(f"\nresults: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
