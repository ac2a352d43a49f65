"""How a sandbox worker is started: the strongest isolation this machine allows.

Levels, strongest first (``detect()`` picks one once per grading run):

``namespaces+user``  (the grader runs as root, ``unshare`` and ``setpriv`` exist: CI, Gradescope)
    new mount, network, PID, IPC and UTS namespaces; every mount read-only; the kit, the
    output folder, the submissions, ``/root`` and every package folder (site-packages,
    dist-packages, PYTHONPATH) are covered by empty tmpfs mounts; ``/tmp``, ``/var/tmp``,
    ``/dev/shm`` and ``/run/lock`` are fresh, size-limited tmpfs mounts private to the worker
    (nothing written there outlives it); the job folder is bind-mounted read-only at
    ``JOB_INSIDE``, the interpreter and a numpy-only package view read-only into it; student
    code runs without capabilities as a uid of its own (``slots.lease``), no network. PID 1
    of the namespace is a trusted shell whose death (the grader's or ``unshare``'s death, or
    a kill) makes the kernel kill every process in the namespace.
``namespaces``  (not root, unprivileged user namespaces allowed: most Linux desktops)
    the same inside a user namespace; student code keeps the instructor's uid outside it
    (without capabilities, on read-only mounts), and its process limit counts only the
    namespace's processes.
``user``  (the grader runs as root but namespaces are refused: e.g. a container whose seccomp
    profile blocks ``unshare``)
    student code runs as a uid of its own through ``setpriv`` (when the interpreter is
    reachable by other users), with the limits; every process of that uid is killed with the
    worker (``slots.kill_uid``).
``process-group``  (anything else: macOS, containers without user namespaces)
    a new session and resource limits; student code runs as the instructor's user. Every
    process it starts is tracked (a token in its environment, its session, and the grader as
    child subreaper) and killed with the worker (``reap.py``). Reports say "weaker isolation".

At every level, when the kernel offers Landlock (Linux >= 5.13; ``landlock_abi()``), the worker
restricts itself before importing student code: read access only to the standard library,
numpy and its own job folder, no write access, no ``execve``, no TCP (ABI >= 4),
no signals or abstract sockets outside itself (ABI >= 6). At the ``process-group`` level this
is what keeps the kit, ``~`` and the shared temp folders out of reach.

Resource limits (CPU seconds, address space, file size, open files, no core dumps; process
count) apply at every level.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..paths import KIT_ROOT, PACKAGE_DIR

NOBODY = 65534
# Past every lease domain's uids (slots.py: UID_BASE + DOMAINS * UID_COUNT).
PROBE_UID = int(os.environ.get("CNN_GRADE_UID_BASE", "2100000000")) + 64 * 4096
JOB_INSIDE = "/tmp/cnn-job"  # where the job folder appears inside the namespaces
# Shared, world-writable folders that get a private, size-limited tmpfs inside the namespaces.
PRIVATE_TMP = {"/tmp": "32m", "/var/tmp": "8m", "/dev/shm": "8m", "/run/lock": "1m"}
TOKEN_ENV = "CNN_SANDBOX_TOKEN"  # every worker's environment carries a per-worker token

LEVEL_TEXT = {
    "namespaces+user": "a user of its own, no network, own PID and mount namespaces; "
    "kit and results hidden",
    "namespaces": "no network, own PID and mount namespaces; kit and results hidden",
    "user": "a user of its own, resource limits; no namespaces on this machine",
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
    output_mb: int = 64  # all the answers of one submission together (read under this bound)
    answer_mb: int = 4  # one call's answer
    processes: int = 64  # processes under the worker's uid (enforced when it has its own uid)
    max_timeouts_per_item: int = 2  # after this many, an item's remaining cases are skipped
    training_timeout: float = 120.0  # wall-clock seconds for part 2's whole outcome training run


@dataclass(frozen=True)
class Isolation:
    level: str
    unshare: str | None = None
    setpriv: str | None = None
    hide: tuple[str, ...] = field(default_factory=tuple)
    landlock: int = 0  # the kernel's Landlock ABI version (0: none)
    seccomp: bool = False  # the worker installs its seccomp filter (x86_64 Linux with seccomp)

    @property
    def text(self) -> str:
        text = LEVEL_TEXT[self.level]
        if self.landlock:
            text += f"; Landlock (ABI {self.landlock}) limits files and network"
        if self.seccomp:
            text += "; a seccomp filter refuses new namespaces, mounts, ptrace, keyrings and bpf"
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


def seccomp_available() -> bool:
    """Whether the worker's seccomp filter applies here (x86_64 Linux with filter support)."""
    if not sys.platform.startswith("linux") or os.environ.get("CNN_GRADE_SECCOMP") == "0":
        return False
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as f:
            actions = f.read().split()
    except OSError:
        return False
    return {"kill_process", "errno", "allow"} <= set(actions)


def _filters() -> dict:
    return {"landlock": landlock_abi(), "seccomp": seccomp_available()}


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
            if _runs([*base, *_as_user(setpriv, PROBE_UID), "true"]):
                return Isolation("namespaces+user", unshare, setpriv, **_filters())
        if force in (None, "namespaces"):
            user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
            if _runs([base[0], *user, *base[1:], "true"]):
                return Isolation("namespaces", unshare, setpriv, **_filters())
    if os.geteuid() == 0 and setpriv and force in (None, "user") and nobody_can_run(setpriv):
        return Isolation("user", setpriv=setpriv, **_filters())
    return Isolation("process-group", **_filters())


@cache
def _numpy_file() -> str:
    """numpy's ``__init__.py``, found without importing numpy (``grade --help`` stays light)."""
    spec = importlib.util.find_spec("numpy")
    if spec is None or spec.origin is None:
        raise ImportError("numpy is not installed")
    return spec.origin


def nobody_can_run(setpriv: str) -> bool:
    """Whether another user can start this interpreter and import numpy (not from ``/root``).

    Probed as a uid past the workers' range, never as the shared ``nobody`` (whose process
    limit other processes on the machine may have used up)."""
    site = str(Path(_numpy_file()).resolve().parent.parent)
    probe = f"import sys; sys.path.append({site!r}); import numpy"
    return _runs([*_as_nobody(setpriv), sys.executable, "-I", "-S", "-c", probe])


def _as_nobody(setpriv: str) -> list[str]:
    return _as_user(setpriv, PROBE_UID)


def _as_user(setpriv: str | None, uid: int | None) -> list[str]:
    """setpriv's arguments that switch to ``uid`` (its own group, no others, no new privs)."""
    uid = NOBODY if uid is None else uid
    return [str(setpriv), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]


def interpreter_mounts() -> tuple[list[tuple[str, str]], str, list[str]]:
    """(bind mounts source -> name, interpreter path relative to a mount, site dirs).

    Only the interpreter's own tree and numpy (with its bundled libraries) are mounted: the
    site dir inside is a view ``np/`` holding nothing but ``numpy`` and ``numpy.libs``.
    """
    base = os.path.realpath(sys.base_prefix)
    exe = os.path.realpath(sys.executable)
    numpy_dir = str(Path(_numpy_file()).resolve().parent)
    mounts = [(base, "base")]
    if not exe.startswith(base + os.sep):
        mounts.append((os.path.dirname(exe), "bin"))
        exe_rel = os.path.join("bin", os.path.basename(exe))
    else:
        exe_rel = os.path.join("base", os.path.relpath(exe, base))
    mounts.append((numpy_dir, "np/numpy"))
    if os.path.isdir(numpy_dir + ".libs"):
        mounts.append((numpy_dir + ".libs", "np/numpy.libs"))
    return mounts, exe_rel, ["np"]


@cache
def package_dirs() -> list[str]:
    """Every folder of installed packages this interpreter knows (site-packages, dist-packages,
    PYTHONPATH entries, .pth additions): covered inside the namespaces, so TensorFlow and
    everything else the instructor installed is absent, not just banned."""
    import site
    import sysconfig

    std = {
        os.path.realpath(p) for k in ("stdlib", "platstdlib") if (p := sysconfig.get_paths().get(k))
    }
    found = []
    extra = [*site.getsitepackages(), site.getusersitepackages()]
    for entry in [*sys.path, *extra]:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if real in std or (real.startswith(tuple(s + os.sep for s in std)) and not _is_site(real)):
            continue  # the standard library and lib-dynload stay
        if real.count(os.sep) < 2:
            continue  # never "/" or "/usr"
        found.append(real)
    # The interpreter's own tree and the usual system-wide places of other Pythons.
    roots = [os.path.realpath(sys.base_prefix), "/usr", "/usr/local"]
    for root in roots:
        for lib in ("lib", "lib64", "local/lib"):
            for sub in _listdir(os.path.join(root, lib)):
                if not sub.startswith("python"):
                    continue
                for name in ("site-packages", "dist-packages"):
                    path = os.path.join(root, lib, sub, name)
                    if os.path.isdir(path):
                        found.append(os.path.realpath(path))
    return list(dict.fromkeys(found))


def _is_site(path: str) -> bool:
    return os.path.basename(path) in ("site-packages", "dist-packages")


def command(
    iso: Isolation,
    job: Path,
    worker_args: list[str],
    hide: list[Path],
    keep_fds: tuple[int, ...] = (),
    uid: int | None = None,
) -> tuple[list[str], list[str], str]:
    """The argv that starts the worker, the site dirs it must add, and its job folder path.

    ``worker_args`` may contain ``{job}``, replaced by the job folder as the worker sees it
    (``JOB_INSIDE`` inside the namespaces). ``hide`` are folders covered by an empty tmpfs
    inside the namespace (the kit, the output, the submissions). ``keep_fds`` are descriptors
    the worker inherits (the shell must not reuse their numbers). ``uid`` is the worker's own
    uid (from :mod:`slots`) at the levels that switch user.

    With namespaces, ``/bin/sh`` is PID 1 of the new PID namespace: it mounts, then runs the
    worker as its child and waits. It is trusted, keeps its credentials, and carries
    ``unshare --kill-child``'s parent-death signal; ``unshare`` carries the grader's. So when
    the grader or ``unshare`` dies, or the grader kills ``unshare``, the namespace's init
    dies and the kernel kills every process in the namespace, whatever they did.
    """
    # No capabilities left (inside a user namespace root could otherwise undo the mounts).
    drop = [iso.setpriv, "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
    if not iso.setpriv:
        drop = []
    if not iso.namespaces:
        site = str(Path(_numpy_file()).resolve().parent.parent)
        args = [a.replace("{job}", str(job)) for a in worker_args]
        python = [sys.executable, "-I", "-S", "-B", *args]
        if iso.level == "user":
            python = [*_as_user(iso.setpriv, uid), *python]
        return python, [site], str(job)
    mounts, exe_rel, sites = interpreter_mounts()
    ro = job / "ro"
    q = shlex.quote
    script = ["set -e", "mount --make-rprivate /"]
    # Every mount read-only first (the worker writes nowhere but its private temp folders).
    script.append(
        "for m in $(awk '{print $5}' /proc/self/mountinfo); do case $m in "
        '/proc*|/sys*|/dev*) ;; *) mount -o remount,bind,ro "$(printf \'%b\' "$m")" '
        "2>/dev/null || true;; esac; done"
    )
    for source, name in mounts:
        (ro / name).mkdir(parents=True, exist_ok=True)
        script.append(f"mount --bind {q(source)} {q(str(ro / name))}")
        script.append(f"mount -o remount,bind,ro {q(str(ro / name))}")
    packages = list(package_dirs())
    for source, name in mounts:  # the package folders inside the interpreter's own tree
        for path in packages:
            if path.startswith(os.path.realpath(source) + os.sep):
                inner_path = ro / name / os.path.relpath(path, os.path.realpath(source))
                script.append(f"mount -t tmpfs -o size=4k,mode=0555,ro tmpfs {q(str(inner_path))}")
    # Keep a handle on the job folder (it may live under /tmp), give the shared temp folders
    # private tmpfs mounts, then put the job folder back at a fixed path, read-only.
    hold = next(n for n in (9, 8, 7, 6, 5) if n not in keep_fds)
    script.append(f"exec {hold}<{q(str(job))}")
    for path, size in PRIVATE_TMP.items():
        if os.path.isdir(path) and not os.path.islink(path):
            script.append(
                f"mount -t tmpfs -o size={size},nr_inodes=4k,mode=1777,nosuid,nodev tmpfs {q(path)}"
            )
    script.append(f"mkdir -p {q(JOB_INSIDE)}")
    script.append(f"mount --rbind /proc/self/fd/{hold} {q(JOB_INSIDE)}")
    script.append(f"mount -o remount,bind,ro {q(JOB_INSIDE)}")
    # The working folder too: the one inherited is the job folder on the host's mount (/dev/shm
    # or /tmp, left writable under the private tmpfs), which a rootless worker could fill.
    script.append(f"cd {q(JOB_INSIDE)}")
    script.append(f"exec {hold}<&-")
    covered = hidden_folders(job, hide, packages)
    keep = [os.path.realpath(sys.base_prefix), os.path.realpath(sys.executable)]
    for path in dict.fromkeys(covered):
        if any(_under(path, t) for t in PRIVATE_TMP) or any(
            _under(path, c) and path != c for c in covered
        ):
            continue  # already behind a fresh tmpfs
        if any(_under(k, path) for k in keep) and not _is_site(path):
            continue  # would hide what the worker needs
        if os.path.isdir(path):
            script.append(f"mount -t tmpfs -o size=64k,mode=0755,ro tmpfs {q(path)}")
    inner = Path(JOB_INSIDE)
    args = [a.replace("{job}", JOB_INSIDE) for a in worker_args]
    python = [str(inner / "ro" / exe_rel), "-I", "-S", "-B", *args]
    if iso.own_uid:
        drop += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    python = [*drop, *python]
    libdir = os.path.join(os.path.realpath(sys.base_prefix), "lib")
    if any(n.startswith("libpython") for n in _listdir(libdir)):
        # An interpreter built with a shared libpython (pyenv's) finds it through its old path,
        # which may now be covered (e.g. /root): point the loader at the read-only mount.
        script.append(f"export LD_LIBRARY_PATH={q(str(inner / 'ro' / 'base' / 'lib'))}")
    # Not exec: this shell stays PID 1 (trusted) and the worker is its child.
    script += ["set +e", shlex.join(python), "exit $?"]
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


def hidden_folders(job: Path, hide: list[Path], packages: list[str]) -> list[str]:
    """The folders a worker must not see (real paths), for both launch routes: the kit, the
    output and submissions (``hide``), the package folders given, home, and the scratch base,
    which holds the other workers' job folders (other students' code and inputs) when it is
    not under a private temp folder (the own job is at ``JOB_INSIDE``)."""
    home = os.path.expanduser("~")
    scratch_base = str(job.parent.parent) if job.parent.name.startswith("run-") else ""
    folders = [
        str(KIT_ROOT),
        str(PACKAGE_DIR),
        *map(str, hide),
        *packages,
        *([scratch_base] if scratch_base else []),
        *([home] if home not in ("/", "") else []),
    ]
    return [os.path.realpath(p) for p in folders]


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


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel kills this child when the grader's thread dies."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


def preexec(limits: Limits, own_uid: bool, nproc: int | None = None):
    """A ``preexec_fn`` that applies the resource limits in the child before it starts.

    ``nproc``: a process limit for a worker sharing the grader's uid (its current process
    count plus the allowance), so a fork bomb stops there.
    """

    def apply() -> None:
        os.setsid()
        _die_with_parent()
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
