"""Argument checks shared by every exercise module (given code: nothing to fill in here).

Every check raises ``ValueError`` with a message that names the argument, says what was
expected and what was received, in the style of Keras's own errors.
"""

from __future__ import annotations

import numbers

import numpy as np

PADDINGS = ("valid", "same")


def as_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float ndarray (never a copy of a float array); check its rank."""
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"`{name}` must be a numeric array. Received: dtype={arr.dtype}.")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array. Received: shape={arr.shape} ({arr.ndim}-D)."
        )
    return arr


def positive_int(value, name: str) -> int:
    """Check that ``value`` is an integer >= 1 and return it as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}.")
    return int(value)


def non_negative_int(value, name: str) -> int:
    """Check that ``value`` is an integer >= 0 and return it as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}.")
    if value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}.")
    return int(value)


def int_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """Expand an int or a sequence of ``n`` ints (each >= 1) into a tuple of ``n`` ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(
                f"`{name}` must be an int or a tuple of {n} ints. Received: {name}={value!r}."
            )
        return tuple(positive_int(v, name) for v in value)
    return (positive_int(value, name),) * n


def padding_mode(padding) -> str:
    """Check that ``padding`` is 'valid' or 'same' and return it."""
    if padding not in PADDINGS:
        raise ValueError(f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}.")
    return padding


def stride_and_dilation(strides: tuple[int, ...], dilations: tuple[int, ...]) -> None:
    """Keras refuses a stride > 1 together with a dilation > 1; so does this kit."""
    if any(s > 1 for s in strides) and any(d > 1 for d in dilations):
        raise ValueError(
            "`stride` > 1 is not supported together with `dilation` > 1. "
            f"Received: stride={strides}, dilation={dilations}."
        )


def window_fits(length: int, window: int, name: str, what: str = "kernel") -> None:
    """For 'valid' padding a window larger than the input is an error (Keras's convs agree)."""
    if window > length:
        raise ValueError(
            f"With padding='valid' the {what} must fit inside the input: effective {what} "
            f"size {window} > input {name} {length}."
        )


def number_in_range(value, name: str, low: float, high: float, *, high_open: bool) -> float:
    """Check ``low <= value <= high`` (``< high`` when ``high_open``) and return a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}.")
    v = float(value)
    ok = low <= v < high if high_open else low <= v <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"`{name}` must be in [{low:g}, {high:g}{bracket}. Received: {name}={value!r}."
        )
    return v


def non_negative_number(value, name: str) -> float:
    """Check that ``value`` is a real number >= 0 and return it as a float."""
    return number_in_range(value, name, 0.0, float("inf"), high_open=False)


def pad_pairs(pads, n: int, name: str = "pads") -> tuple[tuple[int, int], ...]:
    """Check ``((before, after), ...)``: ``n`` pairs of integers >= 0; return them as ints."""
    ok = isinstance(pads, (tuple, list)) and len(pads) == n
    ok = ok and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pads)
    if not ok:
        form = ", ".join(["(before, after)"] * n)
        raise ValueError(f"`{name}` must have the form ({form}). Received: {name}={pads!r}.")
    return tuple((non_negative_int(a, name), non_negative_int(b, name)) for a, b in pads)


def channels_match(x_channels: int, kernel_channels: int) -> None:
    """The kernel's input-channel axis (``kernel.shape[-2]``) must equal ``x.shape[-1]``."""
    if x_channels != kernel_channels:
        raise ValueError(
            "`kernel` must have as many input channels as `x`: expected "
            f"kernel.shape[-2] == x.shape[-1] == {x_channels}. "
            f"Received: kernel.shape[-2]={kernel_channels}."
        )


def bias_vector(bias, units: int, name: str = "bias") -> np.ndarray | None:
    """``None``, or ``bias`` as a float array of shape ``(units,)`` (one value per output unit)."""
    if bias is None:
        return None
    arr = as_array(bias, name)
    if arr.shape != (units,):
        raise ValueError(
            f"`{name}` must have shape ({units},), one value per output channel. "
            f"Received: {name}.shape={arr.shape}."
        )
    return arr


# --- checks used by activations, optimizers, regularization, training and model -------------


def real_number(value, name: str) -> float:
    """Check that ``value`` is a real number (not a bool) and return it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}.")
    return float(value)


def boolean(value, name: str) -> bool:
    """Check that ``value`` is True or False and return it as a Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}.")
    return bool(value)


def one_of(value, name: str, choices: tuple) -> object:
    """Check that ``value`` is one of ``choices`` and return it."""
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {expected}. Received: {name}={value!r}.")
    return value


def axis_index(axis, ndim: int, name: str = "axis") -> int:
    """Check that ``axis`` is a valid axis of an ``ndim``-D array; return it as a Python int."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer. Received: {name}={axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"`{name}` must be in [{-ndim}, {ndim - 1}] for a {ndim}-D input. "
            f"Received: {name}={axis!r}."
        )
    return int(axis)


def min_ndim(arr: np.ndarray, n: int, name: str) -> np.ndarray:
    """Check that ``arr`` has at least ``n`` dimensions and return it."""
    if arr.ndim < n:
        raise ValueError(
            f"`{name}` must have at least {n} dimension(s). "
            f"Received: shape={arr.shape} ({arr.ndim}-D)."
        )
    return arr


def shape_is(arr: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """Check that ``arr.shape == shape`` (``None`` entries match any size) and return ``arr``."""
    ok = arr.ndim == len(shape) and all(
        e is None or e == s for e, s in zip(shape, arr.shape, strict=True)
    )
    if not ok:
        wanted = "(" + ", ".join("N" if e is None else str(e) for e in shape) + ")"
        raise ValueError(f"`{name}` must have shape {wanted}. Received: shape={arr.shape}.")
    return arr


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Check that two arrays have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_b}` must have the same shape as `{name_a}`. "
            f"Received: {name_a}.shape={a.shape}, {name_b}.shape={b.shape}."
        )


def array_list(value, name: str) -> list:
    """Check that ``value`` is a list or tuple and return it as a list."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            f"`{name}` must be a list of arrays. Received: {name} of type {type(value).__name__}."
        )
    return list(value)


def float_ndarray(x, name: str) -> np.ndarray:
    """Check that ``x`` is a writeable floating-point ndarray (it is updated in place)."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        what = f"dtype={x.dtype}" if isinstance(x, np.ndarray) else f"type {type(x).__name__}"
        raise ValueError(
            f"`{name}` must be a floating-point np.ndarray (it is updated in place). "
            f"Received: {what}."
        )
    if not x.flags.writeable:
        raise ValueError(f"`{name}` must be writeable (it is updated in place).")
    return x


def generator_or_none(rng, name: str = "rng"):
    """Check that ``rng`` is None or a ``np.random.Generator`` and return it."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"`{name}` must be a np.random.Generator (e.g. np.random.default_rng(0)) or None. "
            f"Received: {name} of type {type(rng).__name__}."
        )
    return rng
