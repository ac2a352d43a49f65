"""The reference package's fast argument checks (``autograder.trusted_checks``, issue #16) are the
handout's checks: the same object back for every value they take the fast path on, the same
error and message for every other value; the stubs' (students') checks are untouched."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from autograder import trusted_checks
from autograder.paths import SOLUTIONS_DIR, STUBS_DIR


def _plain(folder, name):
    """``_checks.py`` of ``folder`` loaded on its own (the handout's functions, no fast path)."""
    spec = importlib.util.spec_from_file_location(name, folder / "_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sub(np.ndarray):
    pass


def _arrays():
    base = np.arange(6.0).reshape(2, 3)
    frozen = base.copy()
    frozen.flags.writeable = False
    return [
        base, base.astype(np.float32), base.astype(np.float16), base.astype(np.longdouble),
        base.astype(">f8"), base.T, base[:, ::2], frozen, np.zeros(()), np.zeros((0, 3)),
        base.astype(np.int64), base.astype(np.uint8), base > 1, base.astype(np.complex128),
        base.astype(object), np.array(["a", "b"]), np.array([1, 2], dtype="m8[s]"),
        base.view(Sub), np.ma.masked_array(base), np.float64(2.5), np.float32(1.5),
        [[1.0, 2.0], [3.0, 4.0]], [1, 2], (1.5,), 3.0, 2, True, None, "x", [np.zeros(2)],
    ]  # fmt: skip


SCALARS = [
    0, 1, 2, -3, 10**30, True, False, np.bool_(True), np.int64(3), np.int32(0), np.uint8(1),
    1.0, 0.0, -2.5, float("nan"), float("inf"), np.float64(1.0), np.float32(2.0), "1", None,
    [1], (1,), 1 + 0j, np.array(3), np.array(2.0),
]  # fmt: skip


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return ("error", type(exc), str(exc))


def _same_outcome(fast, slow, label, value=None):
    """The same error, or equal results that are (or share memory with) ``value`` alike."""
    assert fast[0] == slow[0], label
    if fast[0] == "error":
        assert fast == slow, label
        return
    a, b = fast[1], slow[1]
    assert type(a) is type(b), label
    if isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, label
        assert a.tobytes() == b.tobytes(), label
        if isinstance(value, np.ndarray):
            assert np.shares_memory(a, value) == np.shares_memory(b, value), label
    else:
        assert a is b or a == b or (a != a and b != b), label
    assert (a is value) == (b is value), label


@pytest.fixture(scope="module")
def checks():
    """(the handout's checks, the same checks with the fast paths installed)."""
    slow = _plain(SOLUTIONS_DIR, "_checks_slow_for_test")
    fast = _plain(SOLUTIONS_DIR, "_checks_fast_for_test")
    trusted_checks.install(fast)
    return slow, fast


def test_the_fast_paths_are_installed_once(checks):
    _, fast = checks
    before = fast.as_array
    trusted_checks.install(fast)
    assert fast.as_array is before
    assert set(trusted_checks._fast(fast)) <= set(dir(fast))


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_arrays_give_what_the_handout_gives(checks):
    slow, fast = checks
    seen_fast_path = 0
    for value in _arrays():
        for ndim in (None, 0, 1, 2, 3):
            label = (repr(value)[:60], ndim)
            a = _outcome(fast.as_array, value, "x", ndim)
            b = _outcome(slow.as_array, value, "x", ndim)
            _same_outcome(a, b, label, value)
            if a[0] == "ok" and a[1] is value:
                seen_fast_path += 1
                assert b[1] is value, label  # the handout returns the array itself too
        _same_outcome(
            _outcome(fast.float_ndarray, value, "p"), _outcome(slow.float_ndarray, value, "p"),
            repr(value)[:60], value,
        )  # fmt: skip
        _same_outcome(
            _outcome(fast.bias_vector, value, 3), _outcome(slow.bias_vector, value, 3),
            repr(value)[:60],
        )  # fmt: skip
    assert seen_fast_path > 10


def test_a_wrong_array_gets_the_handouts_error(checks):
    slow, fast = checks
    for fn, args in (
        ("as_array", (np.zeros((2, 2)), "x", 3)),
        ("as_array", (np.array(["a"]), "x")),
        ("float_ndarray", (np.zeros(2, dtype=np.int64), "params[0]")),
        ("float_ndarray", ([0.0], "params[0]")),
    ):
        with pytest.raises(ValueError) as got:
            getattr(fast, fn)(*args)
        with pytest.raises(ValueError) as want:
            getattr(slow, fn)(*args)
        assert str(got.value) == str(want.value) and str(got.value)
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="must be writeable"):
        fast.float_ndarray(frozen, "p")


def test_numbers_give_what_the_handout_gives(checks):
    slow, fast = checks
    for name in ("positive_int", "non_negative_int", "real_number", "boolean"):
        for value in SCALARS:
            a = _outcome(getattr(fast, name), value, "v")
            b = _outcome(getattr(slow, name), value, "v")
            _same_outcome(a, b, (name, value), value)
    for value in (0, 1, (2, 3), [1, 0], (True, 2), 2.0):  # int_tuple goes through positive_int
        _same_outcome(
            _outcome(fast.int_tuple, value, 2, "stride"),
            _outcome(slow.int_tuple, value, 2, "stride"),
            value,
        )
    with pytest.raises(ValueError) as got:
        fast.positive_int(0, "stride")
    assert str(got.value) == "`stride` must be an integer >= 1. Received: stride=0."


def test_only_the_grader_reference_gets_them(sol, stubs):
    assert getattr(sol._checks, trusted_checks.MARK, False)
    assert not getattr(stubs._checks, trusted_checks.MARK, False)
    # the stubs' checks are the handout file's own functions
    assert stubs._checks.as_array.__code__.co_filename == str(STUBS_DIR / "_checks.py")
    assert sol._checks.as_array.__module__ == trusted_checks.__name__


def test_the_reference_gives_the_same_bytes(sol):
    """The reference with the fast paths against the same solutions loaded without them."""
    from autograder.reference import load_package

    plain = load_package(SOLUTIONS_DIR, "_plain_reference_cnn_for_test")
    assert not getattr(plain._checks, trusted_checks.MARK, False)
    rng = np.random.default_rng(5)
    x, k, b = rng.normal(size=(2, 9, 8, 3)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=4)
    got = sol.conv.conv2d(x, k, b, stride=(2, 1), padding="same")
    want = plain.conv.conv2d(x, k, b, stride=(2, 1), padding="same")
    assert got.tobytes() == want.tobytes()
    params = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    grads = [[rng.normal(size=(3, 2)), rng.normal(size=4)] for _ in range(3)]
    out = []
    for ref in (sol, plain):
        ps = [p.copy() for p in params]
        opt = ref.optimizers.Adam(learning_rate=0.01)
        for g in grads:
            opt.step(ps, g)
        out.append(b"".join(p.tobytes() for p in ps))
    assert out[0] == out[1]
    with pytest.raises(ValueError) as got_error:
        sol.conv.conv2d(x[0], k)
    with pytest.raises(ValueError) as want_error:
        plain.conv.conv2d(x[0], k)
    assert str(got_error.value) == str(want_error.value)
