"""Fast paths for the grader's own copy of the reference solutions (issue #16): its argument
checks, its ``np.pad`` and its single-channel ``conv2d``.

The grader calls the reference thousands of times per student, on arrays and numbers it built
itself (float64 arrays, Python ints and floats); the handout's checks (``cnn/_checks.py``) then
spend a good part of the time in ``np.issubdtype`` and the ``numbers`` ABCs. :func:`install`
replaces some of the checks of the *loaded reference package's* ``_checks`` module (never a file,
never the stubs, never a student's package: those run the handout's code unchanged) by a fast
path for exactly the values that are certainly valid (a plain ``np.ndarray`` of a float dtype,
an exact ``int``, ``float`` or ``bool``) that returns what the handout's check returns for them
(the same object); every other value goes to the handout's own check, so every error, every
message and every conversion is the handout's. ``tests/test_trusted_reference.py`` checks both
paths against the handout's functions.

``np.pad`` (constant mode) costs tens of microseconds per call, most of it checking and
normalising its arguments; the reference pads every input of every convolution and pooling.
The reference modules' ``np`` becomes a copy of the numpy module whose ``pad`` builds, for a
plain float ndarray padded by ``(before, after)`` pairs of ints with a number, the array
``np.pad`` builds (the same dtype, memory order and bytes: a new array filled with the value,
the input copied inside; with nothing to pad, only the copy); any other call is numpy's own
``np.pad``.

``conv2d`` of a one-channel input (the lecture model's first layer: the model's hidden cases,
their mistakes, part 2's training runs and its outcome case's forward pass over the 360 test
digits) spends most of its time in ``window @ kernel[a, b]``: with one input channel that
product has an inner dimension of 1, which numpy computes in its plain loop (no BLAS) as
``0 + x * w`` per output cell, one (N, W_out) stack row at a time. The grader's copy computes
each tap's products with one ``np.multiply`` (the same products: exact roundings of the same
two numbers; ``0 + p`` differs from ``p`` only for a zero's sign, which the sum into the
zeros it starts from erases) and adds them in the same order, a few images at a time, for
finite float64 arguments of the default geometry (stride 1, 'valid', dilation 1); every other
call is the reference's own ``conv2d``.

``model.lecture_model_forward`` of a large batch at inference (part 2's outcome case: the 360
test digits, once per student whose training run came back) runs the model's own layers on
blocks of a few images up to the pooled features and the rest (flatten, dense, softmax) on
the whole batch, as the reference does: every layer up to there treats each image on its own
(the same numpy and BLAS calls per image), so the features are the same numbers, and the
dense layer's one matrix product sees the same matrix. A block's arrays stay in the cache.
"""

from __future__ import annotations

import functools
import sys
import threading
from types import ModuleType

import numpy as np

# The dtype classes whose ``.type`` is a subclass of ``np.floating`` (every byte order).
FLOAT_DTYPES = frozenset(
    type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.longdouble)
)
MARK = "_trusted_fast_path"


def _fast(checks: ModuleType) -> dict:
    """name -> the fast check built over ``checks``' own functions (the fallbacks)."""
    as_array, float_ndarray = checks.as_array, checks.float_ndarray
    positive_int, non_negative_int = checks.positive_int, checks.non_negative_int
    real_number, boolean = checks.real_number, checks.boolean
    floats, ndarray = FLOAT_DTYPES, np.ndarray

    def fast_as_array(x, name, ndim=None):
        # np.asarray of a plain float ndarray is the array itself, and it is never converted
        if type(x) is ndarray and type(x.dtype) in floats and (ndim is None or x.ndim == ndim):
            return x
        return as_array(x, name, ndim)

    def fast_float_ndarray(x, name):
        if type(x) is ndarray and type(x.dtype) in floats and x.flags.writeable:
            return x
        return float_ndarray(x, name)

    def fast_positive_int(value, name):
        if type(value) is int and value >= 1:
            return value  # int(value) of an exact int is the same object
        return positive_int(value, name)

    def fast_non_negative_int(value, name):
        if type(value) is int and value >= 0:
            return value
        return non_negative_int(value, name)

    def fast_real_number(value, name):
        if type(value) is float:
            return value  # float(value) of an exact float is the same object
        return real_number(value, name)

    def fast_boolean(value, name):
        if value is True or value is False:
            return value  # bool(value) of True / False is the same object
        return boolean(value, name)

    return {
        "as_array": fast_as_array,
        "float_ndarray": fast_float_ndarray,
        "positive_int": fast_positive_int,
        "non_negative_int": fast_non_negative_int,
        "real_number": fast_real_number,
        "boolean": fast_boolean,
    }


def pad(array, pad_width, mode="constant", **kwargs):
    """``np.pad``: the same array, built directly for the reference's calls (see above)."""
    if (
        mode == "constant"
        and type(array) is np.ndarray
        and type(array.dtype) in FLOAT_DTYPES
        and array.size
        and (not kwargs or list(kwargs) == ["constant_values"])
        and type(pad_width) in (tuple, list)
        and len(pad_width) == array.ndim
    ):
        value = kwargs.get("constant_values", 0)
        pairs = []
        for pair in pad_width:
            if type(pair) not in (tuple, list) or len(pair) != 2:
                break
            before, after = pair
            if type(before) is not int or type(after) is not int or before < 0 or after < 0:
                break
            pairs.append((before, after))
        else:
            if type(value) in (int, float):
                shape = tuple(b + n + a for n, (b, a) in zip(array.shape, pairs, strict=True))
                # np.pad's _pad_simple: Fortran order only for an F- and not C-contiguous input
                order = "F" if array.flags.fnc else "C"
                if shape == array.shape:  # nothing to pad (max_pool2d's 'valid'): no fill
                    out = np.empty(shape, dtype=array.dtype, order=order)
                else:
                    out = np.full(shape, value, dtype=array.dtype, order=order)
                out[
                    tuple(slice(b, b + n) for n, (b, _) in zip(array.shape, pairs, strict=True))
                ] = array
                return out
    return np.pad(array, pad_width, mode, **kwargs)


_F64 = np.dtype(np.float64)
_CELLS = 8192  # output positions per block of images (a block's arrays stay in the cache)
_SCRATCH = threading.local()  # one work array per thread (see _scratch)


def _one_channel_call(x, kernel, bias, stride, padding, dilation) -> bool:
    """True for a call that every check of ``conv2d`` accepts, with one input channel, the
    default geometry and finite float64 arrays (so no NaN payload can tell two sums apart)."""
    return (
        type(x) is np.ndarray
        and type(kernel) is np.ndarray
        and x.dtype == _F64
        and kernel.dtype == _F64
        and x.ndim == 4
        and kernel.ndim == 4
        and x.shape[3] == 1
        and kernel.shape[2] == 1
        and x.shape[0] >= 1
        and 1 <= kernel.shape[0] <= x.shape[1]
        and 1 <= kernel.shape[1] <= x.shape[2]
        and kernel.shape[3] >= 1
        and type(stride) is int
        and stride == 1
        and type(dilation) is int
        and dilation == 1
        and type(padding) is str
        and padding == "valid"
        and (
            bias is None
            or (type(bias) is np.ndarray and bias.dtype == _F64 and bias.shape == kernel.shape[3:])
        )
        and bool(np.isfinite(kernel).all())
        and bool(np.isfinite(x).all())
    )


def _scratch(size: int) -> np.ndarray:
    """A float64 work array of at least ``size`` entries, kept for the next call of this thread
    (a fresh array's pages cost more to touch the first time than the arithmetic on them)."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.size < size:
        buf = _SCRATCH.buf = np.empty(size)
    return buf


def one_channel_conv2d(x: np.ndarray, kernel: np.ndarray, bias) -> np.ndarray:
    """The reference ``conv2d`` of a :func:`_one_channel_call` (see above): per block of
    images, the sum over the taps (a, b) in the reference's order of ``x * kernel[a, b, 0]``,
    kept as (filters, cells) so that each product is one contiguous multiplication; then the
    bias, added as the reference adds it."""
    n, h, w, _ = x.shape
    kh, kw, _, filters = kernel.shape
    h_out, w_out = h - kh + 1, w - kw + 1
    y = np.empty((n, h_out, w_out, filters))
    images = min(n, max(1, _CELLS // (h_out * w_out)))
    room = images * h_out * w_out
    buf = _scratch(2 * filters * room + room)
    totals = buf[: filters * room].reshape(filters, room)
    terms = buf[filters * room : 2 * filters * room].reshape(filters, room)
    windows = buf[2 * filters * room : 2 * filters * room + room].reshape(images, h_out, w_out)
    plane = x[..., 0]
    taps = [(a, b, kernel[a, b, 0][:, None]) for a in range(kh) for b in range(kw)]
    for start in range(0, n, images):
        stop = min(start + images, n)
        cells = (stop - start) * h_out * w_out
        total, term, window = totals[:, :cells], terms[:, :cells], windows[: stop - start]
        total.fill(0.0)
        for a, b, weights in taps:
            window[...] = plane[start:stop, a : a + h_out, b : b + w_out]
            np.multiply(window.reshape(1, cells), weights, out=term)
            total += term
        y[start:stop].reshape(cells, filters)[...] = total.T
    if bias is not None:
        y += bias
    return y


def fast_conv2d(conv2d):
    """``conv2d`` (the reference's) with the one-channel fast path in front of it."""

    @functools.wraps(conv2d)
    def fast(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
        if _one_channel_call(x, kernel, bias, stride, padding, dilation):
            return one_channel_conv2d(x, kernel, bias)
        return conv2d(x, kernel, bias, stride, padding, dilation)

    return fast


_BLOCK = 8  # images per block of the model's forward pass (see above)


def _plain_model_call(x, weights, shapes, training, rng) -> bool:
    """True for a call of ``lecture_model_forward`` that every one of its checks accepts as it
    is (float64 arrays of the lecture model's shapes, inference), with more than one block."""
    return (
        training is False
        and rng is None
        and type(x) is np.ndarray
        and x.dtype == _F64
        and x.ndim == 4
        and x.shape[1:] == (28, 28, 1)
        and x.shape[0] > _BLOCK
        and type(weights) in (list, tuple)
        and len(weights) == len(shapes)
        and all(
            type(w) is np.ndarray and w.dtype == _F64 and w.shape == shape
            for w, shape in zip(weights, shapes, strict=True)
        )
    )


def forward_in_blocks(model: ModuleType, x: np.ndarray, weights) -> np.ndarray:
    """``model.lecture_model_forward(x, weights)`` of a :func:`_plain_model_call`: its layers
    (the module's own functions), the convolutions and poolings a block of images at a time."""
    k1, b1, k2, b2, k3, b3 = weights
    conv2d, relu, pool = model.conv2d, model.relu, model.max_pool2d
    blocks = [
        pool(relu(conv2d(pool(relu(conv2d(x[i : i + _BLOCK], k1, b1)), 2), k2, b2)), 2)
        for i in range(0, x.shape[0], _BLOCK)
    ]
    h = model.dropout(model.flatten(np.concatenate(blocks)), 0.5, training=False, rng=None)
    return model.softmax(model.dense(h, k3, b3))


def fast_forward(model: ModuleType):
    """``model.lecture_model_forward`` (the reference's) with the block path in front of it."""
    forward = model.lecture_model_forward

    @functools.wraps(forward)
    def fast(x, weights, training=False, rng=None):
        if _plain_model_call(x, weights, model.LECTURE_WEIGHT_SHAPES, training, rng):
            return forward_in_blocks(model, x, weights)
        return forward(x, weights, training, rng)

    return fast


def _numpy_with_pad() -> ModuleType:
    """A copy of the numpy module (the same objects) whose ``pad`` is :func:`pad`."""
    fast = ModuleType(np.__name__, np.__doc__)
    fast.__dict__.update(np.__dict__)
    fast.pad = pad
    return fast


FAST_NUMPY = _numpy_with_pad()


def install(package: ModuleType) -> None:
    """The fast paths in the loaded reference ``package``: its ``_checks`` (:func:`install_checks`),
    the ``np`` of each of its modules (:data:`FAST_NUMPY`), its ``conv2d`` wherever a module
    holds it (``conv`` and the ``model`` that imports it by name: :func:`fast_conv2d`) and its
    model's forward pass (:func:`fast_forward`). Once per package."""
    install_checks(package._checks)
    prefix = package.__name__ + "."
    conv2d = package.conv.conv2d
    if not hasattr(conv2d, "__wrapped__"):  # (functools.wraps: already the fast one)
        fast = fast_conv2d(conv2d)
        for name, module in list(sys.modules.items()):
            if name.startswith(prefix) and getattr(module, "conv2d", None) is conv2d:
                module.conv2d = fast
    model = package.model
    if not hasattr(model.lecture_model_forward, "__wrapped__"):
        model.lecture_model_forward = fast_forward(model)
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix) and getattr(module, "np", None) is np:
            module.np = FAST_NUMPY


def install_checks(checks: ModuleType) -> None:
    """Give the loaded module ``checks`` (the reference package's ``_checks``) the fast paths.
    Its other functions (``int_tuple``, ``bias_vector``, ...) call these by their module-level
    names, so they take the fast paths too. Once per module."""
    if getattr(checks, MARK, False):
        return
    for name, fn in _fast(checks).items():
        fn.__doc__ = getattr(checks, name).__doc__
        setattr(checks, name, fn)
    setattr(checks, MARK, True)
