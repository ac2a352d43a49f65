"""The Gradescope bundle's worst case: a submission that hangs in every function, on half a CPU.

Builds the bundle with the default config (the bundle's own time budget), emulates Gradescope's
``/autograder`` in a temporary folder, and runs the bundle's ``run_autograder`` (as root, so the
sandbox uses namespaces and ``nobody`` as on Gradescope) on three submissions: one that hangs in
every function, one that hangs while importing every module, and the correct solutions. With
``--half-cpu`` (root, cgroup v1 ``cpu`` or cgroup v2 with the cpu controller) the run is limited
to 50 ms of CPU per 100 ms, as Gradescope's default half virtual CPU.

    sudo python3 benchmarks/bench_gradescope_budget.py --half-cpu

Records wall time, score, the number of entries and whether results.json was valid at every
poll (it is rewritten atomically after each module). Target: well inside Gradescope's default
10-minute limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import REPO, SOLUTIONS, grade_cli, machine, table, write_results

STUBS = REPO / "assignments" / "cnn"
CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")


def hanging_package(dest: Path, at_import: bool) -> Path:
    """The stubs with every function body (or every module's import) hanging."""
    pkg = dest / "cnn"
    shutil.copytree(STUBS, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for path in pkg.glob("*.py"):
        if path.name.startswith("_"):
            continue
        text = path.read_text()
        if at_import:  # at the end: after the module's `from __future__` line and its defs
            text = text + "\n\nwhile True:\n    pass\n"
        else:
            text = re.sub(
                r"^( *)raise NotImplementedError\(.*\)$",
                r"\1while True:\n\1    pass",
                text,
                flags=re.M,
            )
        path.write_text(text)
    return pkg


def half_cpu_prefix(base: Path) -> tuple[list[str], Path | None]:
    """A command prefix that runs the command in a half-CPU cgroup, and that cgroup."""
    if (CGROUP_V1 / "cpu.cfs_quota_us").exists():
        group = CGROUP_V1 / f"cnn-bench-{os.getpid()}"
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("50000")
        tasks = group / "tasks"
    elif (CGROUP_V2 / "cgroup.controllers").exists():
        group = CGROUP_V2 / f"cnn-bench-{os.getpid()}"
        group.mkdir()
        (group / "cpu.max").write_text("50000 100000")
        tasks = group / "cgroup.procs"
    else:
        raise SystemExit("no cgroup cpu controller: run without --half-cpu")
    script = base / "in-cgroup.sh"
    script.write_text(f'#!/bin/sh\necho $$ > {tasks}\nexec "$@"\n')
    script.chmod(0o755)
    return [str(script)], group


def run_one(bundle: Path, base: Path, name: str, package: Path, prefix: list[str]) -> dict:
    root = base / name
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    shutil.copytree(package, root / "submission" / "cnn")
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": name}]}))
    results = root / "results" / "results.json"
    started = time.monotonic()
    proc = subprocess.Popen(
        [*prefix, "bash", str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    polls = invalid = writes = 0
    last = None
    while proc.poll() is None:
        time.sleep(0.2)
        polls += 1
        try:
            text = results.read_text()
        except FileNotFoundError:
            continue
        try:
            data = json.loads(text)
            assert isinstance(data["tests"], list)
        except (ValueError, KeyError, AssertionError):
            invalid += 1
            continue
        if text != last:
            writes += 1
            last = text
    seconds = time.monotonic() - started
    data = json.loads(results.read_text())
    return {
        "submission": name,
        "seconds": round(seconds, 1),
        "score": data["score"],
        "entries": len(data["tests"]),
        "pending_entry": any(t["name"].startswith("Not graded") for t in data["tests"]),
        "distinct_results_seen": writes,
        "invalid_polls": invalid,
        "polls": polls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half-cpu", action="store_true", help="limit to half a CPU (root)")
    parser.add_argument("--only", help="run one submission: hang-calls, hang-imports, correct")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cnn-gs-bench-"))
    group = None
    try:
        bundle = base / "autograder.zip"
        _, run = grade_cli("gradescope", "--out", str(bundle))
        if run.returncode != 0:
            raise SystemExit(run.stderr)
        prefix: list[str] = []
        if args.half_cpu:
            prefix, group = half_cpu_prefix(base)
        subs = {
            "hang-calls": hanging_package(base / "hang-calls", at_import=False),
            "hang-imports": hanging_package(base / "hang-imports", at_import=True),
            "correct": SOLUTIONS,
        }
        rows = []
        for name, package in subs.items():
            if args.only and name != args.only:
                continue
            rows.append(run_one(bundle, base, name, package, prefix))
            print(json.dumps(rows[-1]), flush=True)
        data = {
            "machine": machine(),
            "half_cpu": args.half_cpu,
            "budget": run.stdout.strip().splitlines()[-1],
            "runs": rows,
        }
        path = write_results("gradescope-budget", data)
        print(table([(r["submission"], f"{r['seconds']} s, score {r['score']}") for r in rows]))
        print(f"wrote {path}")
    finally:
        if group is not None:
            try:
                group.rmdir()
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
