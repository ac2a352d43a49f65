"""Run a piece of the grader at a chosen isolation level, as root or as a throwaway user.

The interpreter here may live under root's 0700 home (pyenv): each run gets a private mount
namespace in which that home is an empty tmpfs with only the interpreter's tree bound back,
so another uid (the ``user`` level's worker uids, a throwaway grader uid) can run it. Nothing
else changes on the machine.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.paths import KIT_ROOT

THROWAWAY_UID = 1987654321  # no passwd entry, outside the worker uid range
MARK = f"cnnorph{os.getpid() % 100000}"  # the name (comm) every hostile child sets

# A hostile module: children that leave the session, double-fork, ignore every catchable
# signal, name themselves MARK and live for a minute; a fork bomb; a hang.
HOSTILE = f'''
import ctypes, os, signal, time

def _become_orphan():
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    ctypes.CDLL(None).prctl(15, b"{MARK}", 0, 0, 0)  # PR_SET_NAME

def _spawn(depth):
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            _become_orphan()
            if depth and os.fork() == 0:
                os.setsid()
                _become_orphan()
            end = time.monotonic() + 60
            while time.monotonic() < end:
                time.sleep(0.2)
        finally:
            os._exit(0)
    return pid

def escape():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for i in range(4):
        _spawn(depth=i % 2)
    time.sleep(0.3)
    return 1

def bomb():
    n = 0
    for _ in range(400):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            _become_orphan()
            time.sleep(20)
            os._exit(0)
        n += 1
    return n

def hang():
    escape()
    while True:
        pass

def ok():
    return 7
'''

DRIVER = """
import json, sys
from pathlib import Path
from autograder.cases import Call
from autograder.sandbox.isolation import Limits, detect
from autograder.sandbox.runner import run_calls
pkg, names = Path(sys.argv[1]), sys.argv[2].split(",")
limits = Limits(call_timeout=3.0, import_timeout=20.0, submission_timeout=120.0, memory_mb=1024)
calls = [Call("call", "conv." + n) for n in names]
report = run_calls(pkg, calls, names, [False] * len(calls), limits=limits, modules=("conv",))
print(json.dumps({"level": report.isolation,
                  "outcomes": [[o.status, o.value if isinstance(o.value, int) else None]
                               for o in report.outcomes]}))
"""


_PARKED: list[str] = []


def _park() -> str:
    """An empty folder to mount the home folder on inside a private mount namespace: one for
    the whole test process (every namespace mounts on its own view of it), removed at exit."""
    if not _PARKED:
        _PARKED.append(tempfile.mkdtemp(prefix="cnn-park-"))
        atexit.register(lambda: os.rmdir(_PARKED[0]) if os.path.isdir(_PARKED[0]) else None)
    return _PARKED[0]


def interpreter_visible_script() -> list[str]:
    """Shell lines (in a private mount namespace) that make the interpreter reachable."""
    exe_root = Path(sys.base_prefix).resolve()
    home = Path(os.path.expanduser("~")).resolve()
    script = ["set -e", "mount --make-rprivate /"]
    if str(exe_root).startswith(str(home) + "/"):
        park = _park()
        script += [
            f"mount --bind {home} {park}",
            f"mount -t tmpfs -o mode=0755 tmpfs {home}",
            f"mkdir -p {exe_root}",
            f"mount --bind {park}/{exe_root.relative_to(home)} {exe_root}",
        ]
    return script


def run_as(
    argv: list[str],
    level: str | None = None,
    uid: int | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    background: bool = False,
):
    """Run ``argv`` (a grader process) as root (``uid`` None) or as ``uid``, at ``level``."""
    script = interpreter_visible_script()
    run = shlex.join(argv)
    if uid is not None:
        run = f"exec setpriv --reuid={uid} --regid={uid} --clear-groups {run}"
    else:
        run = f"exec {run}"
    script.append(run)
    full_env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONPATH": str(KIT_ROOT),
        **(env or {}),
    }
    if level:
        full_env["CNN_GRADE_ISOLATION"] = level
    cmd = ["unshare", "--mount", "/bin/sh", "-c", "\n".join(script)]
    if background:
        return subprocess.Popen(
            cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(
        cmd, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def hostile_package(root: Path, source: str = HOSTILE) -> Path:
    """A world-readable package folder holding ``conv.py``."""
    pkg = root / "cnn"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "conv.py").write_text(source)
    for p in [root, pkg, *pkg.iterdir()]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return pkg


def drive(pkg: Path, names: list[str], level: str | None, uid: int | None) -> dict:
    """run_calls in a separate grader process; its JSON report."""
    done = run_as([sys.executable, "-c", DRIVER, str(pkg), ",".join(names)], level, uid)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def marked_processes(mark: str = MARK) -> list[int]:
    """Live (not zombie) processes named ``mark``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == mark and state not in ("Z", "X"):
            found.append(int(name))
    return found
