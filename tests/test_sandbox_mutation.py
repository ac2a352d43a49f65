"""The mutation check's fast way (``wire.InputBlob.check``): one read of a call's stretch of the
input blob, compared with the grader's own copy; the digests only when something differs. The
verdicts must be the ones the digests alone give."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
from test_sandbox import make_package, run

from autograder.cases import Call, Case, Close
from autograder.compare import judge
from autograder.sandbox.wire import UNCHANGED, InputBlob, digest

CHANGED = (
    "it changed input array #{} in place; inputs must never be modified "
    "(work on a copy, e.g. np.pad or x.copy())."
)


def _args():
    return np.arange(3.0), np.arange(12.0).reshape(3, 4)[:, ::2], np.float32(2.0)


def _offset(blob: InputBlob, call: int, array: int) -> int:
    return blob.regions[call][array][0]


def test_an_untouched_blob_is_unchanged_and_a_changed_one_gives_the_digests():
    a, b, s = _args()
    blob = InputBlob([Call("call", "conv.f", (a, b, s)), Call("call", "conv.g", (b,), {"k": a})])
    memory = blob.buffer
    assert blob.check(0, memory) is UNCHANGED and blob.check(1, memory) is UNCHANGED
    memory[_offset(blob, 0, 1) + 3] ^= 1  # one byte of call 0's second array
    after = blob.check(0, memory)
    assert after == blob.after(0, memory)
    assert after[0] == digest(a) and after[1] != digest(np.ascontiguousarray(b))
    assert blob.check(1, memory) is UNCHANGED  # another call's stretch
    # the grader's copy is its own: writing the blob the code sees does not reach it
    again = InputBlob([Call("call", "conv.f", (a, b, s)), Call("call", "conv.g", (b,), {"k": a})])
    assert blob.private == again.private != memory


def test_padding_inside_a_calls_stretch_takes_the_slow_way_to_the_same_answer():
    a, b, _ = _args()
    blob = InputBlob([Call("call", "conv.f", (a, b))])
    memory = blob.buffer
    memory[_offset(blob, 0, 0) + a.nbytes + 5] = 7  # between the two arrays
    after = blob.check(0, memory)
    assert after is not UNCHANGED  # a difference somewhere: the digests decide
    assert after == [digest(a), digest(np.ascontiguousarray(b))]
    verdict = judge(_case((a, b)), dataclasses.replace(_ok(), inputs_after=after))
    assert verdict.passed  # the arrays themselves are unchanged


def test_calls_without_arrays_and_empty_arrays():
    empty = np.zeros((0, 3))
    blob = InputBlob([Call("call", "conv.f", (1, 2.0)), Call("call", "conv.f", (empty,))])
    assert blob.check(0, blob.buffer) == []
    assert blob.check(1, blob.buffer) is UNCHANGED
    assert blob.after(1, blob.buffer) == [digest(empty)]


def test_every_byte_of_a_calls_stretch_and_none_outside_it_counts():
    """check() compares the stretch in place (private.startswith(now, start)): a change to its
    first, any or last byte is seen, one just outside it is another call's."""
    a, b, _ = _args()
    calls = [
        Call("call", "conv.f", (a,)),
        Call("call", "conv.g", (a, b)),
        Call("call", "conv.f", (a,)),
    ]
    blob = InputBlob(calls)
    start, end = blob.spans[1]
    for at in [start - 1, start, start + 1, end - 2, end - 1, end]:
        memory = blob.buffer
        memory[at] ^= 0xFF
        assert (blob.check(1, memory) is UNCHANGED) == (not start <= at < end), at
        memory[at] ^= 0xFF
    assert all(blob.check(i, blob.buffer) is UNCHANGED for i in range(3))
    empty = InputBlob([Call("call", "conv.f", (a,)), Call("call", "conv.f", (np.zeros(0),))])
    assert empty.check(1, empty.buffer) is UNCHANGED  # an empty stretch


def test_unchanged_survives_pickling_as_itself():
    assert pickle.loads(pickle.dumps(UNCHANGED)) is UNCHANGED
    assert repr(UNCHANGED) == "UNCHANGED"


def _case(args):
    return Case(
        "conv.f", "two arrays", Call("call", "conv.f", args), Close(np.float64(1.0)), "hidden"
    )


def _ok():
    from autograder.sandbox.runner import Outcome

    return Outcome("ok", value=np.float64(1.0))


def test_verdicts_through_a_worker_are_the_digests_verdicts(tmp_path):
    """A real worker: the fast way's verdict for each function is the one the digests of the
    arguments give (the old way), message included."""
    pkg = make_package(
        tmp_path,
        conv="""
        import numpy as np
        def honest(x, y):
            return np.float64(1.0)
        def first(x, y):
            x[0] += 1.0
            return np.float64(1.0)
        def second(x, y):
            y[...] = -y
            return np.float64(1.0)
        def restored(x, y):
            saved = y.copy()
            y[0, 0] = 99.0
            y[...] = saved
            return np.float64(1.0)
        def same_value(x, y):
            x[0] = x[0]  # written, bytes the same
            return np.float64(1.0)
        def padding(x, y):
            buf = x
            while isinstance(buf, np.ndarray) and buf.base is not None:
                buf = buf.base
            whole = np.frombuffer(buf, np.uint8)
            at = x.ctypes.data - whole.ctypes.data + x.nbytes  # just past x: padding
            whole[at + 1] = 1
            return np.float64(1.0)
        def negative_zero(x, y):
            x[0] = -0.0  # equal as a number, not as bytes: a change
            return np.float64(1.0)
    """,
    )
    x, y = np.arange(4.0), np.arange(1.0, 7.0).reshape(2, 3)
    names = ["honest", "first", "second", "restored", "same_value", "padding", "negative_zero"]
    calls = [Call("call", f"conv.{n}", (x, y)) for n in names]
    report = run(pkg, calls, mutation=[True] * len(calls))
    got = {n: o for n, o in zip(names, report.outcomes, strict=True)}
    assert all(o.status == "ok" for o in got.values()), got
    for name in ("honest", "restored", "same_value"):
        assert got[name].inputs_after is UNCHANGED, name
    assert got["padding"].inputs_after == [digest(x), digest(y)]
    assert got["first"].inputs_after[1] == digest(y) != got["second"].inputs_after[1]
    expected = {"first": CHANGED.format(1), "second": CHANGED.format(2)}
    expected["negative_zero"] = CHANGED.format(1)
    for name, outcome in got.items():
        case = Case(
            f"conv.{name}", "x, y", Call("call", f"conv.{name}", (x, y)), Close(np.float64(1.0))
        )
        verdict = judge(case, outcome)
        if outcome.inputs_after is UNCHANGED:  # what the digests of the untouched inputs say
            old = judge(case, dataclasses.replace(outcome, inputs_after=[digest(x), digest(y)]))
            assert (verdict.passed, verdict.message) == (old.passed, old.message), name
        assert verdict.message == expected.get(name, ""), name
        assert verdict.passed == (name not in expected), name
        assert verdict.mistake == ("mutated-input" if name in expected else None), name
    np.testing.assert_array_equal(x, np.arange(4.0))  # the grader's arrays are untouched
