"""Faults: the grader SIGKILLed at random points of a batch resumes to the same gradebook;
outputs are atomic; an unchanged batch is not regraded; killed runs' temp folders are cleaned."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.paths import SOLUTIONS_DIR, STUBS_DIR
from autograder.sandbox import scratch

CONFIG = """
[limits]
call_timeout = 3.0
[points]
"conv.conv2d" = 10
"pooling.max_pool2d" = 5
"activations.relu" = 3
"activations.softmax" = 2
"""
POINTED = {"conv.conv2d", "pooling.max_pool2d", "activations.relu", "activations.softmax"}


def _class(root: Path) -> Path:
    """Eight submissions: perfect, empty and mixtures (every one graded quickly)."""
    subs = root / "class"
    mixes = [
        (),
        ("conv",),
        ("pooling",),
        ("activations",),
        ("conv", "pooling"),
        ("conv", "activations"),
        ("pooling", "activations"),
        ("conv", "pooling", "activations"),
    ]
    for i, mods in enumerate(mixes):
        folder = subs / f"s{i}" / "cnn"
        shutil.copytree(STUBS_DIR, folder)
        for m in mods:
            shutil.copyfile(SOLUTIONS_DIR / f"{m}.py", folder / f"{m}.py")
    return subs


def _cmd(subs: Path, out: Path, cfg: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from autograder.cli import main; main()",
        "run",
        str(subs),
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--jobs",
        "2",
        *extra,
    ]


def _zeroed(cfg_text: str) -> str:
    from autograder.config import DEFAULT_POINTS

    lines = [f'"{k}" = 0' for k in DEFAULT_POINTS if k not in POINTED]
    return cfg_text + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    subs = _class(root)
    cfg = root / "grade.toml"
    cfg.write_text(_zeroed(CONFIG))
    ref = root / "reference"
    started = time.monotonic()
    subprocess.run(_cmd(subs, ref, cfg), check=True, capture_output=True, timeout=300)
    return root, subs, cfg, ref, time.monotonic() - started


def _listing(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


def test_killed_batches_resume_to_the_same_gradebook(setup):
    root, subs, cfg, ref, full = setup
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    injected = survived = 0
    for round_ in range(3):
        out = root / f"killed{round_}"
        kills = 0
        for _attempt in range(2):
            proc = subprocess.Popen(
                _cmd(subs, out, cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, max(0.6, full * 0.8)))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        injected += kills
        done = subprocess.run(_cmd(subs, out, cfg), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert (out / "gradebook.csv").read_text() == (ref / "gradebook.csv").read_text()
        for student in (p.name for p in ref.iterdir() if p.is_dir()):
            assert (out / student / "feedback.md").read_text() == (
                ref / student / "feedback.md"
            ).read_text()
        assert not [p for p in out.rglob(".*.tmp")], "a half-written temp file was left"
        survived += kills
    assert injected >= 1, "no kill landed while the batch ran, so this test proved nothing"
    print(f"faults survived / injected: {survived} / {injected}")


def test_an_unchanged_batch_is_not_regraded_unless_forced(setup):
    root, subs, cfg, ref, _ = setup
    before = {p: p.stat().st_mtime_ns for p in ref.rglob("results.json")}
    again = subprocess.run(_cmd(subs, ref, cfg), capture_output=True, text=True, timeout=300)
    assert "Graded 0 submission(s), skipped 8" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in ref.rglob("results.json")} == before
    forced = subprocess.run(
        _cmd(subs, ref, cfg, "--force"), capture_output=True, text=True, timeout=300
    )
    assert "Graded 8 submission(s)" in forced.stdout
    assert any(p.stat().st_mtime_ns != before[p] for p in before)


def test_stale_temp_folders_of_killed_runs_are_removed_and_live_ones_kept(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    dead = base / "run-1-dead"
    (dead / "job-x" / "out").mkdir(parents=True)
    (dead / "lock").write_text("")
    os.chmod(dead / "job-x" / "out", 0o500)
    # A live run: another process holds its lock.
    live = base / "run-2-live"
    live.mkdir()
    (live / "lock").write_text("")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)",
            str(live / "lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        removed = scratch.clean_stale(base)
        assert removed == ["run-1-dead"]
        assert not dead.exists() and live.exists()
    finally:
        holder.kill()
        holder.wait()
    assert scratch.clean_stale(base) == ["run-2-live"]


def _ours(run: Path, grader: int) -> bool:
    """Whether the run folder ``run-<pid>-...`` is the grader's or a grading process's."""
    try:
        pid = int(run.name.split("-")[1])
        if pid == grader:
            return True
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1]) == grader
    except (OSError, ValueError, IndexError):
        return False


def test_a_killed_grader_leaves_nothing_behind_after_the_next_run(setup):
    root, subs, cfg, _, full = setup
    base = scratch.base_dir()
    out = root / "leftovers"
    proc = subprocess.Popen(
        _cmd(subs, out, cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    mine = []
    while time.monotonic() < deadline and not mine:
        # the run folder of the grader or of one of its grading processes (--jobs 2)
        mine = [p for p in base.glob("run-*-*") if _ours(p, proc.pid) and any(p.glob("job-*"))]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert mine, "the killed run never made a job folder"
    assert mine[0].exists()
    subprocess.run(_cmd(subs, out, cfg), check=True, capture_output=True, timeout=300)
    assert not mine[0].exists()


def test_student_ids_never_take_the_place_of_the_kits_own_output_files(tmp_path):
    """Every name grade run writes next to the student folders is reserved: a student folder
    called gradebook.csv (or summary.html, mistakes.csv, in any case) is renamed."""
    from autograder.discover import RESERVED_IDS

    subs = tmp_path / "class"
    names = ["honest", *sorted(RESERVED_IDS), "Mistakes.CSV"]
    names = list(dict.fromkeys(n for n in names if n != "mistakes.csv"))
    for name in names:
        shutil.copytree(STUBS_DIR, subs / name / "cnn")
        shutil.copyfile(SOLUTIONS_DIR / "activations.py", subs / name / "cnn" / "activations.py")
    cfg = tmp_path / "grade.toml"
    from autograder.config import DEFAULT_POINTS

    points = [f'"{k}" = {3 if k == "activations.relu" else 0}' for k in DEFAULT_POINTS]
    cfg.write_text("[points]\n" + "\n".join(points) + "\n")
    out = tmp_path / "out"
    for _ in range(2):  # and a rerun works
        done = subprocess.run(_cmd(subs, out, cfg), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    # the kit's cache (.grade-index.jsonl) starts with '.', which no id does
    files = {p.name for p in out.iterdir() if not p.is_dir() and not p.name.startswith(".")}
    folders = {p.name for p in out.iterdir() if p.is_dir()}
    assert files == set(RESERVED_IDS), "a file the kit writes in OUT is not a reserved id"
    renamed = {f"student-{n}" for n in names if n != "honest"}
    assert folders == {"honest", *renamed}
    for name in renamed:
        results = (out / name / "results.json").read_text()
        assert "name of one of the grader's own output files" in results
        assert '"score": 3' in results or '"score": 3.0' in results
