"""Checking a gradient numerically: finite differences and the relative error.

A backward pass is easy to get almost right. The test every framework uses on its own layers is
to compare the analytic gradient with a numerical one: nudge one input by ``+h`` and ``-h``,
see how the (scalar) loss moves, and divide::

    dL/dx[i]  ~  (L(x + h e_i) - L(x - h e_i)) / (2 h)        (central difference)

Its error shrinks like ``h**2`` (the forward difference ``(L(x + h e_i) - L(x)) / h`` only like
``h``), until ``h`` is so small that rounding dominates: ``h = 1e-5`` in float64 is a good
compromise. To check a layer's ``dx`` for a given ``dy``, use the scalar
``L(x) = sum(layer(x) * dy)``: its gradient is exactly ``dx``.

``tf.test.compute_gradient`` and ``torch.autograd.gradcheck`` do the same.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _checks


def _scalar(value, where: str) -> float:
    """Given code: the float value of ``f``'s result; a clear error when it is not a scalar."""
    arr = np.asarray(value)
    if arr.shape != () or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(
            f"`f` must return a Python float or a 0-d array. Received {where}: {value!r}."
        )
    return float(arr)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    ::

        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)      for every entry i of x

    where ``e_i`` is the array of ``x``'s shape that is 1 at entry ``i`` and 0 elsewhere (in
    the flat, row-major order of ``x``; ``np.ndindex`` or ``x.flat`` walk it). That is 2 calls
    of ``f`` per entry, so keep the arrays you check small.

    Restore every entry after nudging it (or work on a copy): ``x`` must hold its original
    values when this returns, and each difference must nudge one entry only.

    Args:
        f: a function of one array (the shape of ``x``) returning a Python float or a 0-d array.
        x: the point, a float64 array; it is unchanged when this returns.
        h: the step (> 0). Defaults to ``1e-5``.

    Returns:
        A float64 array shaped like ``x``.

    Raises:
        ValueError: ``f`` not callable, ``x`` not a float64 array, ``h`` not a positive number.
    """
    if not callable(f):
        raise ValueError(f"`f` must be a function of one array. Received: {f!r}.")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"`x` must be a float64 numpy array. Received: {got}.")
    if isinstance(h, (bool, np.bool_)) or not isinstance(h, numbers.Real) or not h > 0:
        raise ValueError(f"`h` must be a number > 0. Received: h={h!r}.")
    h = float(h)
    # BEGIN STUDENT CODE: for each index: nudge +h, f, nudge -h, f, restore; divide by 2h
    point = x.copy()  # f sees a private copy: x itself is never touched
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = point[index]
        point[index] = original + h
        plus = _scalar(f(point), f"at x + h e_{index}")
        point[index] = original - h
        minus = _scalar(f(point), f"at x - h e_{index}")
        point[index] = original
        grad[index] = (plus - minus) / (2.0 * h)
    return grad
    # END STUDENT CODE


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest element-wise relative error between two arrays, a Python float.

    ::

        max over all entries of  |a - b| / max(1e-8, |a| + |b|)

    Dividing by ``|a| + |b|`` makes the measure scale-free (1e-7 means "agree to about 7
    digits" for large and small gradients alike); the ``1e-8`` floor keeps entries where both
    are (nearly) zero from dividing by 0. Rules of thumb for a float64 gradient check with
    ``h = 1e-5``: below 1e-7 is right, 1e-4 suspicious unless the function has kinks (ReLU,
    max pooling near a tie), above 1e-2 wrong. Empty arrays give 0.0.

    Args:
        a, b: arrays of the same shape (anything ``np.asarray`` accepts).

    Returns:
        A Python float >= 0.

    Raises:
        ValueError: the shapes differ.
    """
    a = _checks.as_array(a, "a")
    b = _checks.as_array(b, "b")
    _checks.same_shape(a, b, "a", "b")
    # BEGIN STUDENT CODE: element-wise ratio with the 1e-8 floor; the max (0.0 when empty)
    if a.size == 0:
        return 0.0
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
    # END STUDENT CODE
