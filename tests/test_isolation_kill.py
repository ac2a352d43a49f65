"""Nothing a worker starts outlives it, at every isolation level this machine can run: children
that leave the session, double-fork and ignore every signal are dead when the call times out,
when the worker is done, when ``grade run`` gets SIGTERM/SIGINT/SIGHUP/SIGKILL, and when the
grader raises; fork bombs stop at the process limit; foreign ``nobody`` processes change
nothing. Each case runs in a separate grader process, as root or as a throwaway uid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _isolation_env import (
    HOSTILE,
    THROWAWAY_UID,
    drive,
    hostile_package,
    marked_processes,
    run_as,
)

from autograder.config import DEFAULT_POINTS
from autograder.paths import SOLUTIONS_DIR
from autograder.sandbox import slots

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="running the grader as another user and at each level needs root and util-linux",
)

# (forced level or None for the strongest, grader uid or None for root, the level expected)
LEVELS = [
    (None, None, "namespaces+user"),
    ("user", None, "user"),
    ("process-group", None, "process-group"),
    (None, THROWAWAY_UID, "namespaces"),
    ("process-group", THROWAWAY_UID, "process-group"),
]
IDS = ["root-strongest", "root-user", "root-process-group", "user-namespaces", "user-fallback"]


@pytest.fixture
def workdir():
    root = Path(tempfile.mkdtemp(prefix="cnn-kill-"))
    os.chmod(root, 0o755)
    yield root
    for pid in marked_processes():  # only if a test failed: its own leftovers
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(("level", "uid", "expected"), LEVELS, ids=IDS)
def test_every_process_a_worker_started_dies_with_it(workdir, level, uid, expected):
    pkg = hostile_package(workdir)
    report = drive(pkg, ["escape", "hang", "ok"], level, uid)
    assert report["level"] == expected
    assert report["outcomes"] == [["ok", 1], ["timeout", None], ["ok", 7]]
    assert marked_processes() == [], "a child of the worker outlived it"


@pytest.mark.parametrize(("level", "uid", "expected"), LEVELS, ids=IDS)
def test_a_fork_bomb_stops_at_the_process_limit(workdir, level, uid, expected):
    if expected == "process-group" and uid is None:
        pytest.skip("root ignores RLIMIT_NPROC: the process-group level as root has no limit")
    pkg = hostile_package(workdir)
    report = drive(pkg, ["bomb", "ok"], level, uid)
    assert report["level"] == expected
    forks = report["outcomes"][0][1]
    assert 10 < forks <= 64, forks  # Limits.processes, counted for this worker alone
    assert report["outcomes"][1] == ["ok", 7]
    assert marked_processes() == []


def test_foreign_nobody_processes_do_not_use_up_the_workers_limit(workdir):
    """Issue #10: 70 processes of uid 65534 (another service) change nothing."""
    sleepers = [
        subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "120"]
        )
        for _ in range(70)
    ]
    try:
        pkg = hostile_package(workdir)
        report = drive(pkg, ["bomb", "ok"], None, None)
        assert report["outcomes"][0][1] > 50
        assert report["outcomes"][1] == ["ok", 7]
    finally:
        for p in sleepers:
            p.kill()
            p.wait()


def test_worker_uids_are_leased_one_per_worker_and_killed_by_uid():
    a, b = slots.lease(), slots.lease()
    try:
        assert a.uid != b.uid and a.uid >= slots.UID_BASE and b.uid >= slots.UID_BASE
        sleeper = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={a.uid}",
                f"--regid={a.uid}",
                "--clear-groups",
                "/bin/sh",
                "-c",
                "trap '' TERM HUP INT; (setsid sleep 300 &); sleep 300",
            ]
        )
        time.sleep(0.3)
        assert len(slots.processes_of(a.uid)) >= 2
        slots.kill_uid(a.uid)
        sleeper.wait(5)
        assert [p for p in slots.processes_of(a.uid) if not _zombie(p)] == []
    finally:
        a.release()
        b.release()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ----------------------------------------------------------------- grade run and signals


def _class(root: Path) -> tuple[Path, Path, Path]:
    subs = root / "class"
    honest = subs / "honest" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, honest)
    hostile = subs / "hostile" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, hostile)
    (hostile / "conv.py").write_text(
        HOSTILE + "\ndef pad2d(*a, **k):\n    hang()\nconv1d = conv2d = pad2d\n"
    )
    cfg = root / "grade.toml"
    points = "\n".join(
        f'"{item}" = {p if item.startswith("conv.") else 0}' for item, p in DEFAULT_POINTS.items()
    )
    cfg.write_text(
        "[limits]\ncall_timeout = 2.0\nimport_timeout = 20.0\nmax_timeouts_per_item = 1\n"
        f"[points]\n{points}\n"
    )
    out = root / "out"
    out.mkdir()
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    return subs, out, cfg


def _grade(subs: Path, out: Path, cfg: Path, uid, background=False):
    argv = [
        sys.executable,
        "-m",
        "autograder",
        "run",
        str(subs),
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--jobs",
        "2",
    ]
    return run_as(argv, None, uid, cwd=subs.parent, background=background)


@pytest.mark.parametrize(
    ("uid", "sig"),
    [
        (None, signal.SIGTERM),
        (None, signal.SIGINT),
        (None, signal.SIGHUP),
        (None, signal.SIGKILL),
        (THROWAWAY_UID, signal.SIGTERM),
        (THROWAWAY_UID, signal.SIGKILL),
    ],
    ids=["root-TERM", "root-INT", "root-HUP", "root-KILL", "user-TERM", "user-KILL"],
)
def test_a_signal_to_grade_run_kills_every_worker_and_a_rerun_resumes(workdir, uid, sig):
    subs, out, cfg = _class(workdir)
    proc = _grade(subs, out, cfg, uid, background=True)
    end = time.monotonic() + 120
    while not marked_processes() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.1)
    assert marked_processes(), "the hostile submission never started its children"
    # The grader runs as the shell's child in its mount namespace: signal that process.
    grader = _grader_pid(proc.pid)
    os.kill(grader, sig)
    _stdout, stderr = proc.communicate(timeout=60)
    time.sleep(0.2)  # SIGKILL: the parent-death signals travel down a chain of two processes
    assert marked_processes() == [], "a worker's child outlived grade run"
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + sig, stderr
        assert "Rerun the same command to resume" in stderr
        assert f"Interrupted by {signal.Signals(sig).name}" in stderr
    if sig != signal.SIGKILL:  # a stop never leaves a half-written file behind
        assert not list(out.glob("*/.*.tmp"))
    again = _grade(subs, out, cfg, uid)
    assert again.returncode == 0, again.stderr
    assert {p.name for p in out.iterdir() if (p / "results.json").is_file()} == {
        "honest",
        "hostile",
    }
    assert (out / "gradebook.csv").is_file()
    assert not list(out.glob("*/.*.tmp"))  # a SIGKILL's half-written files are gone
    assert marked_processes() == []


def _grader_pid(shell: int) -> int:
    """The python process that ``run_as`` execs (the pid itself: sh execs setpriv execs it)."""
    return shell


def test_an_exception_in_the_grader_kills_every_worker(workdir, monkeypatch):
    from autograder.batch import grade_batch
    from autograder.config import load_config

    subs, out, cfg = _class(workdir)
    # a third student so that one worker is still running when the first result arrives
    shutil.copytree(subs / "hostile", subs / "hostile2")

    def boom(_n):
        raise RuntimeError("the grader broke")

    with pytest.raises(RuntimeError, match="the grader broke"):
        grade_batch([subs], out, load_config(cfg), jobs=2, progress=boom)
    assert marked_processes() == []


def test_a_uid_another_grader_uses_is_skipped_never_killed():
    """A grader with its own lock folder (a chroot with its own /run) holds no lock we can see:
    its live worker (parent: a live launcher, not us, not PID 1) keeps the uid from our lease,
    and our lease kills nothing of it. An orphan of a dead grader is still killed."""
    probe = slots.lease()
    uid = probe.uid
    probe.release()
    script = f"setpriv --reuid={uid} --regid={uid} --clear-groups sleep 300; true"
    launcher = subprocess.Popen(["/bin/sh", "-c", script])  # stands for the other grader
    try:
        end = time.monotonic() + 10
        while not slots.processes_of(uid) and time.monotonic() < end:
            time.sleep(0.02)
        assert slots.owned_elsewhere(uid)
        with slots.lease() as other:
            assert other.uid != uid
        assert [p for p in slots.processes_of(uid) if not _zombie(p)]  # not killed
    finally:
        launcher.kill()  # its sleep is now an orphan (of a dead "grader")
        launcher.wait()
    end = time.monotonic() + 10
    while slots.owned_elsewhere(uid) and time.monotonic() < end:
        time.sleep(0.02)
    # Other graders on the machine may have freed lower uids meanwhile: hold those until the
    # lease reaches ours (it takes the lowest free uid).
    held = []
    try:
        again = slots.lease()
        while again.uid < uid:
            held.append(again)
            again = slots.lease()
        held.append(again)
        assert again.uid == uid
        assert [p for p in slots.processes_of(uid) if not _zombie(p)] == []
    finally:
        for slot in held:
            slot.release()
