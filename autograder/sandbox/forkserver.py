"""The fork server: a clean interpreter, numpy and the worker preloaded, forking isolated workers.

Run by the grader (``forked.py``) as ``python -I -S -B forkserver.py SOCK NUMPY_SITE WORKER_PY``
with a clean environment (no secret, nothing of the grader's memory: a fresh interpreter, not a
fork of the grader). It imports nothing from the kit and never runs student code: it reads
requests from the grader on SOCK (a SOCK_SEQPACKET socket: one JSON request and its file
descriptors per message) and forks, for each, a fresh child that isolates itself with system
calls only, no program started:

``C1`` (root, trusted): closes every descriptor but the request's, dies with the server
    (parent-death signal), unshares mount, network, PID, IPC and UTS namespaces, makes every
    mount private, covers the kit, the output, the submissions, home and every package folder
    with empty tmpfs (the interpreter's own tree and a numpy-only view stay, at their paths),
    makes the whole tree read-only (``mount_setattr``), gives ``/tmp`` & co. private
    size-limited tmpfs, binds the job folder read-only at ``JOB_INSIDE``, forks ``init``, and
    sends the grader a pidfd of it on the control socket. It then waits for ``init`` or for
    the grader (a message or EOF on the control socket: the grader asked for a kill or died)
    and SIGKILLs ``init``; once ``init`` is reaped (the kernel has then killed and reaped every
    process of the namespace) it sends ``X <status>`` and exits.
``init`` (PID 1 of the namespace, root, trusted): dies with C1, mounts a fresh ``/proc``, forks
    the worker, reaps every orphan, and exits with the worker's status (``128 + n`` for a
    signal), which makes the kernel kill whatever is left in the namespace.
``worker`` (PID 2): resource limits, no capabilities (bounding set dropped), the slot's uid and
    gid, no other groups, no new privileges, parent-death signal, a fresh numpy random state,
    then ``worker.main()``: Landlock, the student's imports, the calls (same protocol as the
    exec'd worker).

Nothing one student can influence reaches the server: a child's memory is a copy (copy on
write), it holds no descriptor of the server's, it runs as another uid in another PID
namespace, and the server's state is only what the grader sent (paths, limits, a uid).
"""

import ctypes
import gc
import importlib.util
import json
import os
import resource
import signal
import socket
import sys

JOB_INSIDE = "/tmp/cnn-job"
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
SYS_PIDFD_OPEN = 434

PRELOAD = ("numpy.random", "numpy.fft", "numpy.linalg", "numpy.lib.stride_tricks")
worker = None  # the worker module (loaded once, in the server)


class SetupError(Exception):
    pass


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def read_only_everywhere():
    """Every mount of this (private) namespace read-only, recursively, in one system call."""

    class MountAttr(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in ("set", "clr", "prop", "userns")]

    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        b"/",
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if ret == 0:
        return
    with open("/proc/self/mountinfo", "rb") as f:  # older kernels: one remount per mount
        points = [line.split()[4].decode("unicode_escape") for line in f]
    for point in points:
        if point.startswith("/proc"):
            continue
        _libc.mount(None, point.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)


def _hold(path):
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _bind_held(fd, target):
    os.makedirs(target, exist_ok=True)
    mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)


def isolate(req):
    """C1's mounts (in its fresh mount namespace, as root)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    job_fd = _hold(req["job"])  # opened in this namespace (a bind source must be in it)
    keep = req["keep"]  # trees that stay visible at their own path under a cover
    held = {path: _hold(path) for path in keep if os.path.isdir(path)}
    numpy_dirs = {p: _hold(p) for p in req["numpy_dirs"] if os.path.isdir(p)}
    for path in req["cover"]:  # outermost first
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    for path, fd in held.items():
        if any(path.startswith(c + "/") for c in req["cover"]):
            _bind_held(fd, path)
    for path in req["package_dirs"]:  # inside the kept trees: a numpy-only view
        if os.path.isdir(path) and any(path.startswith(k + "/") for k in held):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=16k,mode=0755")
    for path, fd in numpy_dirs.items():
        _bind_held(fd, path)
    for fd in [*held.values(), *numpy_dirs.values()]:
        os.close(fd)
    read_only_everywhere()
    for path, size in req["private_tmp"].items():
        if os.path.isdir(path) and not os.path.islink(path):
            opts = f"size={size},nr_inodes=4k,mode=1777"
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    os.makedirs(JOB_INSIDE, exist_ok=True)
    mount(f"/proc/self/fd/{job_fd}", JOB_INSIDE, None, MS_BIND | MS_REC)
    mount(None, JOB_INSIDE, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.close(job_fd)


def die_with_parent(expected_parent):
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:  # the parent died before the line above
        os._exit(70)


def run_worker(req, fds):
    """PID 2: limits, the slot's uid, then the worker's main (never returns)."""
    status_fd, inputs_fd, log_fd = fds["status"], fds["inputs"], fds["log"]
    os.setsid()
    os.chdir(JOB_INSIDE)
    lim, mb = req["limits"], 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_seconds"], lim["cpu_seconds"] + 5))
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory_mb"] * mb, lim["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_mb"] * mb, lim["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if cap < 30:
        raise SetupError("could not drop the capability bounding set")
    uid = int(req["uid"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise SetupError("could not switch to the worker uid")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by the uid switch
    if os.getppid() != 1:  # init died before the line above
        os._exit(70)
    os.environ.clear()
    os.environ.update(req["env"])
    os.environ["HOME"] = JOB_INSIDE
    worker.np.random.seed()  # the server's global random state is not shared
    start = int(req["start"])
    sys.argv = ["worker.py", JOB_INSIDE, str(start), str(status_fd), str(inputs_fd)]
    worker.JOB, worker.START = JOB_INSIDE, start
    worker._status, worker._inputs_fd = status_fd, inputs_fd
    os.close(log_fd)
    gc.enable()  # student code runs with the collector on, as in any interpreter
    worker.main()
    os._exit(0)


def run_init(req, fds):
    """PID 1 of the namespace: /proc, the worker as its child, every orphan reaped."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            run_worker(req, fds)
        except BaseException as exc:  # noqa: BLE001 - the grader reads the log
            os.write(2, f"sandbox: the worker could not be set up ({exc})\n".encode())
        os._exit(71)
    for fd in (fds["status"], fds["inputs"]):
        os.close(fd)
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(72)
        if got == pid:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def run_c1(req, fds, server_pid):
    """The trusted launcher of one worker (never returns)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    die_with_parent(server_pid)
    keep = set(fds.values())
    for fd in os.listdir("/proc/self/fd"):
        if fd.isdigit() and int(fd) not in keep and int(fd) > 2:
            try:
                os.close(int(fd))
            except OSError:
                pass
    ctl = socket.socket(fileno=fds["ctl"])
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds["log"], 1)
    os.dup2(fds["log"], 2)
    os.close(devnull)
    _check(
        _libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS),
        "unshare",
    )
    isolate(req)
    life_r, life_w = os.pipe()  # EOF on it: C1 is gone (init's parent is outside its namespace)
    pid = os.fork()
    if pid == 0:
        try:
            ctl.close()
            os.close(life_w)
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            import select

            if select.select([life_r], [], [], 0)[0]:  # C1 died before the line above
                os._exit(70)
            os.close(life_r)
            run_init(req, fds)
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"sandbox: the namespace could not be set up ({exc})\n".encode())
        os._exit(73)
    os.close(life_r)
    for name in ("status", "inputs", "log"):
        os.close(fds[name])
    pidfd = _libc.syscall(ctypes.c_long(SYS_PIDFD_OPEN), ctypes.c_int(pid), ctypes.c_uint(0))
    if pidfd >= 0:
        socket.send_fds(ctl, [b"P"], [pidfd])
    import select

    waiting = [ctl] if pidfd < 0 else [ctl, pidfd]
    while True:
        ready, _, _ = select.select(waiting, [], [], None if pidfd >= 0 else 0.05)
        if ctl in ready:  # a kill request, or the grader is gone
            os.kill(pid, signal.SIGKILL)  # our own unreaped child: no pid reuse
            got, status = os.waitpid(pid, 0)
            break
        got, status = os.waitpid(pid, 0 if pidfd in ready else os.WNOHANG)
        if got == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    try:
        ctl.sendall(f"X {code}\n".encode())
    except OSError:
        pass
    os._exit(0)


def handle(sock, server_pid):
    msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 8)
    if not msg:
        return False
    try:
        req = json.loads(msg)
        names = ("status", "inputs", "log", "ctl")
        if len(fds) != len(names):
            raise SetupError("a request needs four descriptors")
        fdmap = dict(zip(names, fds, strict=True))
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                run_c1(req, fdmap, server_pid)
            except BaseException as exc:  # noqa: BLE001
                try:
                    os.write(
                        fdmap["log"], f"sandbox: could not isolate the worker ({exc})\n".encode()
                    )
                except OSError:
                    pass
            os._exit(74)
        sock.send(json.dumps({"pid": pid}).encode())
    except (SetupError, ValueError, OSError) as exc:
        sock.send(json.dumps({"error": str(exc)}).encode())
    finally:
        for fd in fds:
            os.close(fd)
    return True


def main():
    global worker
    # Preloading makes long-lived objects only: no collections while it runs (they cost every
    # cold run a few tens of ms), then all of it frozen, so that no child's collector touches
    # (and copies) the server's pages. The worker turns the collector back on (run_worker).
    gc.disable()
    sock_fd, site, worker_py = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sys.path.append(site)
    spec = importlib.util.spec_from_file_location("cnn_sandbox_worker", worker_py)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    for name in PRELOAD:  # what a worker imports lazily anyway (its $rng arguments, ...)
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # C1s are reaped by the kernel
    gc.freeze()  # fewer copied pages in every child
    sock.send(b"ready")
    me = os.getpid()
    while handle(sock, me):
        pass
    os._exit(0)  # the grader closed the socket or died: the C1s follow (parent-death signal)


if __name__ == "__main__":
    main()
