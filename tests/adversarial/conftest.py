"""Build a class of hostile submissions, grade it with the real ``grade run`` (a subprocess,
exactly as an instructor runs it), and collect everything the tests check afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.config import DEFAULT_POINTS
from autograder.paths import KIT_ROOT, SOLUTIONS_DIR, STUBS_DIR

from .payloads import Payload, payloads, render

# The submission budget is large enough that a slow payload (a memory bomb writes 1 GB per
# call) never spends it under load: these tests judge containment, and a budget that runs
# out would cost the payload's honest module points for a reason that is not an escape.
LIMITS = """
[limits]
call_timeout = 2.0
import_timeout = 4.0
submission_timeout = 240.0
memory_mb = 1024
max_timeouts_per_item = 1
"""
SNAPSHOT_DIRS = ("solutions", "assignments", "autograder/suite", "autograder/oracle/data")
SHARED = ("/tmp", "/dev/shm", "/var/tmp", "/run/lock")


@dataclass
class Batch:
    """One graded hostile class and what was measured around it."""

    root: Path
    out: Path
    subs: Path
    token: str
    secret: str
    proc: subprocess.CompletedProcess
    seconds: float
    connections: list = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    by_name: dict = field(default_factory=dict)
    peak_kb: int = 0  # the grading process's own peak RSS
    space_held: dict = field(default_factory=dict)  # place -> most bytes the batch held there
    survivors: list = field(default_factory=list)  # processes alive after grade run ended

    def results(self, student: str) -> dict:
        return json.loads((self.out / student_id(student) / "results.json").read_text())

    def item_scores(self, student: str) -> dict[str, float]:
        return self.results(student)["extra_data"]["item_scores"]


GRADED_MODULES = ("conv", "pooling", "activations")


def student_id(name: str) -> str:
    """The id a payload folder is graded under (the kit's own output names are renamed)."""
    from autograder.discover import RESERVED_IDS

    return f"student-{name}" if name.lower() in RESERVED_IDS else name


def points_table() -> str:
    """Grade only the modules the payloads attack and the honest one (keeps the batch fast)."""
    lines = ["[points]"]
    for item, points in DEFAULT_POINTS.items():
        keep = item.split(".")[0] in GRADED_MODULES
        lines.append(f'"{item}" = {points if keep else 0}')
    return "\n".join(lines) + "\n"


def snapshot(folders: list[Path]) -> dict[str, tuple[str, int]]:
    """path -> (sha256, mtime_ns) of every file under the folders."""
    out = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = os.path.join(root, name)
                try:
                    data = Path(path).read_bytes()
                    out[path] = (hashlib.sha256(data).hexdigest(), os.stat(path).st_mtime_ns)
                except OSError:
                    pass
    return out


def find_markers(token: str, places: list[Path]) -> list[str]:
    """Files or folders whose name carries the token, under the places (bounded walk)."""
    found = []
    for place in places:
        if not place.exists():
            continue
        for root, dirs, files in os.walk(place):
            if root.count(os.sep) - str(place).count(os.sep) > 6:
                dirs[:] = []
            found += [os.path.join(root, n) for n in dirs + files if token in n]
    return found


def shallow_markers(token: str, places: list[Path]) -> list[str]:
    found = []
    for place in places:
        try:
            found += [str(place / n) for n in os.listdir(place) if token in n]
        except OSError:
            pass
    return found


def solution_lines() -> list[str]:
    """Lines of the reference solutions' student regions that are not in the stubs."""
    stub_text = "".join(p.read_text() for p in STUBS_DIR.glob("*.py"))
    lines = []
    for path in SOLUTIONS_DIR.glob("*.py"):
        inside = False
        for line in path.read_text().splitlines():
            if "BEGIN STUDENT CODE" in line:
                inside = True
                continue
            if "END STUDENT CODE" in line:
                inside = False
                continue
            text = line.strip()
            if inside and len(skeleton(text)) >= 24 and text not in stub_text:
                lines.append(text)
    return lines


def skeleton(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


class Listener:
    """A TCP and a UDP socket on 127.0.0.1 that record anything reaching them."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.seen: list = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, addr = self.tcp.accept()
                self.seen.append(("tcp", addr))
                conn.close()
            except OSError:
                pass
            try:
                data, addr = self.udp.recvfrom(4096)
                self.seen.append(("udp", addr, data))
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.tcp.close()
        self.udp.close()


def build_class(root: Path, chosen: list[Payload], token: str, port: int, out: Path) -> Path:
    subs = root / "class"
    places = [*SHARED, str(out), str(subs), str(KIT_ROOT), str(KIT_ROOT / "solutions")]
    values = {
        "token": token,
        "places": ", ".join(repr(p) for p in places),
        "kit": str(KIT_ROOT),
        "port": port,
        "sites": [p for p in sys.path if p.endswith("site-packages")],
        "solutions": {"conv": (SOLUTIONS_DIR / "conv.py").read_text()},
    }
    honest = subs / "honest"
    shutil.copytree(STUBS_DIR, honest / "cnn")
    shutil.copyfile(SOLUTIONS_DIR / "activations.py", honest / "cnn" / "activations.py")
    for p in chosen:
        folder = subs / p.name
        shutil.copytree(honest, folder)
        for rel, text in render(p, **values).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
    return subs


class SpaceWatch:
    """The most bytes this batch's files held at once in each place it could write to.

    Counted by walking the batch's own files (allocated blocks), not by a file system's free
    space, which every other process on the machine moves too: in the shared temporary
    folders, the entries named with the run's token (what a payload that got out of its
    sandbox leaves; every payload names its files so) and the grader's run folders
    (``cnn-grade-*/run-*``: job folders, worker logs) made while the batch ran; and the growth
    of the test's own folder (the class, the output folder, the grader's working folder).
    """

    PLACES = ("/dev/shm", "/tmp", "/var/tmp", "/run")
    EVERY = 0.1  # seconds between two walks

    def __init__(self, token: str, root: Path):
        self.token, self.root = token, str(root)
        self.places = [p for p in self.PLACES if os.path.isdir(p)]
        self.old_runs = set(self._runs())
        self.root_before = _tree_bytes(self.root)
        self.most = dict.fromkeys([*self.places, self.root], 0)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _runs(self) -> list[str]:
        """Every grading run folder in the shared places (``<place>/cnn-grade-*/run-*``)."""
        found = []
        for place in self.places:
            for base in _entries(place):
                if os.path.basename(base).startswith("cnn-grade-"):
                    found += [e for e in _entries(base) if os.path.basename(e).startswith("run-")]
        return found

    def held(self) -> dict[str, int]:
        now = {place: 0 for place in self.places}
        for place in self.places:
            for entry in _entries(place):
                if self.token in os.path.basename(entry):
                    now[place] += _tree_bytes(entry)
        for run in self._runs():
            if run not in self.old_runs:
                now[next(p for p in self.places if run.startswith(p + "/"))] += _tree_bytes(run)
        now[self.root] = _tree_bytes(self.root) - self.root_before
        return now

    def _run(self):
        while not self.stop:
            for place, held in self.held().items():
                self.most[place] = max(self.most[place], held)
            time.sleep(self.EVERY)

    def close(self) -> dict[str, int]:
        self.stop = True
        self.thread.join(5)
        for place, held in self.held().items():
            self.most[place] = max(self.most[place], held)
        return dict(self.most)


def _entries(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return [e.path for e in it]
    except OSError:  # gone, or not ours to read
        return []


def _tree_bytes(path: str) -> int:
    """Blocks allocated to ``path`` and everything under it (symbolic links not followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    total = st.st_blocks * 512
    if os.path.isdir(path) and not os.path.islink(path):
        for entry in _entries(path):
            total += _tree_bytes(entry)
    return total


GRADER = (
    "import atexit, os, resource\n"
    "atexit.register(lambda: open(os.environ['CNN_PEAK_FILE'], 'w').write(\n"
    "    str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
    "from autograder.cli import main\n"
    "main()\n"
)


def survivors(token: str, uid: int | None = None) -> list[str]:
    """Processes still alive that a submission of this run started: named with the run's
    token (every payload child names itself so), with the token in their command line, or
    (for a throwaway grader uid) running as that uid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            owner = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat.rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            continue
        if comm == token[:15] or token.encode() in cmdline or (uid is not None and owner == uid):
            found.append(f"{name} {comm} uid={owner} {cmdline[:120]!r}")
    return found


def grade(
    root: Path,
    chosen: list[Payload],
    env_extra: dict[str, str],
    jobs: int = 2,
    uid: int | None = None,
) -> Batch:
    token = "cnnpwn" + secrets.token_hex(6)
    secret = "cnnsecret-" + secrets.token_hex(12)
    out = root / "out"
    listener = Listener()
    subs = build_class(root, chosen, token, listener.port, out)
    (root / "grade.toml").write_text(LIMITS + points_table())
    cwd = root / "cwd"
    cwd.mkdir()
    folders = [subs, *(KIT_ROOT / d for d in SNAPSHOT_DIRS)]
    before = snapshot(folders)
    peak_file = root / "peak"
    env = {
        **os.environ,
        "CNN_GRADE_SECRET": secret,
        "CNN_PEAK_FILE": str(peak_file),
        **env_extra,
    }
    watch = SpaceWatch(token, root)
    started = time.monotonic()
    cmd = [
        sys.executable,
        "-c",
        GRADER,
        "run",
        str(subs),
        "--out",
        str(out),
        "--jobs",
        str(jobs),
        "--config",
        str(root / "grade.toml"),
    ]
    if uid is None:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    else:  # as a throwaway user, with the interpreter made reachable
        from _isolation_env import run_as

        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o777 if p.is_dir() else 0o666)
        keep = {k: env[k] for k in ("CNN_GRADE_SECRET", "CNN_PEAK_FILE", *env_extra)}
        proc = run_as(cmd, None, uid, env=keep, cwd=cwd, timeout=600)
    seconds = time.monotonic() - started
    alive = survivors(token, uid)  # the moment grade run has ended
    space = watch.close()
    time.sleep(4)  # daemons wake up after 3 s
    listener.close()
    batch = Batch(
        root,
        out,
        subs,
        token,
        secret,
        proc,
        seconds,
        listener.seen,
        before,
        snapshot(folders),
        {p.name: p for p in chosen},
        peak_kb=int(peak_file.read_text()) if peak_file.exists() else 0,
        space_held=space,
        survivors=alive,
    )
    return batch


@pytest.fixture(scope="session")
def hostile_batch(tmp_path_factory) -> Batch:
    """Every payload, graded at the strongest isolation this machine offers."""
    batch = grade(tmp_path_factory.mktemp("hostile"), payloads(), {})
    yield batch
    cleanup(batch)


@pytest.fixture(scope="session")
def nonroot_batch() -> Batch:
    """The payloads of issue #11 (and the host attacks), graded by a non-root instructor."""
    from _isolation_env import THROWAWAY_UID

    if os.geteuid() != 0:
        pytest.skip("making a throwaway grader uid needs root")
    chosen = [p for p in payloads() if p.name in NONROOT_PAYLOADS]
    root = Path(tempfile.mkdtemp(prefix="cnn-hostile-nonroot-"))
    batch = grade(root, chosen, {}, uid=THROWAWAY_UID)
    yield batch
    cleanup(batch)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def fallback_batch(tmp_path_factory) -> Batch:
    """The payloads that target the host, graded at the process-group level (with Landlock)."""
    chosen = [p for p in payloads() if p.name in FALLBACK_PAYLOADS]
    batch = grade(
        tmp_path_factory.mktemp("fallback"), chosen, {"CNN_GRADE_ISOLATION": "process-group"}
    )
    yield batch
    cleanup(batch)


def cleanup(batch: Batch) -> None:
    """Remove whatever a payload managed to leave (only if a test above already failed)."""
    places = [*map(Path, SHARED), Path("/"), Path.home(), KIT_ROOT, KIT_ROOT / "solutions"]
    for path in find_markers(batch.token, [*map(Path, SHARED)]) + shallow_markers(
        batch.token, places
    ):
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
    for place in places:
        for name in ("results.json", "gradebook.csv", "forge_results/results.json"):
            try:
                if batch.token in (place / name).read_text(errors="replace"):
                    (place / name).unlink()
            except OSError:
                pass


FALLBACK_PAYLOADS = (
    "daemon",
    "read_secrets",
    "import_solutions",
    "forge_results",
    "use_tensorflow",
    "spin_sigterm",
    "disk_bomb",
    "network",
    "shadow_numpy",
    "setsid_sleepers",
    "status_line_disk_bomb",
    "raw_pipe_answers",
    "tensorflow_by_path",
    "hidden_mutation",
)
NONROOT_PAYLOADS = (
    "daemon",
    "read_secrets",
    "use_tensorflow",
    "tensorflow_by_path",
    "setsid_sleepers",
    "fork_bomb",
    "huge_answers",
    "raw_pipe_answers",
    "status_line_disk_bomb",
    "hidden_mutation",
    "spin_sigterm",
    "gradebook.csv",
)
