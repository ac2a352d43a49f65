"""Helpers shared by the benchmark scripts (not part of the kit; run from a checkout)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SOLUTIONS = REPO / "solutions" / "cnn"
BENCH_SECRET = "benchmark-secret"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's autograder, not an installed copy


def copy_package(source: Path, dest: Path) -> Path:
    """``dest/cnn`` copied from ``source`` (without caches)."""
    pkg = dest / "cnn"
    shutil.copytree(source, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return pkg


# What the Gradescope bundle's setup.sh byte-compiles at image build (relative to its source/),
# and what a benchmark byte-compiles in this checkout before it times a fresh ``grade`` process.
PRECOMPILE = ("autograder", "solutions")


def byte_compile(where: Path = REPO) -> None:
    """``PRECOMPILE`` under ``where`` byte-compiled, as an installed kit is (and any checkout
    after its first run, unless PYTHONDONTWRITEBYTECODE is set, as on this machine): a fresh
    process then loads the kit's bytecode instead of compiling ~90 modules (~0.3 CPU-s)."""
    pre = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *PRECOMPILE],
        cwd=where, capture_output=True, text=True,
    )  # fmt: skip
    if pre.returncode != 0:
        sys.exit(f"byte-compiling {where} failed:\n{pre.stdout[-2000:]}{pre.stderr[-2000:]}")


def grade_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CNN_GRADE_SECRET"] = BENCH_SECRET
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def grade_cli(*args: str, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``grade ARGS`` from this checkout; (wall seconds, completed process)."""
    argv = [sys.executable, "-c", "from autograder.cli import main; main()", *args]
    started = time.perf_counter()
    run = subprocess.run(
        argv, cwd=REPO, env=grade_env(), capture_output=True, text=True, timeout=timeout
    )
    return time.perf_counter() - started, run


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def code_version() -> dict:
    """The commit this checkout measures, and whether its tracked files differ from it."""

    def git(*args: str) -> str:
        try:
            run = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return run.stdout.strip() if run.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ":!benchmarks/results")
    return {"commit": commit or None, "tracked_changes": bool(changed) if commit else None}


def machine() -> dict:
    return {
        "code": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    text = json.dumps(data, indent=2, default=str)
    path.write_text(text + "\n")
    (RESULTS / f"{name}-latest.json").write_text(text + "\n")
    return path


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
