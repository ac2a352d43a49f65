"""Throughput, side by side in one run: `grade run --jobs 2` vs `otter run`, every descendant's CPU.

    python benchmarks/bench_throughput.py [--copies 100] [--jobs 2] [--otter-runs 3]
        [--cold-runs 3] [--sizes 100,1000,5000] [--skip-curve] [--cold-only]

CPU is counted for EVERY process a command starts (``_cpu.measure``: a fresh cgroup-v1
``cpuacct`` group when the machine has one, else a subreaper and ``RUSAGE_CHILDREN``), so the
sandbox workers, their namespaces' init processes and anything re-parented are all charged.

1. The kit: COPIES copies of solutions/cnn graded by ``grade run CLASS --jobs J`` (this
   checkout's CLI, real isolation, the full default config): CPU-s and wall per submission;
   every student must score 100.
2. otter-grader 7: an autograder whose test makes the same checks as the kit's cases for one
   student (``_otter.py``); ``otter run`` OTTER_RUNS times on a correct submission (CPU-s each,
   median), once on the stubs (must score 0: the test bites). Ratio = otter CPU / kit CPU.
3. Cold single submission, two routes, each with the command's CPU capped at half a CPU when the
   machine allows it (the Gradescope container): CPU-s and wall, median of COLD_RUNS. (a)
   ``grade run ONE --out`` in a fresh process (``--jobs 1``); (b) the Gradescope bundle's
   ``run_autograder`` (``grade gradescope-run``: results.json rewritten after each module) in an
   emulated ``/autograder``, byte-compiled as the bundle's setup.sh does. ``--cold-only`` runs
   this part alone.
4. Curves: synthetic classes of SIZES students (5 % hanging in a graded function, 5 % killing
   their worker, the rest correct) graded by ``grade run --jobs J`` with a LIGHT config (the six
   shapes items only, 1 s per call) so that the per-student costs that depend on the class size
   (discovery, worker start, results files, the index, the gradebook and class report) are
   what is measured: wall, CPU, the grader's peak memory (PSS of the batch process and its
   grading processes) per size. On the largest class, also: a regrade after one student
   changed one file (no --force), and ``--shard 1/4`` into a fresh folder.

Prints a table; writes benchmarks/results/throughput-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from _common import (
    BENCH_SECRET,
    REPO,
    SOLUTIONS,
    byte_compile,
    grade_env,
    machine,
    median,
    table,
    write_results,
)
from _cpu import measure

GRADE = [sys.executable, "-c", "from autograder.cli import main; main()"]
HANG = "\n\ndef conv_output_length(*args, **kwargs):  # benchmark: hangs\n    import time\n    time.sleep(3600)\n"  # noqa: E501
CRASH = "\n\ndef conv_output_length(*args, **kwargs):  # benchmark: kills its worker\n    import os\n    os._exit(3)\n"  # noqa: E501
LIGHT_ITEMS = (
    "shapes.conv_output_length",
    "shapes.same_padding",
    "shapes.pool_output_length",
    "shapes.conv_param_count",
    "shapes.dense_param_count",
    "shapes.receptive_field",
)


def link_package(dest: Path, override: dict[str, str] | None = None) -> None:
    """``dest/cnn`` = a copy of solutions/cnn; ``override``: module file -> extra source
    appended. Copies, not hard links: a link shares its inode (and the inode's change time)
    with every other student's, so one student's edit would change every student's files'
    stamps and the rerun would read the whole class."""
    pkg = dest / "cnn"
    pkg.mkdir(parents=True)
    for src in SOLUTIONS.glob("*.py"):
        if override and src.name in override:
            (pkg / src.name).write_text(src.read_text() + override[src.name])
        else:
            shutil.copyfile(src, pkg / src.name)


def build_class(root: Path, size: int, faulty: bool) -> list[str]:
    names = [f"student-{i:05d}" for i in range(size)]
    for i, name in enumerate(names):
        override = None
        if faulty and i % 20 == 7:
            override = {"shapes.py": HANG}
        elif faulty and i % 20 == 13:
            override = {"shapes.py": CRASH}
        link_package(root / name, override)
    return names


def light_config(path: Path) -> Path:
    from autograder.config import DEFAULT_POINTS

    points = "\n".join(
        f'"{item}" = {p if item in LIGHT_ITEMS else 0}' for item, p in DEFAULT_POINTS.items()
    )
    path.write_text(
        f"[limits]\ncall_timeout = 1.0\nmax_timeouts_per_item = 1\n[points]\n{points}\n"
    )
    return path


def grade(*args: str, quota=None) -> dict:
    res = measure([*GRADE, *args], env=grade_env(), cwd=REPO, cpu_quota=quota)
    if res["returncode"] not in (0,):
        sys.exit(f"grade {' '.join(args)} failed ({res['returncode']}):\n{res['stderr'][-3000:]}")
    return res


def _scores(out: Path, names: list[str]) -> list[float]:
    return [float(json.loads((out / n / "results.json").read_text())["score"]) for n in names]


def _slim(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in ("stdout", "stderr")}


def kit_side(tmp: Path, args) -> dict:
    names = build_class(tmp / "class", args.copies, faulty=False)
    res = grade("run", str(tmp / "class"), "--out", str(tmp / "out"), "--jobs", str(args.jobs))
    scores = _scores(tmp / "out", names)
    if any(s != 100.0 for s in scores):
        sys.exit(f"a correct submission did not score 100: {sorted(set(scores))}")
    return _slim(res) | {
        "submissions": len(names),
        "cpu_per_submission": res["cpu"] / len(names),
        "wall_per_submission": res["wall"] / len(names),
        "loadavg_after": os.getloadavg(),
    }


def otter_side(tmp: Path, args) -> dict:
    import _otter

    from autograder.config import load_config
    from autograder.engine import Grader
    from autograder.paths import STUBS_DIR

    config = load_config(None)
    grader = Grader.create(config)
    cases = grader.cases("student-00000")
    points = {item: config.points[item] for item in grader.items}
    autograder, counts = _otter.build_autograder(cases, points, tmp / "otter")
    good = _otter.submission_zip(SOLUTIONS, tmp / "good.zip")
    stub = _otter.submission_zip(STUBS_DIR, tmp / "stub.zip")

    def otter(sub: Path, out: Path) -> tuple[dict, float]:
        out.mkdir(parents=True, exist_ok=True)
        argv = ["otter", "run", "--no-logo", "-a", str(autograder), "-o", str(out), str(sub)]
        res = measure(argv, timeout=900)
        if res["returncode"] != 0:
            sys.exit(f"otter run failed:\n{res['stderr'][-3000:]}")
        data = json.loads((out / "results.json").read_text())
        score = sum(float(t.get("score", 0) or 0) for t in data.get("tests", []) if "score" in t)
        return _slim(res), score

    runs = [otter(good, tmp / f"otter-out-{i}") for i in range(args.otter_runs)]
    stub_run, stub_score = otter(stub, tmp / "otter-out-stub")
    scores = [s for _, s in runs]
    if any(s != 100 for s in scores) or stub_score != 0:
        sys.exit(f"otter's test is not equivalent: {scores}, stubs {stub_score}")
    return {
        "runs": [r for r, _ in runs],
        "cpu_median": median([r["cpu"] for r, _ in runs]),
        "wall_median": median([r["wall"] for r, _ in runs]),
        "scores": scores,
        "stub_score": stub_score,
        "stub_cpu": stub_run["cpu"],
        "cases": counts,
        "loadavg_after": os.getloadavg(),
    }


def cold_side(tmp: Path, args) -> dict:
    """``grade run ONE`` in a fresh process at half a CPU, the checkout byte-compiled first (as
    any checkout is after its first run, whatever PYTHONDONTWRITEBYTECODE says)."""
    one = tmp / "one"
    link_package(one / "student", None)
    byte_compile()
    runs = []
    for i in range(args.cold_runs):
        out = tmp / f"cold-{i}"
        res = grade("run", str(one / "student"), "--out", str(out), quota=0.5)
        if _scores(out, ["student"]) != [100.0]:
            sys.exit("the cold submission did not score 100")
        runs.append(_slim(res))
    return {
        "runs": runs,
        "cpu_median": median([r["cpu"] for r in runs]),
        "wall_median": median([r["wall"] for r in runs]),
        "cpu_quota": runs[0]["cpu_quota"],
    }


def gradescope_side(tmp: Path, args) -> dict:
    """The Gradescope route from cold: the bundle's ``run_autograder`` (``grade gradescope-run``)
    on one correct submission in an emulated ``/autograder``, at half a CPU, as Gradescope runs
    it. The bundle is built once, extracted and byte-compiled as its ``setup.sh`` does when
    Gradescope builds the image (``_common.PRECOMPILE``); each run gets a fresh copy of that
    image."""
    bundle = tmp / "autograder.zip"
    grade("gradescope", "--out", str(bundle))
    image = tmp / "gs-image"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(image / "source")
    byte_compile(image / "source")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX")}
    runs = []
    for i in range(args.cold_runs):
        root = tmp / f"gs-{i}"
        shutil.copytree(image, root, symlinks=True)
        (root / "results").mkdir()
        link_package(root / "submission", None)
        (root / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "s1"}]}))
        run_env = env | {"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
        res = measure(["bash", str(root / "source" / "run_autograder")], env=run_env,
                      cwd=root, cpu_quota=0.5)  # fmt: skip
        data = json.loads((root / "results" / "results.json").read_text())
        if res["returncode"] != 0 or data.get("score") != 100:
            sys.exit(
                f"gradescope-run scored {data.get('score')}, not 100:\n{res['stdout'][-2000:]}"
            )
        runs.append(_slim(res))
        shutil.rmtree(root, ignore_errors=True)
    return {
        "runs": runs,
        "cpu_median": median([r["cpu"] for r in runs]),
        "wall_median": median([r["wall"] for r in runs]),
        "cpu_quota": runs[0]["cpu_quota"],
    }


def curve_side(tmp: Path, args) -> dict:
    cfg = light_config(tmp / "light.toml")
    points = []
    last = None
    for size in args.sizes:
        root = tmp / f"curve-{size}"
        names = build_class(root / "class", size, faulty=True)
        out = root / "out"
        print(f"  class of {size} ...", flush=True)
        res = grade(
            "run", str(root / "class"), "--out", str(out), "--config", str(cfg),
            "--jobs", str(args.jobs),
        )  # fmt: skip
        scores = _scores(out, names)
        points.append(
            _slim(res)
            | {
                "students": size,
                "cpu_per_student": res["cpu"] / size,
                "wall_per_student": res["wall"] / size,
                "full_scores": sum(s == 2.0 * len(LIGHT_ITEMS) for s in scores),
                "loadavg_after": os.getloadavg(),
            }
        )
        if last is not None:
            shutil.rmtree(last[0], ignore_errors=True)
        last = (root, names, out)
    root, names, out = last
    # One student changes one file: the rerun regrades one student and updates the reports.
    changed = root / "class" / names[1] / "cnn" / "shapes.py"
    text = changed.read_text()
    changed.unlink()
    changed.write_text(text + "\n# changed\n")
    regrade = grade(
        "run", str(root / "class"), "--out", str(out), "--config", str(cfg),
        "--jobs", str(args.jobs),
    )  # fmt: skip
    one = grade(
        "run", str(root / "class" / names[2]), "--out", str(out), "--config", str(cfg),
        "--force",
    )  # fmt: skip
    shard = grade(
        "run", str(root / "class"), "--out", str(root / "shard"), "--config", str(cfg),
        "--jobs", str(args.jobs), "--shard", "1/4",
    )  # fmt: skip
    return {
        "config": "six shapes items, call_timeout 1 s, max_timeouts_per_item 1",
        "faults": "5 % hang (sleep) in conv_output_length, 5 % kill their worker there",
        "points": points,
        "largest": len(names),
        "rerun_one_changed": _slim(regrade) | {"stdout": regrade["stdout"][-400:]},
        "regrade_one_path_force": _slim(one),
        "shard_1_of_4": _slim(shard)
        | {"students": len(list((root / "shard").glob("*/results.json")))},
    }


def _cold_rows(result: dict) -> list[tuple[str, str]]:
    rows = []
    for key, label in (
        ("cold", "cold: grade run ONE (fresh process)"),
        ("cold_gradescope", "cold: Gradescope run_autograder"),
    ):
        if key in result:
            r = result[key]
            quota = f" at {r['cpu_quota']} CPU" if r["cpu_quota"] else ""
            rows.append(
                (
                    f"{label}, median of {len(r['runs'])}",
                    f"{r['cpu_median']:.2f} CPU-s, {r['wall_median']:.2f} s wall{quota}",
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--otter-runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument(
        "--curve-only", action="store_true", help="only part 4 (e.g. to extend a curve)"
    )
    parser.add_argument("--cold-only", action="store_true", help="only part 3 (both cold routes)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    os.environ["CNN_GRADE_SECRET"] = BENCH_SECRET  # the same hidden cases as `grade run`
    tmp = Path(tempfile.mkdtemp(prefix="cnn-bench-"))
    result: dict = {"machine": machine(), "args": vars(args), "repo": str(REPO)}
    try:
        if args.curve_only:
            result["curve"] = curve_side(tmp, args)
            path = write_results("throughput-curve", result)
            print(json.dumps(result["curve"], indent=1, default=str)[:4000])
            print(f"\nresults: {path.relative_to(REPO)}")
            return
        if args.cold_only:
            result["cold"] = cold_side(tmp, args)
            result["cold_gradescope"] = gradescope_side(tmp, args)
            path = write_results("throughput-cold", result)
            print(table(_cold_rows(result)))
            print(f"\nresults: {path.relative_to(REPO)}")
            return
        print(f"[1/4] grade run --jobs {args.jobs} on {args.copies} correct submissions ...")
        result["kit"] = kit = kit_side(tmp, args)
        print(f"[2/4] otter run x{args.otter_runs} (+1 on the stubs) ...")
        result["otter"] = otter = otter_side(tmp, args)
        print(f"[3/4] cold single submission x{args.cold_runs} ...")
        result["cold"] = cold = cold_side(tmp, args)
        result["cold_gradescope"] = cold_gs = gradescope_side(tmp, args)
        write_results("throughput-partial", result)  # parts 1-3, in case the curve is stopped
        if not args.skip_curve:
            print(f"[4/4] curves at {args.sizes} students ...")
            result["curve"] = curve_side(tmp, args)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    ratio = otter["cpu_median"] / kit["cpu_per_submission"]
    result["ratios"] = {
        "otter_cpu_over_kit_cpu_per_submission": ratio,
        "otter_cpu_over_cold_kit_cpu": otter["cpu_median"] / cold["cpu_median"],
        "otter_cpu_over_cold_gradescope_cpu": otter["cpu_median"] / cold_gs["cpu_median"],
        "otter_wall_over_kit_wall_per_submission": otter["wall_median"]
        / kit["wall_per_submission"],
    }
    rows = [
        ("CPU counted by", kit["method"]),
        (
            f"grade run --jobs {args.jobs}, {kit['submissions']} correct",
            f"{kit['cpu_per_submission']:.3f} CPU-s, {kit['wall_per_submission']:.3f} s wall "
            f"per submission; grader peak {kit['grader_peak_pss_mb']:.0f} MB",
        ),
        (
            f"otter run (median of {args.otter_runs})",
            f"{otter['cpu_median']:.2f} CPU-s, {otter['wall_median']:.2f} s wall",
        ),
        ("otter / kit, CPU per submission", f"{ratio:.1f}x  (target >= 30x)"),
        *_cold_rows(result),
    ]
    for p in result.get("curve", {}).get("points", []):
        rows.append(
            (
                f"curve: {p['students']} students (light config)",
                f"{p['wall']:.0f} s wall, {p['cpu_per_student']:.3f} CPU-s/student, "
                f"grader peak {p['grader_peak_pss_mb']:.0f} MB",
            )
        )
    if "curve" in result:
        c = result["curve"]
        for key, label in (
            ("rerun_one_changed", "rerun, one student changed"),
            ("regrade_one_path_force", "grade run ONE --force (one student)"),
            ("shard_1_of_4", "--shard 1/4 of the largest"),
        ):
            r = c[key]
            rows.append(
                (
                    f"  {label}",
                    f"{r['wall']:.1f} s wall, {r['cpu']:.1f} CPU-s, peak "
                    f"{r['grader_peak_pss_mb']:.0f} MB",
                )
            )
    rows.append(("load average at start", f"{result['machine']['loadavg_at_start']}"))
    print(table(rows))
    path = write_results("throughput", result)
    print(f"\nresults: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
