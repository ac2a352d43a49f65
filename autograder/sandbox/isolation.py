"""How a sandbox worker is started: the strongest isolation this machine allows.

Levels, strongest first (``detect()`` picks one once per grading run):

``namespaces+user``  (the grader runs as root, ``unshare`` and ``setpriv`` exist: CI, Gradescope)
    new mount, network, PID, IPC and UTS namespaces; the kit, the output folder, the
    submissions and ``/root`` are covered by empty tmpfs mounts; ``/tmp``, ``/var/tmp``,
    ``/dev/shm`` and ``/run/lock`` are fresh, size-limited tmpfs mounts private to the worker
    (nothing written there outlives it); the job folder is bind-mounted at ``JOB_INSIDE`` and
    the interpreter and numpy read-only into it; student code runs as the unprivileged user
    ``nobody`` (uid 65534); no network; when the worker is killed the kernel kills every
    process it started.
``namespaces``  (not root, unprivileged user namespaces allowed: most Linux desktops)
    the same namespaces inside a user namespace; student code keeps the instructor's uid
    outside it, but the kit, the output folder, the home folder and the shared temp folders
    are covered.
``user``  (the grader runs as root but namespaces are refused: e.g. a container whose seccomp
    profile blocks ``unshare``)
    student code runs as ``nobody`` through ``setpriv`` (when the interpreter is reachable by
    that user), with the limits and the process tracking of ``process-group`` below.
``process-group``  (anything else: macOS, containers without user namespaces)
    a new session and resource limits; student code runs as the instructor's user. Every
    process it starts is tracked (a token in its environment, its session, and the grader as
    child subreaper) and killed with the worker. Reports say "weaker isolation".

At every level, when the kernel offers Landlock (Linux >= 5.13; ``landlock_abi()``), the worker
restricts itself before importing student code: read access only to the standard library,
numpy and its own job folder, write access only to ``out/``, no ``execve``, no TCP (ABI >= 4),
no signals or abstract sockets outside itself (ABI >= 6). At the ``process-group`` level this
is what keeps the kit, ``~`` and the shared temp folders out of reach.

Resource limits (CPU seconds, address space, file size, open files, no core dumps; process
count) apply at every level.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy

from ..paths import KIT_ROOT, PACKAGE_DIR

NOBODY = 65534
JOB_INSIDE = "/tmp/cnn-job"  # where the job folder appears inside the namespaces
# Shared, world-writable folders that get a private, size-limited tmpfs inside the namespaces.
PRIVATE_TMP = {"/tmp": "32m", "/var/tmp": "8m", "/dev/shm": "8m", "/run/lock": "1m"}
TOKEN_ENV = "CNN_SANDBOX_TOKEN"  # every worker's environment carries a per-worker token

LEVEL_TEXT = {
    "namespaces+user": "separate user (nobody), no network, own PID and mount namespaces; "
    "kit and results hidden",
    "namespaces": "no network, own PID and mount namespaces; kit and results hidden",
    "user": "separate user (nobody), resource limits; no namespaces on this machine",
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
    output_mb: int = 256  # all files in a worker's answer folder (checked 4 times a second)
    processes: int = 64  # processes under the worker's uid (enforced when it has its own uid)
    max_timeouts_per_item: int = 2  # after this many, an item's remaining cases are skipped


@dataclass(frozen=True)
class Isolation:
    level: str
    unshare: str | None = None
    setpriv: str | None = None
    hide: tuple[str, ...] = field(default_factory=tuple)
    landlock: int = 0  # the kernel's Landlock ABI version (0: none)

    @property
    def text(self) -> str:
        text = LEVEL_TEXT[self.level]
        if self.landlock:
            text += f"; Landlock (ABI {self.landlock}) limits files and network"
        return text

    @property
    def own_uid(self) -> bool:
        return self.level in ("namespaces+user", "user")

    @property
    def namespaces(self) -> bool:
        return self.level.startswith("namespaces")


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


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    if not sys.platform.startswith("linux") or os.environ.get("CNN_GRADE_LANDLOCK") == "0":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(0, int(abi))


def new_token() -> str:
    return secrets.token_hex(16)


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
                return Isolation("namespaces+user", unshare, setpriv, landlock=landlock_abi())
        if force in (None, "namespaces"):
            user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
            if _runs([base[0], *user, *base[1:], "true"]):
                return Isolation("namespaces", unshare, landlock=landlock_abi())
    if os.geteuid() == 0 and setpriv and force in (None, "user") and nobody_can_run(setpriv):
        return Isolation("user", setpriv=setpriv, landlock=landlock_abi())
    return Isolation("process-group", landlock=landlock_abi())


def nobody_can_run(setpriv: str) -> bool:
    """Whether ``nobody`` can start this interpreter and import numpy (not from ``/root``)."""
    site = str(Path(numpy.__file__).resolve().parent.parent)
    probe = f"import sys; sys.path.append({site!r}); import numpy"
    return _runs([*_as_nobody(setpriv), sys.executable, "-I", "-S", "-c", probe])


def _as_nobody(setpriv: str) -> list[str]:
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs"]


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
    iso: Isolation, job: Path, worker_args: list[str], hide: list[Path], pass_fd: int = -1
) -> tuple[list[str], list[str], str]:
    """The argv that starts the worker, the site dirs it must add, and its job folder path.

    ``worker_args`` may contain ``{job}``, replaced by the job folder as the worker sees it
    (``JOB_INSIDE`` inside the namespaces). ``hide`` are folders covered by an empty tmpfs
    inside the namespace (the kit, the output, the submissions). ``pass_fd`` is a descriptor
    the worker inherits (the shell must not reuse its number).
    """
    if not iso.namespaces:
        site = str(Path(numpy.__file__).resolve().parent.parent)
        args = [a.replace("{job}", str(job)) for a in worker_args]
        python = [sys.executable, "-I", "-S", "-B", *args]
        if iso.level == "user":
            python = [*_as_nobody(iso.setpriv), *python]
        return python, [site], str(job)
    mounts, exe_rel, sites = interpreter_mounts()
    ro = job / "ro"
    q = shlex.quote
    script = ["set -e", "mount --make-rprivate /"]
    for source, name in mounts:
        (ro / name).mkdir(parents=True, exist_ok=True)
        script.append(f"mount --bind {q(source)} {q(str(ro / name))}")
        script.append(f"mount -o remount,bind,ro {q(str(ro / name))}")
        if _under(str(PACKAGE_DIR), source) and str(PACKAGE_DIR) != source:
            # An installed wheel puts the kit next to numpy: cover it in this mount too.
            kit = ro / name / os.path.relpath(PACKAGE_DIR, source)
            script.append(f"mount -t tmpfs -o size=64k,mode=0755 tmpfs {q(str(kit))}")
    # Keep a handle on the job folder (it may live under /tmp), give the shared temp folders
    # private tmpfs mounts, then put the job folder back at a fixed path.
    hold = next(n for n in (9, 8, 7, 6) if n != pass_fd)
    script.append(f"exec {hold}<{q(str(job))}")
    for path, size in PRIVATE_TMP.items():
        if os.path.isdir(path) and not os.path.islink(path):
            script.append(f"mount -t tmpfs -o size={size},mode=1777,nosuid,nodev tmpfs {q(path)}")
    script.append(f"mkdir -p {q(JOB_INSIDE)}")
    script.append(f"mount --rbind /proc/self/fd/{hold} {q(JOB_INSIDE)}")
    script.append(f"exec {hold}<&-")
    home = os.path.expanduser("~")
    covered = [str(KIT_ROOT), str(PACKAGE_DIR), *map(str, hide)]
    if home not in ("/", ""):
        covered.append(home)
    covered = [os.path.realpath(p) for p in covered]
    for path in dict.fromkeys(covered):
        if any(_under(path, t) for t in PRIVATE_TMP) or any(
            _under(path, c) and path != c for c in covered
        ):
            continue  # already behind a fresh tmpfs
        if os.path.isdir(path) and not str(job).startswith(path.rstrip("/") + "/"):
            script.append(f"mount -t tmpfs -o size=64k,mode=0755 tmpfs {q(path)}")
    inner = Path(JOB_INSIDE)
    args = [a.replace("{job}", JOB_INSIDE) for a in worker_args]
    python = [str(inner / "ro" / exe_rel), "-I", "-S", "-B", *args]
    if iso.own_uid:
        python = [*_as_nobody(iso.setpriv), *python]
    libdir = os.path.join(os.path.realpath(sys.base_prefix), "lib")
    if any(n.startswith("libpython") for n in _listdir(libdir)):
        # An interpreter built with a shared libpython (pyenv's) finds it through its old path,
        # which may now be covered (e.g. /root): point the loader at the read-only mount.
        script.append(f"export LD_LIBRARY_PATH={q(str(inner / 'ro' / 'base' / 'lib'))}")
    script.append("exec " + shlex.join(python))
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    argv = [
        iso.unshare,
        *user,
        "--mount",
        "--net",
        "--pid",
        "--ipc",
        "--uts",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "/bin/sh",
        "-c",
        "\n".join(script),
    ]
    return argv, [str(inner / "ro" / s) for s in sites], JOB_INSIDE


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def own_process_count() -> int:
    """Processes (threads excluded) whose real uid is ours, from /proc."""
    uid, count = os.getuid(), 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return 0
    for name in names:
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def preexec(limits: Limits, own_uid: bool, nproc: int | None = None):
    """A ``preexec_fn`` that applies the resource limits in the child before it starts.

    ``nproc``: a process limit for a worker sharing the grader's uid (its current process
    count plus the allowance), so a fork bomb stops there.
    """

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
        elif nproc is not None and os.getuid() != 0:  # root ignores RLIMIT_NPROC anyway
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply
