"""How a sandbox worker is started: the strongest isolation this machine allows.

Levels, strongest first (``detect()`` picks one once per grading run):

``namespaces+user``  (the grader runs as root, ``unshare`` and ``setpriv`` exist: CI, Gradescope)
    new mount, network and PID namespaces; the kit, the output folder and ``/root`` are covered
    by empty tmpfs mounts; the interpreter and numpy are bind-mounted read-only into the job
    folder; student code runs as the unprivileged user ``nobody`` (uid 65534); no network; when
    the worker is killed the kernel kills every process it started.
``namespaces``  (not root, unprivileged user namespaces allowed: most Linux desktops)
    the same namespaces inside a user namespace; student code keeps the instructor's uid
    outside it, but the kit, the output folder and the home folder are covered.
``process-group``  (anything else: macOS, containers without user namespaces)
    a new session and resource limits only; student code runs as the instructor's user and
    could read what the instructor can. Reports say so.

Resource limits (CPU seconds, address space, file size, open files, no core dumps; process
count under its own uid) apply at every level.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy

from ..paths import KIT_ROOT

NOBODY = 65534

LEVEL_TEXT = {
    "namespaces+user": "separate user (nobody), no network, own PID and mount namespaces; "
    "kit and results hidden",
    "namespaces": "no network, own PID and mount namespaces; kit and results hidden",
    "process-group": "WEAKER ISOLATION: resource limits only; student code ran as the grader's "
    "user and could read what that user can (no user namespaces on this machine)",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process (the defaults suit the hidden suite)."""

    call_timeout: float = 10.0  # wall-clock seconds per graded call
    import_timeout: float = 20.0  # wall-clock seconds to import the student's modules
    submission_timeout: float = 600.0  # wall-clock seconds for all of one submission's calls
    cpu_seconds: int = 300  # CPU seconds per worker process
    memory_mb: int = 1536  # address space per worker process
    file_mb: int = 64  # largest file a worker may write
    processes: int = 64  # processes under the worker's uid (enforced when it has its own uid)
    max_timeouts_per_item: int = 2  # after this many, an item's remaining cases are skipped


@dataclass(frozen=True)
class Isolation:
    level: str
    unshare: str | None = None
    setpriv: str | None = None
    hide: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return LEVEL_TEXT[self.level]

    @property
    def own_uid(self) -> bool:
        return self.level == "namespaces+user"


def _runs(cmd: list[str]) -> bool:
    try:
        return (
            subprocess.run(
                cmd, capture_output=True, timeout=10, stdin=subprocess.DEVNULL
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


@cache
def detect(force: str | None = None) -> Isolation:
    """The strongest level available here (``force`` picks a weaker one, e.g. for tests)."""
    force = force or os.environ.get("CNN_GRADE_ISOLATION") or None
    unshare = shutil.which("unshare")
    setpriv = shutil.which("setpriv")
    if sys.platform.startswith("linux") and unshare and force != "process-group":
        base = [unshare, "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
        if os.geteuid() == 0 and setpriv and force in (None, "namespaces+user"):
            if _runs(
                [*base, setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "true"]
            ):
                return Isolation("namespaces+user", unshare, setpriv)
        if force in (None, "namespaces"):
            user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
            if _runs([base[0], *user, *base[1:], "true"]):
                return Isolation("namespaces", unshare)
    return Isolation("process-group")


def interpreter_mounts() -> tuple[list[tuple[str, str]], str, list[str]]:
    """(bind mounts source -> name, interpreter path relative to a mount, site dirs)."""
    base = os.path.realpath(sys.base_prefix)
    exe = os.path.realpath(sys.executable)
    site = str(Path(numpy.__file__).resolve().parent.parent)
    mounts = [(base, "base")]
    if not exe.startswith(base + os.sep):
        mounts.append((os.path.dirname(exe), "bin"))
        exe_rel = os.path.join("bin", os.path.basename(exe))
    else:
        exe_rel = os.path.join("base", os.path.relpath(exe, base))
    if site.startswith(base + os.sep):
        sites = [os.path.join("base", os.path.relpath(site, base))]
    else:
        mounts.append((site, "site"))
        sites = ["site"]
    return mounts, exe_rel, sites


def command(
    iso: Isolation, job: Path, worker_args: list[str], hide: list[Path]
) -> tuple[list[str], list[str]]:
    """The argv that starts the worker in ``job``, and the site dirs the worker must add.

    ``hide`` are folders covered by an empty tmpfs inside the namespace (the kit, the output).
    """
    if iso.level == "process-group":
        site = str(Path(numpy.__file__).resolve().parent.parent)
        return [sys.executable, "-I", "-S", "-B", *worker_args], [site]
    mounts, exe_rel, sites = interpreter_mounts()
    ro = job / "ro"
    script = ["set -e", "mount --make-rprivate /"]
    for source, name in mounts:
        (ro / name).mkdir(parents=True, exist_ok=True)
        script.append(f"mount --bind {shlex.quote(source)} {shlex.quote(str(ro / name))}")
        script.append(f"mount -o remount,bind,ro {shlex.quote(str(ro / name))}")
    home = os.path.expanduser("~")
    covered = [str(KIT_ROOT), *map(str, hide)]
    if home not in ("/", ""):
        covered.append(home)
    for path in dict.fromkeys(covered):
        if os.path.isdir(path) and not str(job).startswith(path.rstrip("/") + "/"):
            script.append(f"mount -t tmpfs -o size=64k,mode=0755 tmpfs {shlex.quote(path)}")
    python = [str(ro / exe_rel), "-I", "-S", "-B", *worker_args]
    if iso.own_uid:
        python = [
            iso.setpriv,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--no-new-privs",
            *python,
        ]
    script.append("exec " + shlex.join(python))
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    argv = [
        iso.unshare,
        *user,
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "/bin/sh",
        "-c",
        "\n".join(script),
    ]
    return argv, [str(ro / s) for s in sites]


def preexec(limits: Limits, own_uid: bool):
    """A ``preexec_fn`` that applies the resource limits in the child before it starts."""

    def apply() -> None:
        os.setsid()
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        if own_uid:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply
