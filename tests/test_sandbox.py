"""The sandbox runner against small hostile packages: it never raises, never hangs, and only
data comes back."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.cases import Call
from autograder.paths import KIT_ROOT
from autograder.sandbox import runner
from autograder.sandbox.isolation import Limits, detect, landlock_abi
from autograder.sandbox.runner import Unsupported, run_calls
from autograder.sandbox.wire import UNCHANGED, InputBlob, digest

FAST = Limits(call_timeout=2.0, import_timeout=5.0, submission_timeout=60.0, memory_mb=1024)


def make_package(tmp_path: Path, **modules: str) -> Path:
    pkg = tmp_path / "cnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, source in modules.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(source))
    return pkg


def run(pkg: Path, calls: list[Call], mutation: list[bool] | None = None, limits=FAST, **kw):
    modules = tuple(sorted({c.module for c in calls}))
    return run_calls(
        pkg,
        calls,
        [c.target for c in calls],
        mutation or [False] * len(calls),
        limits=limits,
        modules=modules,
        **kw,
    )


def test_values_come_back_as_plain_data(tmp_path):
    pkg = make_package(
        tmp_path,
        shapes="""
        import numpy as np
        def n(a, b=1): return a + b
        def arr(x): return x * 2
        def tup(): return (1, 2)
        def npint(): return np.int64(3)
    """,
    )
    report = run(
        pkg,
        [
            Call("call", "shapes.n", (1,), {"b": 2}),
            Call("call", "shapes.arr", (np.arange(3.0),)),
            Call("call", "shapes.tup"),
            Call("call", "shapes.npint"),
        ],
    )
    values = [o.value for o in report.outcomes]
    assert values[0] == 3 and type(values[0]) is int
    np.testing.assert_array_equal(values[1], [0.0, 2.0, 4.0])
    assert values[2] == (1, 2)
    assert values[3].array == 3
    assert report.worker_starts == 1


def test_a_hang_is_killed_and_grading_goes_on(tmp_path):
    pkg = make_package(
        tmp_path,
        conv="""
        import signal
        def spin():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                pass
        def ok(): return 1
    """,
    )
    started = time.monotonic()
    report = run(pkg, [Call("call", "conv.spin"), Call("call", "conv.ok")])
    assert [o.status for o in report.outcomes] == ["timeout", "ok"]
    assert report.outcomes[1].value == 1
    assert time.monotonic() - started < 15


def test_exit_and_crash_inside_functions(tmp_path):
    pkg = make_package(
        tmp_path,
        conv="""
        import os, sys, ctypes
        def hard(): os._exit(0)
        def soft(): sys.exit(0)
        def segv(): ctypes.string_at(0)
        def ok(): return 2
    """,
    )
    report = run(pkg, [Call("call", f"conv.{n}") for n in ("hard", "soft", "segv", "ok")])
    statuses = [o.status for o in report.outcomes]
    assert statuses == ["crashed", "error", "crashed", "ok"]
    assert report.outcomes[1].exception["type"] == "SystemExit"
    assert "SIGSEGV" in report.outcomes[2].detail


def test_exit_at_import_loses_only_that_module(tmp_path):
    pkg = make_package(tmp_path, conv="import os\nos._exit(1)\n", shapes="def f(): return 5\n")
    report = run(pkg, [Call("call", "conv.f"), Call("call", "shapes.f")])
    assert report.outcomes[0].status == "error"
    assert report.outcomes[1].value == 5
    assert "conv" in report.import_errors


def test_fakes_do_not_cross_the_boundary(tmp_path):
    pkg = make_package(
        tmp_path,
        conv="""
        import numpy as np
        class Yes:
            def __eq__(self, other): return True
        class Sub(np.ndarray): pass
        def fake(): return Yes()
        def sub(): return np.zeros(3).view(Sub)
        def obj(): return np.array([1, None], dtype=object)
    """,
    )
    report = run(pkg, [Call("call", f"conv.{n}") for n in ("fake", "sub", "obj")])
    for outcome in report.outcomes:
        assert isinstance(outcome.value, Unsupported), outcome


def test_inputs_after_the_call_come_back_for_the_mutation_check(tmp_path):
    pkg = make_package(tmp_path, conv="def f(x):\n    x[0] = 9.0\n    return x.copy()\n")
    report = run(pkg, [Call("call", "conv.f", (np.zeros(3),))], mutation=[True])
    (after,) = report.outcomes[0].inputs_after
    assert after != digest(np.zeros(3)) and after == digest(np.array([9.0, 0.0, 0.0]))


def test_frameworks_are_refused_at_run_time(tmp_path):
    pkg = make_package(tmp_path, conv="def f():\n    __import__('tens' + 'orflow')\n")
    report = run(pkg, [Call("call", "conv.f")])
    assert report.outcomes[0].status == "error"
    assert "numpy" in report.outcomes[0].exception["message"]


def test_memory_bomb_is_contained(tmp_path):
    pkg = make_package(
        tmp_path,
        conv="""
        def bomb():
            blocks = []
            while True:
                blocks.append(bytearray(100 * 1024 * 1024))
        def ok(): return 3
    """,
    )
    # Filling 1 GB takes seconds on a loaded machine: a call timeout that never decides it.
    slow = dataclasses.replace(FAST, call_timeout=60.0)
    report = run(pkg, [Call("call", "conv.bomb"), Call("call", "conv.ok")], limits=slow)
    assert report.outcomes[0].status in ("error", "crashed")
    assert report.outcomes[1].value == 3


@pytest.mark.skipif(detect().level == "process-group", reason="needs namespaces")
def test_kit_network_and_leftover_processes_are_out_of_reach(tmp_path):
    pkg = make_package(
        tmp_path,
        conv=f"""
        import os, socket, subprocess, time
        def kit():
            try:  # covered by an empty mount, or absent (a kit under the private /tmp)
                return len(os.listdir({str(KIT_ROOT)!r}))
            except OSError:
                return 0
        def net():
            s = socket.socket()
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", 22)) != 0
        def daemon():
            p = subprocess.Popen(["/bin/sleep", "3133.25"], start_new_session=True)
            time.sleep(0.2)
            return p.poll() is None
    """,
    )
    # The namespaces alone (Landlock off: it would refuse the listing, the connection and the
    # daemon's exec by itself, and this test checks the other layer).
    iso = dataclasses.replace(detect(), landlock=0)
    report = run(
        pkg,
        [Call("call", "conv.kit"), Call("call", "conv.net"), Call("call", "conv.daemon")],
        isolation=iso,
    )
    assert report.outcomes[0].value == 0, "the kit's folder was visible to student code"
    assert report.outcomes[1].value is True
    assert report.outcomes[2].value is True, "the daemon never ran, so this test proves nothing"
    assert processes_with("3133.25") == [], "a background process outlived the worker"
    assert os.path.isdir(KIT_ROOT / "solutions")


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


DAEMON = """
    import os, time
    def daemon(folder):
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    for k in list(os.environ):
                        del os.environ[k]
                    open(os.path.join(folder, "alive"), "w").close()
                    time.sleep(2)
                    open(os.path.join(folder, "late"), "w").close()
            finally:
                os._exit(0)
        for _ in range(200):
            if os.path.exists(os.path.join(folder, "alive")):
                break
            time.sleep(0.01)
        return 1
"""


def test_process_group_level_kills_detached_daemons(tmp_path):
    """No namespaces, no Landlock: the token, the session and the subreaper find the daemon."""
    from autograder.sandbox.isolation import Isolation

    shared = tmp_path / "shared"
    shared.mkdir()
    pkg = make_package(tmp_path, conv=DAEMON)
    report = run(
        pkg,
        [Call("call", "conv.daemon", (str(shared),))],
        isolation=Isolation("process-group", landlock=0),
    )
    assert report.outcomes[0].value == 1
    time.sleep(3)
    assert (shared / "alive").exists(), "the daemon never ran, so this test proves nothing"
    assert not (shared / "late").exists(), "a detached daemon outlived the worker"


@pytest.mark.skipif(landlock_abi() < 4, reason="needs Landlock ABI >= 4 (Linux >= 6.7)")
def test_landlock_alone_keeps_the_kit_tmp_and_tcp_out_of_reach(tmp_path):
    from autograder.sandbox.isolation import Isolation

    target = Path(tempfile.mkdtemp(dir="/tmp"))
    pkg = make_package(
        tmp_path,
        conv=f"""
        import os, socket
        def kit():
            return len(os.listdir({str(KIT_ROOT)!r}))
        def write():
            open(os.path.join({str(target)!r}, "marker"), "w").close()
            return 1
        def tcp():
            s = socket.socket()
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", 22))
        def environ():
            return open("/proc/%d/environ" % os.getppid()).read()
    """,
    )
    calls = [Call("call", f"conv.{n}") for n in ("kit", "write", "tcp", "environ")]
    report = run(pkg, calls, isolation=Isolation("process-group", landlock=landlock_abi()))
    try:
        assert [o.status for o in report.outcomes] == ["error", "error", "ok", "error"]
        assert report.outcomes[0].exception["type"] == "PermissionError"
        assert report.outcomes[2].value == 13  # EACCES from Landlock's TCP rule
        assert not (target / "marker").exists()
    finally:
        import shutil

        shutil.rmtree(target, ignore_errors=True)


DISK_BOMB = """
    import os, sys
    def bomb(places):
        # Every place it might write, 8 MB at a time, with a status line after each chunk
        # (the old answer-folder watchdog only looked after 0.25 s of silence).
        block = b"x" * (8 * 1024 * 1024)
        status = int(sys.argv[3])
        written = 0
        for place in places:
            for i in range(40):
                try:
                    with open(os.path.join(place, "cnnbomb%d" % i), "wb") as f:
                        f.write(block)
                    written += len(block)
                    os.write(status, b"import x\\n")
                except OSError:
                    break
        return written
    def ok(): return 4
"""


@pytest.mark.parametrize("level", ["strongest", "process-group"])
def test_a_disk_bomb_is_bounded_by_the_kernel(tmp_path, level):
    from autograder.sandbox.isolation import Isolation

    iso = detect() if level == "strongest" else Isolation("process-group", landlock=landlock_abi())
    if iso.level == "process-group" and not iso.landlock:
        pytest.skip("without namespaces or Landlock only RLIMIT_FSIZE bounds writes")
    if iso.namespaces:
        iso = dataclasses.replace(iso, landlock=0)  # the mounts alone
    pkg = make_package(tmp_path, conv=DISK_BOMB)
    places = [".", "/tmp/cnn-job", "/tmp", "/dev/shm", "/var/tmp", str(tmp_path), "pkg/cnn"]
    free = os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize
    limits = Limits(call_timeout=30.0, import_timeout=10.0, memory_mb=1024)
    report = run(
        pkg,
        [Call("call", "conv.bomb", (places,)), Call("call", "conv.ok")],
        limits=limits,
        isolation=iso,
    )
    written = report.outcomes[0].value
    assert report.outcomes[0].status == "ok", report.outcomes[0]
    # Private, size-limited tmpfs mounts (32 + 8 MB) at most; with Landlock nothing at all.
    assert written <= 48 * 1024 * 1024, written
    assert report.outcomes[1].value == 4
    assert not list(tmp_path.glob("cnnbomb*"))
    after = os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize
    assert after > free - 256 * 1024 * 1024  # (other processes may use some meanwhile)


def test_counters_kept_as_numpy_integers_are_counts(tmp_path):
    pkg = make_package(
        tmp_path,
        optimizers="""
        import numpy as np
        class SGD:
            def __init__(self, learning_rate=0.1):
                self.learning_rate = learning_rate
                self.iterations = np.int64(0)
            def step(self, params, grads):
                for p, g in zip(params, grads):
                    p -= self.learning_rate * g
                self.iterations += 1
    """,
    )
    call = Call("optimizer", "optimizers.SGD", ([np.ones(2)], [[np.ones(2)], [np.ones(2)]]))
    report = run(pkg, [call])
    value = report.outcomes[0].value
    assert value["iterations"] == [1, 2] and all(type(i) is int for i in value["iterations"])
    np.testing.assert_allclose(value["params"][0], [[0.9, 0.9], [0.8, 0.8]])


HUGE_ANSWERS = """
    import os, struct, sys
    def _raw(index, value, seconds=1.0):  # straight onto the status pipe, past the encoder
        data = b"O" + struct.pack("<d", seconds) + value
        os.write(int(sys.argv[3]), b"done %d %d\\n" % (index, len(data)) + data)
        return 0
    def many():  # a million values: a million Python objects if read naively
        return _raw(0, b"l" + struct.pack("<I", 1_000_001) + b"N" * 1_000_001)
    def deep():
        return _raw(1, b"l\\x01\\x00\\x00\\x00" * 60_000 + b"N")
    def huge_shape():  # an array header claiming 2**80 elements: nothing is allocated
        head = b"a\\x03<f8\\x02" + struct.pack("<QQ", 2**40, 2**40)
        return _raw(2, head + b"\\x00" * 64)
    def long_seconds():
        return _raw(3, b"i" + struct.pack("<q", 1), seconds=float("inf"))
    def big():  # 6 MB of float64: over the 4 MB answer limit
        import numpy as np
        return np.zeros(750_000)
    def encoded_int():
        return 10 ** 400
    def ok(): return 5
"""


def test_answers_are_read_under_hard_bounds(tmp_path):
    pkg = make_package(tmp_path, conv=HUGE_ANSWERS)
    names = ["many", "deep", "huge_shape", "long_seconds", "big", "encoded_int", "ok"]
    slow = dataclasses.replace(FAST, call_timeout=30.0)
    report = run(pkg, [Call("call", f"conv.{n}") for n in names], limits=slow)
    got = dict(zip(names, report.outcomes, strict=True))
    assert got["many"].status == "crashed"
    assert "more than 100000 values" in got["many"].detail
    assert got["deep"].status == "crashed"
    assert "nested too deeply" in got["deep"].detail
    assert got["huge_shape"].status == "crashed"
    assert "could not be read" in got["huge_shape"].detail
    assert got["long_seconds"].status == "ok" and got["long_seconds"].seconds == 0.0
    assert got["long_seconds"].value == 1
    assert got["big"].status == "crashed"
    assert "larger than 4 MB" in got["big"].detail
    assert isinstance(got["encoded_int"].value, Unsupported)
    assert "too large" in got["encoded_int"].value.type_name
    assert got["ok"].value == 5


def test_the_trusted_reader_never_raises_on_hostile_bytes():
    import random
    import struct

    from autograder.sandbox import worker
    from autograder.sandbox.answers import outcome_from_answer
    from autograder.sandbox.wire import MAX_VALUES, AnswerError, read_answer

    enc = worker.Encoder()
    enc({"w": [np.arange(6.0).reshape(2, 3), np.int64(3)], "t": (1, "x", None, True, 2.5)})
    valid = worker.answer_bytes({"status": "ok", "seconds": 0.5, "encoded": enc})
    assert outcome_from_answer(read_answer(valid)).value["t"] == (1, "x", None, True, 2.5)
    ok = b"O" + struct.pack("<d", 0.0)
    hostile = [
        ok + b"l\x01\x00\x00\x00" * 50_000 + b"N",  # deep: RecursionError in a naive reader
        ok + b"l" + struct.pack("<I", MAX_VALUES + 5) + b"N" * (MAX_VALUES + 5),
        ok + b"l" + struct.pack("<I", 2**32 - 1),  # a count past the bytes there are
        ok + b"s" + struct.pack("<I", 2**32 - 1) + b"x",
        ok + b"a\x03|O8\x01" + struct.pack("<Q", 1) + b"\x00" * 8,  # object dtype
        ok + b"a\x03<f8\x01" + struct.pack("<Q", 2**39) + b"\x00" * 8,
        ok + b"i" + struct.pack("<q", 1) + b"trailing",
        b"\xff\xfe",
        b"",
    ]
    rng = random.Random(0)
    for _ in range(3000):  # random damage to a valid answer
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        hostile.append(bytes(data[: rng.randint(1, len(data))] if rng.random() < 0.3 else data))
    for data in hostile:
        try:
            answer = read_answer(data)
        except AnswerError as exc:
            assert str(exc).startswith("its answer"), exc
            continue
        outcome = outcome_from_answer(answer)
        assert outcome.status in ("ok", "error")
        if outcome.status == "ok":
            assert not isinstance(outcome.value, int) or abs(outcome.value) < 2**64


def test_the_readers_arrays_are_fresh_copies_as_frombuffer_gives_them():
    """wire._Reader.array builds an answer's array with np.ndarray(shape, dtype, bytes, offset)
    .copy(): the array np.frombuffer(...).reshape(shape).copy() gives (dtype, shape, bytes, its
    own writable memory), and the same refusals for shapes with zeros beside huge sizes."""
    import struct

    from autograder.sandbox import worker
    from autograder.sandbox.wire import AnswerError, NpScalar, read_answer

    def answer(head_and_bytes):
        return b"O" + struct.pack("<d", 0.0) + head_and_bytes

    def raw(dtype, shape, payload):
        head = b"a" + bytes([len(dtype)]) + dtype + bytes([len(shape)])
        return answer(head + b"".join(struct.pack("<Q", n) for n in shape) + payload)

    values = [
        np.arange(6.0).reshape(2, 3),
        np.zeros((0, 3)),
        np.array(2.5),
        np.ones((1, 1, 2), ">i2"),
    ]
    values += [np.arange(4, dtype=np.uint8) > 1, np.float32(1.5)]
    for value in values:
        enc = worker.Encoder()
        enc(value)
        got = read_answer(worker.answer_bytes({"status": "ok", "seconds": 0.0, "encoded": enc}))
        got = got["value"].array if isinstance(value, np.generic) else got["value"]
        want = np.asarray(value)
        assert (got.dtype, got.shape, got.tobytes()) == (want.dtype, want.shape, want.tobytes())
        assert got.flags.owndata and got.flags.writeable and got.flags.c_contiguous
        assert isinstance(value, np.generic) or got.base is None
    assert isinstance(
        read_answer(raw(b"<f8", (), bytes(8)).replace(b"a", b"g", 1))["value"], NpScalar
    )
    for shape in [(0, 1 << 40, 1 << 40), (1 << 40, 0), (0,) * 32, (1 << 40, 1 << 40, 0, 3)]:
        try:
            want = np.frombuffer(b"", dtype="<f8", count=0).reshape(shape).copy().shape
        except ValueError:
            want = None
        try:
            got = read_answer(raw(b"<f8", shape, b""))["value"].shape
        except AnswerError:
            got = None
        assert got == want
    with pytest.raises(AnswerError):
        read_answer(raw(b"<f8", (1 << 41,), b""))


def test_mutation_is_judged_from_the_grader_side(tmp_path):
    """The worker reports nothing about inputs: the grader reads the shared blob after the
    call, so code that changes its input and then rewrites the worker cannot hide it."""
    pkg = make_package(
        tmp_path,
        conv="""
        import sys
        def sneaky(x):
            out = x.sum()
            x[...] = 0.0
            main = sys.modules["__main__"]
            for name in ("digest", "arrays_in", "pack", "execute", "decode"):
                setattr(main, name, lambda *a, **k: [])
            return out
        def careful(x):
            saved = x.copy()
            x += 1.0
            result = float(x.sum())
            x[...] = saved  # restored before returning: the caller sees no change
            return result
        def honest(x):
            return x * 2
    """,
    )
    x = np.arange(6.0).reshape(2, 3)
    # sneaky last: it rewrites the worker's code for the rest of that worker's life
    calls = [Call("call", f"conv.{n}", (x,)) for n in ("careful", "honest", "sneaky")]
    report = run(pkg, calls, mutation=[True, True, True])
    careful, honest, sneaky = report.outcomes
    assert sneaky.status == "ok" and sneaky.inputs_after == [digest(np.zeros((2, 3)))]
    assert careful.inputs_after is UNCHANGED  # judged after the call: restored in time
    assert honest.inputs_after is UNCHANGED
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))  # the grader's copy


def test_a_worker_that_cannot_start_is_the_graders_error_not_the_students(tmp_path, monkeypatch):
    from autograder.sandbox import WorkerStartError

    pkg = make_package(tmp_path, conv="def f(): return 1\n")
    from autograder.sandbox import forked, process

    monkeypatch.setenv("CNN_GRADE_FORKSERVER", "0")  # the exec'd route
    monkeypatch.setattr(process, "command", lambda *a, **k: (["/bin/sh", "-c", "exit 126"], [], ""))
    with pytest.raises(WorkerStartError, match="could not start the sandbox worker"):
        run(pkg, [Call("call", "conv.f")])
    monkeypatch.setattr(process, "command", lambda *a, **k: (["/nonexistent/unshare"], [], ""))
    with pytest.raises(WorkerStartError, match="could not start"):
        run(pkg, [Call("call", "conv.f")])
    monkeypatch.delenv("CNN_GRADE_FORKSERVER")
    if forked.enabled(runner.detect()):  # the fork server's route: a server that cannot start
        monkeypatch.setattr(forked, "_server", None)
        monkeypatch.setattr(forked, "SERVER", tmp_path / "no-such-server.py")
        with pytest.raises(WorkerStartError, match="fork server"):
            run(pkg, [Call("call", "conv.f")])


def test_status_lines_from_student_code_buy_no_time(tmp_path):
    pkg = make_package(
        tmp_path,
        conv="""
        import os, sys, time
        def spam():
            fd = int(sys.argv[3])
            while True:  # "ready" and "import" lines once reset the call's deadline
                os.write(fd, b"ready\\nimport conv\\ndone 99 0\\n")
                time.sleep(0.2)
        def ok(): return 1
    """,
    )
    started = time.monotonic()
    report = run(pkg, [Call("call", "conv.spam"), Call("call", "conv.ok")])
    assert [o.status for o in report.outcomes] == ["timeout", "ok"]
    assert time.monotonic() - started < 30


def test_zero_d_and_strided_arguments_keep_their_shape(tmp_path):
    pkg = make_package(tmp_path, conv="def shape(x):\n    return list(x.shape)\n")
    zero_d, strided = np.array(2.5), np.arange(12.0).reshape(3, 4)[:, ::2]
    calls = [Call("call", "conv.shape", (a,)) for a in (zero_d, strided)]
    report = run(pkg, calls, mutation=[True, True])
    assert [o.value for o in report.outcomes] == [[], [3, 2]]
    assert [o.inputs_after for o in report.outcomes] == [UNCHANGED, UNCHANGED]
    blob = InputBlob(calls)  # the blob's bytes of each are what digest() hashes
    assert blob.after(0, blob.buffer) == [digest(zero_d)]
    assert blob.after(1, blob.buffer) == [digest(strided)]


def test_a_fork_server_killed_mid_call_is_the_graders_trouble(tmp_path):
    """Its workers die with it (nothing outlives it); the student is not charged a crash."""
    import threading

    from autograder.sandbox import WorkerStartError, forked

    if not forked.enabled(runner.detect()):
        pytest.skip("the fork server runs at the namespaces+user level (root)")
    pkg = make_package(tmp_path, conv="import time\ndef slow():\n    time.sleep(60)\n")
    server = forked.server()
    threading.Timer(3.0, server.proc.kill).start()
    started = time.monotonic()
    patient = dataclasses.replace(FAST, call_timeout=30.0)
    with pytest.raises(WorkerStartError, match="fork server stopped"):
        run(pkg, [Call("call", "conv.slow")], limits=patient)
    assert time.monotonic() - started < 25
    quick = dataclasses.replace(FAST, call_timeout=1.0)
    report = run(pkg, [Call("call", "conv.slow")], limits=quick)
    assert report.outcomes[0].status == "timeout"  # a new server carries on


def test_call_arguments_reach_the_worker_as_fresh_plain_data():
    """The grader's pickle of a call (wire.InputBlob) as the worker loads it (worker.load_args):
    a shared object arrives as separate copies, arrays as writable views of the blob, numpy
    scalars and subclasses as plain values, and no class can be loaded from it."""
    import enum
    import io
    import pickle
    from collections import OrderedDict

    from autograder.cases import Rng
    from autograder.sandbox import worker
    from autograder.sandbox.wire import InputBlob

    class Mode(enum.IntEnum):
        SAME = 2

    x = np.arange(12.0).reshape(3, 4)
    shared = [1, 2]
    call = Call(
        "call",
        "conv.f",
        (x, x[:, ::2], shared, shared, {"k": shared, 3: "three"}, np.float32(2.5), Mode.SAME),
        {"rng": Rng(7), "d": OrderedDict(a=1)},
    )
    blob = InputBlob([call])
    memory = bytearray(blob.buffer)
    args, kwargs = worker.load_args(blob.specs[0]["args"], memory)
    a, b, l1, l2, d, scalar, mode = args
    assert a is not b and a.flags.writeable and np.array_equal(a, x)
    assert b.shape == (3, 2) and b.flags.c_contiguous and np.array_equal(b, x[:, ::2])
    assert l1 == l2 == [1, 2] and l1 is not l2 and d["k"] is not l1
    assert d == {"k": [1, 2], "3": "three"}  # keys as strings, as the old JSON wire gave them
    assert type(scalar) is float and scalar == 2.5 and type(mode) is int and mode == 2
    assert type(kwargs["rng"]) is np.random.Generator and type(kwargs["d"]) is dict
    a[0, 0] = 99.0  # the student's in-place write lands in the blob, where the grader looks
    assert blob.after(0, memory) != [digest(x), digest(np.ascontiguousarray(x[:, ::2]))]
    assert blob.after(0, memory)[1] == digest(np.ascontiguousarray(x[:, ::2]))
    for hostile in (pickle.dumps(OrderedDict()), pickle.dumps(io.BytesIO)):
        with pytest.raises(pickle.UnpicklingError):
            worker.load_args(hostile, memory)


def test_an_arrays_cached_names_and_a_subclass_give_the_plain_arrays_pickle():
    """wire._ArgsPickler's fast way for plain arrays (persistent id and digest prefix from a
    cache of (dtype, shape)) writes what the general way writes for an ndarray subclass, cache
    empty or full; the prefix is digest()'s."""
    from autograder.sandbox import wire

    class Sub(np.ndarray):
        pass

    arrays = [
        np.array(2.5),
        np.zeros((0, 3)),
        np.arange(6, dtype=">i4").reshape(2, 3),
        np.ones((2, 1, 2), dtype=bool),
        np.arange(12.0).reshape(3, 4)[:, ::2],
    ]

    def blob(kind):
        made = InputBlob([Call("call", "conv.f", tuple(map(kind, arrays)), {"k": kind(arrays[2])})])
        return made.specs, made.regions, made.private

    wire._ARRAY_NAMES.clear()
    cold = blob(lambda a: a)
    warm = blob(lambda a: a)
    sub = blob(lambda a: a.view(Sub))
    assert cold == warm == sub
    contiguous = [np.ascontiguousarray(a) if a.ndim else a for a in arrays + [arrays[2]]]
    assert [p for _, _, p in cold[1][0]] == [digest(a).rsplit("|", 1)[0] + "|" for a in contiguous]


def test_the_workers_layout_cache_loads_what_parsing_the_id_loads():
    """worker._ArgsLoader parses an array's dtype and shape once (worker._LAYOUTS): a warm
    cache gives the same views of the blob (dtype, shape, place, writable) as a cold one."""
    from autograder.sandbox import worker

    arrays = (np.array(2.5), np.zeros((0, 3)), np.arange(6, dtype=">i4").reshape(2, 3))
    blob = InputBlob([Call("call", "conv.f", arrays * 2, {"m": np.ones((2, 2), dtype=bool)})])
    memory = bytearray(blob.buffer)

    def views():
        args, kwargs = worker.load_args(blob.specs[0]["args"], memory)
        return [
            (a.dtype.str, a.shape, a.__array_interface__["data"], a.flags.writeable, a.tobytes())
            for a in [*args, kwargs["m"]]
        ]

    worker._LAYOUTS.clear()
    cold = views()
    assert len(worker._LAYOUTS) == 4
    assert views() == cold
    assert [v[:2] for v in cold] == [("<f8", ()), ("<f8", (0, 3)), (">i4", (2, 3))] * 2 + [
        ("|b1", (2, 2))
    ]


def test_the_status_pipe_reads_lines_and_big_payloads_under_deadlines():
    import threading

    from autograder.sandbox.pipe import MAX_LINE, StatusPipe

    r, w = os.pipe()
    pipe = StatusPipe(r)
    big = os.urandom(3 * 1024 * 1024 + 17)

    def writer():
        os.write(w, b"ready\ndone 0 %d\n" % len(big))
        view = memoryview(big)
        while view:
            view = view[os.write(w, view[:100_000]) :]
            time.sleep(0.001)
        os.write(w, b"fini")
        time.sleep(0.3)
        os.write(w, b"shed\n" + b"x" * (MAX_LINE + 10))
        os.close(w)

    thread = threading.Thread(target=writer)
    thread.start()
    soon = time.monotonic() + 30
    assert pipe.line(soon) == "ready" and pipe.line(soon) == f"done 0 {len(big)}"
    assert pipe.payload(len(big), soon) == big
    started = time.monotonic()
    assert pipe.line(started + 0.05) is None and pipe.timed_out(started + 0.05)  # half a line
    assert pipe.line(soon) == "finished"
    assert pipe.line(soon) is None and pipe.eof  # a flood counts as the end
    thread.join()
    pipe.close()


@pytest.mark.parametrize("forkserver", ["1", "0"])
def test_student_code_runs_with_the_garbage_collector_on(tmp_path, monkeypatch, forkserver):
    """The fork server, and an exec'd worker, import numpy with the collector off (and freeze
    what they loaded); the worker turns it back on before the student's imports, so a student's
    reference cycles are collected as in any interpreter (a program that relies on it does not
    run out of memory in the sandbox)."""
    monkeypatch.setenv("CNN_GRADE_FORKSERVER", forkserver)
    pkg = make_package(
        tmp_path,
        shapes="""
        import gc
        def collector():
            return gc.isenabled()
        def cycles_collected():
            class Node:
                pass
            for _ in range(3):
                a, b = Node(), Node()
                a.other, b.other = b, a
                a.blob = bytearray(1 << 20)
            del a, b
            return gc.collect() > 0
    """,
    )
    report = run(pkg, [Call("call", "shapes.collector"), Call("call", "shapes.cycles_collected")])
    assert [o.value for o in report.outcomes] == [True, True]
