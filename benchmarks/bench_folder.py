"""What a large output folder costs: adopting it, a rerun, a one-student regrade, the report.

    python benchmarks/bench_folder.py [--students 20000] [--jobs 2] [--keep DIR]

Grading 20,000 students for real takes an hour (``bench_throughput.py``'s curve, light config).
This benchmark measures the costs that grow with the *folder*, under the full default config, in
minutes: the sample class (examples/sample-class, six students: perfect, vectorised, partial,
mistakes, broken, zipped) is graded for real, then replicated to STUDENTS students, each a copy
of one of the six (its submission copied, not linked; its results.json and feedback files with
the name and origin replaced; the index left out). Then, each a fresh ``grade run`` (this
checkout's CLI) with every descendant's CPU counted (``_cpu.measure``) and the grader's peak PSS:

1. adopt: the first run on the folder: no index, so every results.json is read and every
   submission fingerprinted once (each found current, none graded);
2. rerun: nothing changed (every student skipped by its stamp, reports kept);
3. one changed: one student's module edited (a real change), ``grade run CLASS``;
4. one path: ``grade run CLASS/ONE --force`` into the same folder;
5. report: ``grade report OUT`` (gradebook and class report rebuilt from the index);
6. one alone: the same student as step 4, ``grade run CLASS/ONE`` into a fresh folder: what one
   student costs, the yardstick of steps 3 and 4.

The checkout is byte-compiled first (``_common.byte_compile``), as an installed kit is: each step
is a fresh process, and without bytecode each would compile the kit's modules (~0.3 CPU-s).

The copies' scores are their template's: the hidden cases depend on the student's name, but a
copy is never graded (step 3 and 4 grade real submissions). The copies repeat six students'
statistics, which the report's passes parse once each (``index.MEMO``): a class whose students
all differ costs somewhat more there. Prints a table; writes
benchmarks/results/folder-*.json (with the sizes of the index and the report files).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from _common import REPO, byte_compile, grade_env, machine, table, write_results
from _cpu import measure

GRADE = [sys.executable, "-c", "from autograder.cli import main; main()"]
SAMPLE = REPO / "examples" / "sample-class"
FEEDBACK = ("results.json", "feedback.md", "feedback.html")


def grade(*args: str) -> dict:
    res = measure([*GRADE, *args], env=grade_env(), cwd=REPO)
    if res["returncode"] != 0:
        sys.exit(f"grade {' '.join(args)} failed ({res['returncode']}):\n{res['stderr'][-3000:]}")
    return {k: v for k, v in res.items() if k not in ("stdout", "stderr")} | {
        "said": res["stdout"].strip().splitlines()[:2]
    }


def templates(seed_class: Path, seed_out: Path) -> list[tuple[str, Path, dict[str, str]]]:
    """(name, submission path, its output files' texts) of each graded sample student."""
    found = []
    for sub in sorted(seed_class.iterdir()):
        name = sub.name.removesuffix(".zip")
        folder = seed_out / name
        if sub.name.startswith(".") or not (folder / "results.json").is_file():
            continue
        files = {f: (folder / f).read_text() for f in FEEDBACK if (folder / f).is_file()}
        found.append((name, sub, files))
    return found


def replicate(seeds, seed_class: Path, klass: Path, out: Path, size: int) -> list[str]:
    names = []
    klass.mkdir(parents=True)
    out.mkdir(parents=True)
    for i in range(size):
        name, sub, files = seeds[i % len(seeds)]
        student = f"s{i:05d}-{name}"
        names.append(student)
        if sub.is_dir():
            shutil.copytree(sub, klass / student)
        else:
            shutil.copyfile(sub, klass / (student + sub.suffix))
        old_origin = json.dumps(str(sub))[1:-1]
        new_origin = json.dumps(str(klass / (student + ("" if sub.is_dir() else sub.suffix))))
        (out / student).mkdir()
        for fname, text in files.items():
            text = text.replace(old_origin, "\0").replace(name, student)
            text = text.replace("\0", new_origin[1:-1])
            (out / student / fname).write_text(text)
    return names


def sizes(out: Path) -> dict[str, int]:
    names = (".grade-index.jsonl", "gradebook.csv", "mistakes.csv", "summary.html", "matrix.html")
    return {n: (out / n).stat().st_size for n in names if (out / n).exists()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build the folder here and leave it")
    args = parser.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="cnn-bench-folder-"))
    tmp.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": machine(), "args": vars(args), "config": "default (full)"}
    try:
        byte_compile()
        seed_class, seed_out = tmp / "seed-class", tmp / "seed-out"
        shutil.copytree(SAMPLE, seed_class, ignore=shutil.ignore_patterns("README.md"))
        print("[1/7] grading the sample class for real ...", flush=True)
        result["seed"] = grade("run", str(seed_class), "--out", str(seed_out), "--jobs", "2")
        seeds = templates(seed_class, seed_out)
        klass, out = tmp / "class", tmp / "out"
        print(f"[2/7] replicating it to {args.students} students ...", flush=True)
        names = replicate(seeds, seed_class, klass, out, args.students)
        jobs = ("--jobs", str(args.jobs))
        print("[3/7] adopt (no index: every results.json read once) ...", flush=True)
        result["adopt"] = grade("run", str(klass), "--out", str(out), *jobs)
        result["sizes_after_adopt"] = sizes(out)
        print("[4/7] rerun, nothing changed ...", flush=True)
        result["rerun"] = grade("run", str(klass), "--out", str(out), *jobs)
        print("[5/7] one student changed, then one path --force ...", flush=True)
        first = next(n for n in names if (klass / n / "cnn").is_dir())
        module = klass / first / "cnn" / "shapes.py"
        module.write_text(module.read_text() + "\n# edited\n")
        result["one_changed"] = grade("run", str(klass), "--out", str(out), *jobs)
        result["one_path_force"] = grade("run", str(klass / names[2]), "--out", str(out), "--force")
        print("[6/7] grade report ...", flush=True)
        result["report"] = grade("report", str(out))
        print("[7/7] the same student alone, into a fresh folder ...", flush=True)
        result["one_alone"] = grade("run", str(klass / names[2]), "--out", str(tmp / "alone"))
        result["sizes"] = sizes(out)
        result["students"] = len(names)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    path = write_results("folder", result)
    rows = [
        (f"{key} ({result['students']} students)",
         f"{r['cpu']:.2f} CPU-s, {r['wall']:.2f} s wall, grader peak PSS "
         f"{r['grader_peak_pss_mb']:.0f} MB")
        for key in ("adopt", "rerun", "one_changed", "one_path_force", "report", "one_alone")
        if isinstance(r := result.get(key), dict)
    ]  # fmt: skip
    alone = result.get("one_alone", {}).get("cpu")
    for key in ("one_changed", "one_path_force"):
        if alone and isinstance(result.get(key), dict):
            rows.append((f"{key} / one_alone", f"{result[key]['cpu'] / alone:.1f}x"))
    rows += [(f"size of {k}", f"{v / 1e6:.1f} MB") for k, v in result["sizes"].items()]
    print(table(rows))
    print(f"written: {path.relative_to(REPO)}")
    os.sync()


if __name__ == "__main__":
    main()
