"""Throughput: `grade run --jobs 2` on a class of correct submissions vs `otter run`, and the floor.

    python benchmarks/bench_throughput.py [--copies 200] [--jobs 2] [--otter-runs 5]
                                          [--floor-repeats 10]

1. The class: COPIES copies of solutions/cnn as student folders. ``grade run CLASS --jobs J``
   (this checkout's CLI, real isolation) is timed: cost per submission = wall / COPIES; the
   median of every student's ``extra_data.seconds`` (its latency inside the batch) is reported
   too. Every student must score 100.
2. otter-grader 7: an autograder whose one exception-based test file makes the same checks
   (the kit's cases for one student: public, hidden and Keras-bank cases, same arguments, same
   tolerance, exception and mutation checks) in otter's kernel, arguments and expected values
   shipped as support files; ``otter run -a autograder.zip SUBMISSION`` is timed OTTER_RUNS
   times on a correct submission (median), once on the stubs (must score 0: the test bites).
3. The floor: starting one isolated sandbox worker (``run_calls`` with the real isolation on
   the solutions, importing the package, one trivial call), median of FLOOR_REPEATS, plus the
   student's own compute: the sum of the ``seconds`` the worker reports for the calls of a
   correct submission.

Prints a table and the ratios; writes benchmarks/results/throughput-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    BENCH_SECRET,
    REPO,
    SOLUTIONS,
    copy_package,
    grade_cli,
    machine,
    median,
    table,
    write_results,
)


def build_class(root: Path, copies: int) -> list[str]:
    names = [f"student-{i:03d}" for i in range(1, copies + 1)]
    for name in names:
        copy_package(SOLUTIONS, root / name)
    return names


def grade_class(class_dir: Path, out: Path, jobs: int, names: list[str]) -> dict:
    wall, run = grade_cli("run", str(class_dir), "--out", str(out), "--jobs", str(jobs))
    if run.returncode != 0:
        sys.exit(f"grade run failed ({run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    seconds, scores, isolation = [], [], set()
    for name in names:
        data = json.loads((out / name / "results.json").read_text())
        seconds.append(float(data["extra_data"]["seconds"]))
        scores.append(float(data["score"]))
        isolation.add(data["extra_data"]["isolation"])
    if any(s != 100.0 for s in scores):
        sys.exit(f"a correct submission did not score 100: {sorted(set(scores))}")
    return {
        "wall_seconds": wall,
        "per_submission_wall": wall / len(names),
        "median_submission_seconds": median(seconds),
        "max_submission_seconds": max(seconds),
        "isolation": sorted(isolation),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--otter-runs", type=int, default=5)
    parser.add_argument("--floor-repeats", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cnn-bench-"))
    try:
        run(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


def run(args, tmp: Path) -> None:
    os.environ["CNN_GRADE_SECRET"] = BENCH_SECRET  # the same hidden cases as `grade run`
    import _otter

    from autograder.config import load_config
    from autograder.engine import Grader
    from autograder.paths import MODULES, STUBS_DIR
    from autograder.sandbox.runner import run_calls

    result: dict = {"machine": machine(), "args": vars(args), "repo": str(REPO)}

    print(f"[1/4] grade run on {args.copies} correct submissions, --jobs {args.jobs} ...")
    names = build_class(tmp / "class", args.copies)
    kit = grade_class(tmp / "class", tmp / "out", args.jobs, names)
    kit["loadavg_after"] = os.getloadavg()
    result["kit"] = kit

    print("[2/4] the floor: one isolated worker, and the student's own compute ...")
    from autograder.cases import Call
    from autograder.sandbox.isolation import detect

    iso = detect()
    probe = [Call("call", "shapes.conv_output_length", (28, 3), {})]
    spawn = []
    for _ in range(args.floor_repeats):
        started = time.perf_counter()
        report = run_calls(
            SOLUTIONS, probe, [probe[0].target], [False], isolation=iso, modules=MODULES
        )
        spawn.append(time.perf_counter() - started)
        if report.outcomes[0].status != "ok" or report.outcomes[0].value != 26:
            sys.exit(f"the floor probe failed: {report.outcomes[0]}")
    config = load_config(None)
    grader = Grader.create(config)
    cases = grader.cases(names[0])
    report = run_calls(
        SOLUTIONS,
        [c.call for c in cases],
        [c.item for c in cases],
        [c.check_mutation and c.call.program == "call" for c in cases],
        limits=config.limits,
        isolation=iso,
        modules=MODULES,
    )
    compute = sum(o.seconds for o in report.outcomes)
    slowest = max(report.outcomes, key=lambda o: o.seconds)
    result["floor"] = {
        "isolation": iso.level,
        "spawn_seconds": spawn,
        "spawn_median": median(spawn),
        "student_compute_seconds": compute,
        "slowest_call_seconds": slowest.seconds,
        "calls": len(cases),
        "floor_seconds": median(spawn) + compute,
    }

    print(f"[3/4] otter run, {args.otter_runs} runs on a correct submission, 1 on the stubs ...")
    points = {item: config.points[item] for item in grader.items}
    autograder, counts = _otter.build_autograder(cases, points, tmp / "otter")
    good = _otter.submission_zip(SOLUTIONS, tmp / "good.zip")
    stub = _otter.submission_zip(STUBS_DIR, tmp / "stub.zip")
    otter_seconds, otter_scores = [], []
    for i in range(args.otter_runs):
        seconds, res = _otter.otter_run(autograder, good, tmp / f"otter-out-{i}")
        otter_seconds.append(seconds)
        otter_scores.append(_otter_score(res))
    stub_seconds, stub_res = _otter.otter_run(autograder, stub, tmp / "otter-out-stub")
    if any(s != 100 for s in otter_scores) or _otter_score(stub_res) != 0:
        sys.exit(f"otter's test is not equivalent: {otter_scores}, stubs {_otter_score(stub_res)}")
    result["otter"] = {
        "loadavg_after": os.getloadavg(),
        "seconds": otter_seconds,
        "median": median(otter_seconds),
        "scores": otter_scores,
        "stub_score": _otter_score(stub_res),
        "stub_seconds": stub_seconds,
        "cases": counts,
    }

    print("[4/4] done\n")
    o, f = result["otter"]["median"], result["floor"]["floor_seconds"]
    per, lat = kit["per_submission_wall"], kit["median_submission_seconds"]
    result["ratios"] = {
        "otter_over_kit_wall_per_submission": o / per,
        "otter_over_kit_median_latency": o / lat,
        "kit_wall_per_submission_over_floor": per / f,
        "kit_median_latency_over_floor": lat / f,
        "targets": {"otter_over_kit >= 10": o / per >= 10, "kit_over_floor <= 3": per / f <= 3},
    }
    mx = kit["max_submission_seconds"]
    rows = [
        ("isolation", f"{', '.join(kit['isolation'])}"),
        (
            f"grade run --jobs {args.jobs}, {args.copies} submissions",
            f"{kit['wall_seconds']:.1f} s wall = {per:.3f} s per submission",
        ),
        ("  median / max per-submission seconds", f"{lat:.3f} / {mx:.3f} s"),
        (f"otter run ({len(otter_seconds)} runs, median)", f"{o:.2f} s per submission"),
        ("  otter cases (close/raises/property)", str(counts)),
        ("floor: isolated worker start (median)", f"{result['floor']['spawn_median']:.3f} s"),
        ("floor: student compute (sum of call s)", f"{compute:.3f} s, {len(cases)} calls"),
        ("floor total", f"{f:.3f} s"),
        ("otter / kit (wall per submission)", f"{o / per:.1f}x  (target >= 10x)"),
        ("otter / kit (median latency)", f"{o / lat:.1f}x"),
        ("kit (wall per submission) / floor", f"{per / f:.2f}x  (target <= 3x)"),
        ("kit (median latency) / floor", f"{lat / f:.2f}x"),
        ("load average: start / after kit / after otter", _loads(result)),
    ]
    print(table(rows))
    path = write_results("throughput", result)
    print(f"\nresults: {path.relative_to(REPO)}")


def _loads(result: dict) -> str:
    marks = (result["machine"]["loadavg_at_start"], result["kit"]["loadavg_after"],
             result["otter"]["loadavg_after"])  # fmt: skip
    return " / ".join(f"{m[0]:.1f}" for m in marks) + " (1-min; 2 cores: above 2 is contention)"


def _otter_score(res: dict) -> float:
    return sum(float(t.get("score", 0) or 0) for t in res.get("tests", []) if "score" in t)


if __name__ == "__main__":
    main()
