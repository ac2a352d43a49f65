"""The reference package's fast paths (``autograder.trusted_reference``, issue #16). Its argument
checks are the handout's: the same object back for every value they take the fast path on, the
same error and message for every other value; the stubs' (students') checks are untouched. Its
``np.pad`` is numpy's: the same dtype, memory order and bytes, the same errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from autograder import trusted_reference
from autograder.paths import ALL_MODULES, SOLUTIONS_DIR, STUBS_DIR


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
    trusted_reference.install_checks(fast)
    return slow, fast


def test_the_fast_paths_are_installed_once(checks):
    _, fast = checks
    before = fast.as_array
    trusted_reference.install_checks(fast)
    assert fast.as_array is before
    assert set(trusted_reference._fast(fast)) <= set(dir(fast))


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
    assert getattr(sol._checks, trusted_reference.MARK, False)
    assert not getattr(stubs._checks, trusted_reference.MARK, False)
    # the stubs' checks are the handout file's own functions
    assert stubs._checks.as_array.__code__.co_filename == str(STUBS_DIR / "_checks.py")
    assert sol._checks.as_array.__module__ == trusted_reference.__name__


def test_the_reference_gives_the_same_bytes(sol):
    """The reference with the fast paths against the same solutions loaded without them."""
    from autograder.reference import load_package

    plain = load_package(SOLUTIONS_DIR, "_plain_reference_cnn_for_test", ALL_MODULES)
    assert not getattr(plain._checks, trusted_reference.MARK, False)
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


def _pad_outcome(fn, *args, **kwargs):
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return ("error", type(exc), str(exc))
    flags = (out.flags.c_contiguous, out.flags.f_contiguous, out.flags.writeable)
    return ("ok", type(out), out.dtype.str, out.shape, flags, out.tobytes(order="A"))


def test_pad_gives_numpys_array():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 5, 4, 3))
    inputs = [
        base, base.astype(np.float32), base.astype(np.float16), base.astype(">f8"),
        np.asfortranarray(base), base[:, ::2], base.transpose(0, 2, 1, 3), base[:1, :1, :1, :1],
        base.astype(np.int64), base.view(Sub), np.zeros((0, 2, 2, 1)), base[0, 0, 0],
    ]  # fmt: skip
    widths = [
        ((0, 0), (0, 0), (0, 0), (0, 0)), ((0, 0), (1, 2), (0, 1), (0, 0)),
        [(0, 0), [2, 0], (3, 3), (0, 0)], ((0, 0), (1, 1)), ((0, 0), (-1, 1), (0, 0), (0, 0)),
        ((0, 0), (np.int64(1), 1), (0, 0), (0, 0)), 1, ((1, 2),),
        ((0, 0), (True, 1), (0, 0), (0, 0)),
        ((0, 0), (1.0, 1), (0, 0), (0, 0)), ((0, 0), (1, 1, 1), (0, 0), (0, 0)),
    ]  # fmt: skip
    options = [{}, {"constant_values": -np.inf}, {"constant_values": 0}, {"constant_values": 2.5},
               {"constant_values": (1, 2)}, {"mode": "edge"}, {"mode": "constant"},
               {"constant_values": np.float64(3.0)}, {"stat_length": 1}]  # fmt: skip
    fast_paths = 0
    for x in inputs:
        for w in widths:
            for kw in options:
                got = _pad_outcome(trusted_reference.pad, x, w, **kw)
                want = _pad_outcome(np.pad, x, w, **kw)
                assert got == want, (x.shape, x.dtype, w, kw)
                fast_paths += got[0] == "ok"
    assert fast_paths > 100


def test_the_reference_modules_pad_with_it(sol):
    for name in ("conv", "pooling", "backward", "_checks"):
        module = getattr(sol, name)
        assert module.np is trusted_reference.FAST_NUMPY
        assert module.np.pad is trusted_reference.pad
        assert module.np.ndarray is np.ndarray and module.np.float64 is np.float64
    assert np.pad is not trusted_reference.pad  # numpy itself is untouched


def test_padded_layers_give_the_same_bytes(sol):
    """Every padding of conv and pooling, forward and backward, against the plain reference."""
    from autograder.reference import load_package

    plain = load_package(SOLUTIONS_DIR, "_plain_reference_cnn_for_test", ALL_MODULES)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 6, 3))
    xf = np.asfortranarray(x)
    k = rng.normal(size=(3, 2, 3, 4))
    for padding in ("valid", "same"):
        for inp in (x, xf, x.astype(np.float32)):
            for ref_fn in (
                lambda r, inp=inp, p=padding: r.conv.conv2d(inp, k, None, 2, p),
                lambda r, inp=inp, p=padding: r.conv.conv1d(inp[:, 0], k[:, 0], None, 1, p),
                lambda r, inp=inp, p=padding: r.pooling.max_pool2d(inp, 3, 2, p),
                lambda r, inp=inp, p=padding: r.pooling.avg_pool2d(inp, 2, 1, p),
                lambda r, inp=inp, p=padding: r.pooling.max_pool1d(inp[:, 0], 3, 2, p),
                lambda r, inp=inp, p=padding: r.pooling.avg_pool1d(inp[:, 0], 3, 2, p),
                lambda r, inp=inp, p=padding: r.conv.pad2d(inp, ((1, 2), (0, 3))),
                lambda r, inp=inp, p=padding: r.conv.pad2d(inp, ((1, 0), (0, 0)), -1.5),
            ):
                a, b = ref_fn(sol), ref_fn(plain)
                assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    y = sol.conv.conv2d(x, k, None, 1, "same")
    g = rng.normal(size=y.shape)
    a = sol.backward.conv2d_backward(g, x, k, 1, "same")
    b = plain.backward.conv2d_backward(g, x, k, 1, "same")
    assert all(p.tobytes() == q.tobytes() for p, q in zip(a, b, strict=True))
    y = sol.pooling.max_pool2d(x, 3, 2, "same")
    g = rng.normal(size=y.shape)
    a = sol.backward.max_pool2d_backward(g, x, 3, 2, "same")
    assert a.tobytes() == plain.backward.max_pool2d_backward(g, x, 3, 2, "same").tobytes()


def test_the_reference_calls_take_the_fast_path(monkeypatch):
    x = np.random.default_rng(2).normal(size=(2, 5, 5, 3))
    want = np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0)), constant_values=-np.inf)

    def numpy_pad(*args, **kwargs):
        raise AssertionError("np.pad was called")

    monkeypatch.setattr(np, "pad", numpy_pad)
    got = trusted_reference.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0)), constant_values=-np.inf)
    assert got.tobytes() == want.tobytes()
    trusted_reference.pad(x, ((0, 0), (0, 0), (0, 0), (0, 0)))
    with pytest.raises(AssertionError, match="np.pad was called"):
        trusted_reference.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)), mode="edge")


def _conv_outcome(fn, *args, **kwargs):
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return ("error", type(exc), str(exc))
    flags = (out.flags.c_contiguous, out.flags.owndata, out.flags.writeable)
    return ("ok", type(out), out.dtype.str, out.shape, flags, out.tobytes(order="A"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (the huge inputs overflow)
def test_one_channel_conv2d_gives_the_references_bytes(sol, monkeypatch):
    """The one-channel fast path against the plain reference (``0 + x*w`` per tap, one stack
    row at a time): finite inputs with zeros of both signs, huge values whose products
    overflow and whose sums give NaN, several blocks of images, views, every bias; and the
    calls it leaves to the reference (the same result or error)."""
    from autograder.reference import load_package

    plain = load_package(SOLUTIONS_DIR, "_plain_reference_cnn_for_test", ALL_MODULES)
    taken = []
    fast_path = trusted_reference.one_channel_conv2d
    monkeypatch.setattr(
        trusted_reference, "one_channel_conv2d", lambda *a: taken.append(1) or fast_path(*a)
    )
    assert sol.model.conv2d is sol.conv.conv2d  # the model's forward pass takes it too
    rng = np.random.default_rng(3)
    signed = rng.normal(size=(3, 9, 7, 1)) * (rng.random((3, 9, 7, 1)) < 0.7)
    signed[0, 0, :3, 0] = -0.0
    huge = rng.normal(size=(2, 6, 6, 1)) * 1e300
    inputs = [
        rng.normal(size=(1, 28, 28, 1)), rng.normal(size=(30, 28, 28, 1)), signed, huge,
        rng.normal(size=(4, 13, 12, 2))[..., :1], np.asfortranarray(signed),
        rng.normal(size=(2, 3, 3, 1)),
    ]  # fmt: skip
    kernels = [rng.normal(size=(3, 3, 1, 32)), rng.normal(size=(2, 3, 1, 5)) * 1e10,
               rng.normal(size=(3, 3, 1, 4))[::-1, ::-1], np.zeros((1, 1, 1, 3)) - 0.0]  # fmt: skip
    for x in inputs:
        for k in kernels:
            for bias in (None, rng.normal(size=k.shape[3]), -np.zeros(k.shape[3])):
                label = (x.shape, k.shape, bias is None)
                got = _conv_outcome(sol.conv.conv2d, x, k, bias)
                assert got == _conv_outcome(plain.conv.conv2d, x, k, bias), label
    assert len(taken) > 50
    taken.clear()
    x, k = rng.normal(size=(2, 6, 5, 1)), rng.normal(size=(3, 2, 1, 4))
    with_nan = x.copy()
    with_nan[0, 1, 1, 0] = np.nan
    left = [
        ((with_nan, k), {}), ((x, k * np.inf), {}), ((x, k), {"stride": 2}),
        ((x, k), {"padding": "same"}), ((x, k), {"dilation": (1, 1)}),
        ((x.astype(np.float32), k), {}), ((x, k.astype(np.float32)), {}),
        ((x, k, np.zeros(4, dtype=np.float32)), {}), ((x, k, np.zeros(3)), {}),
        ((x, rng.normal(size=(7, 2, 1, 4))), {}), ((x[0], k), {}), ((x, k[:, :, :0]), {}),
        ((x[:0], k), {}), ((x.tolist(), k), {}), ((x, k), {"stride": True}),
        ((x, k), {"padding": "VALID"}), ((x, k), {"stride": 0}),
    ]  # fmt: skip
    for args, kwargs in left:
        got = _conv_outcome(sol.conv.conv2d, *args, **kwargs)
        assert got == _conv_outcome(plain.conv.conv2d, *args, **kwargs), (args[0], kwargs)
    assert not taken


def test_the_model_forward_in_blocks_gives_the_references_bytes(sol, monkeypatch):
    """A large inference batch through the model's layers a block of images at a time: the
    plain reference's bytes (Glorot-like and huge weights, odd batch sizes); training, small
    batches and anything the checks would refuse or convert go to the reference itself."""
    from autograder.reference import load_package

    plain = load_package(SOLUTIONS_DIR, "_plain_reference_cnn_for_test", ALL_MODULES)
    taken = []
    blocks = trusted_reference.forward_in_blocks
    monkeypatch.setattr(
        trusted_reference, "forward_in_blocks", lambda *a: taken.append(1) or blocks(*a)
    )
    rng = np.random.default_rng(4)
    shapes = plain.model.LECTURE_WEIGHT_SHAPES
    weights = [rng.uniform(-0.3, 0.3, s) for s in shapes]
    huge = [w * 1e3 for w in weights]
    for n in (9, 17, 40):
        x = rng.random((n, 28, 28, 1))
        for w in (weights, tuple(weights), huge):
            got = _conv_outcome(sol.model.lecture_model_forward, x, w)
            assert got == _conv_outcome(plain.model.lecture_model_forward, x, w), n
    assert len(taken) == 9
    taken.clear()
    x = rng.random((12, 28, 28, 1))
    for args, kwargs in (
        ((x[:8], weights), {}), ((x, weights[:5]), {}),
        ((x, [w.astype(np.float32) for w in weights]), {}),
        ((x.astype(np.float32), weights), {}), ((x[:, :27], weights), {}),
        ((x, weights[:4] + [weights[4].T, weights[5]]), {}), ((x.tolist(), weights), {}),
        ((x, weights), {"training": 0}),
    ):  # fmt: skip
        got = _conv_outcome(sol.model.lecture_model_forward, *args, **kwargs)
        assert got == _conv_outcome(plain.model.lecture_model_forward, *args, **kwargs)
    assert not taken
    x = rng.random((10, 28, 28, 1))
    got = sol.model.lecture_model_forward(x, weights, True, np.random.default_rng(1))
    want = plain.model.lecture_model_forward(x, weights, True, np.random.default_rng(1))
    assert got.tobytes() == want.tobytes()
