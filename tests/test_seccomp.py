"""The worker's seccomp filter: new namespaces, mounts, keyrings, bpf and io_uring are refused to
student code at every isolation level, while threads, fork and numpy keep working."""

from __future__ import annotations

import dataclasses
import errno

import pytest
from test_sandbox import make_package, run

from autograder.cases import Call
from autograder.sandbox import worker
from autograder.sandbox.isolation import detect, seccomp_available

pytestmark = pytest.mark.skipif(not seccomp_available(), reason="needs x86_64 Linux seccomp")

PROBES = """
import ctypes, os, threading
import numpy as np
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def _errno(result):
    return 0 if result == 0 else ctypes.get_errno()

def userns():
    return _errno(libc.unshare(0x10000000))
def mountns():
    return _errno(libc.unshare(0x00020000))
def clone_userns():
    # raw clone(CLONE_NEWUSER | SIGCHLD): a child that exits at once if it is ever created
    pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
        return 0
    return ctypes.get_errno()
def clone3():
    return _errno(libc.syscall(435, 0, 0))
def mount():
    return _errno(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
def keyctl():
    return _errno(libc.syscall(250, 0, 0, 0, 0, 0))
def bpf():
    return _errno(libc.syscall(321, 0, 0, 0))
def io_uring():
    return _errno(libc.syscall(425, 1, 0))
def x32_getpid():
    return _errno(libc.syscall(0x40000027))  # getpid through the x32 ABI
def threads_fork_numpy():
    out = []
    t = threading.Thread(target=lambda: out.append(float(np.ones((64, 64)).dot(np.ones(64))[0])))
    t.start(); t.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return out, os.waitpid(pid, 0)[1] >> 8, os.getpid() > 0
"""
REFUSED = ("userns", "mountns", "clone_userns", "mount", "keyctl", "bpf", "io_uring", "x32_getpid")


def _probe(tmp_path, iso):
    pkg = make_package(tmp_path, conv=PROBES)
    names = (*REFUSED, "clone3", "threads_fork_numpy")
    report = run(pkg, [Call("call", f"conv.{n}") for n in names], isolation=iso)
    return dict(zip(names, (o.value for o in report.outcomes), strict=True))


@pytest.mark.parametrize("level", [None, "process-group"])
def test_kernel_interfaces_are_refused_but_threads_fork_and_numpy_work(tmp_path, level):
    iso = detect(level)
    assert iso.seccomp and "seccomp" in iso.text
    got = _probe(tmp_path, iso)
    for name in REFUSED:
        assert got[name] == errno.EPERM, f"{name}: {got[name]} (expected EPERM)"
    assert got["clone3"] == errno.ENOSYS  # so that glibc falls back to clone, which is filtered
    assert got["threads_fork_numpy"] == ([64.0], 7, True)


def test_without_the_filter_a_user_namespace_is_created(tmp_path):
    """The probe bites: with the filter off, the same call succeeds where the kernel allows it."""
    iso = dataclasses.replace(detect(), seccomp=False)
    got = _probe(tmp_path, iso)
    if got["userns"] != 0:
        pytest.skip(f"this kernel refuses nested user namespaces anyway (errno {got['userns']})")
    assert got["userns"] == 0 and got["clone3"] != errno.ENOSYS


def test_every_jump_of_the_filter_lands_inside_it_on_a_return():
    prog = worker.seccomp_program()
    assert len(prog) < 256
    for pc, (code, jt, jf, _k) in enumerate(prog):
        if code & 0x07 == 0x05:  # BPF_JMP
            for target in (pc + 1 + jt, pc + 1 + jf):
                assert target < len(prog)
    assert prog[-1][0] == 0x06 and all(
        prog[pc + 1 + jt][0] in (0x06, 0x20) for pc, (c, jt, _f, _k) in enumerate(prog) if c == 0x15
    )
    refused = {k for code, _t, _f, k in prog if code == 0x15}
    assert {101, 165, 250, 308, 321, 425} <= refused
