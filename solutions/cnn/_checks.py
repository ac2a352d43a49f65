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
        raise ValueError(
            f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}."
        )
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
