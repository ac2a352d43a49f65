"""Activation functions and their element-wise derivatives, as in ``keras.activations``.

Every function takes an array of any shape (or a scalar) and returns an ``np.ndarray`` of the
same shape; the input is never modified. The derivatives are taken with respect to the input
``x`` (what ``tf.GradientTape`` gives for ``sum(f(x))``).
"""

from __future__ import annotations

import numpy as np

from . import _checks


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, element-wise, without overflow.

    Args:
        x: array of any shape.

    Returns:
        ``np.ndarray`` of the shape of ``x``, values in [0, 1].

    ```
    sigmoid(x) = 1 / (1 + exp(-x))            # for x >= 0
               = exp(x) / (1 + exp(x))        # for x < 0 (same value, no overflow)
    ```
    Keras: ``keras.activations.sigmoid``. ``np.exp(-x)`` on its own overflows for x < -709
    (a RuntimeWarning and a wasted computation): compute ``exp(-|x|)``, which is always <= 1.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: e = exp(-|x|), then choose 1/(1+e) or e/(1+e) by the sign of x
    return 0.5 * (1.0 + np.tanh(0.5 * x))
    # END STUDENT CODE


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid with respect to its input, element-wise.

    ```
    sigmoid'(x) = s * (1 - s)      with s = sigmoid(x);  sigmoid'(0) = 0.25
    ```
    Keras: ``tf.GradientTape`` on ``keras.activations.sigmoid``.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: reuse your sigmoid
    return 0.25 / np.cosh(0.5 * x) ** 2
    # END STUDENT CODE


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, element-wise (values in [-1, 1]).

    ```
    tanh(x) = 2 / (1 + exp(-2x)) - 1
    ```
    Keras: ``keras.activations.tanh``. ``np.tanh`` is stable; the exp formula of the lecture
    overflows for large |x| if written naively.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: one numpy call
    return 2.0 * sigmoid(2.0 * x) - 1.0
    # END STUDENT CODE


def tanh_grad(x: np.ndarray) -> np.ndarray:
    """Derivative of tanh with respect to its input, element-wise.

    ```
    tanh'(x) = 1 - tanh(x)**2      # tanh'(0) = 1
    ```
    Keras: ``tf.GradientTape`` on ``keras.activations.tanh``.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: 1 - tanh(x)**2
    return 1.0 / np.cosh(np.clip(x, -350, 350)) ** 2
    # END STUDENT CODE


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit, element-wise.

    ```
    relu(x) = max(x, 0)
    ```
    Keras: ``keras.activations.relu`` (defaults: no negative slope, no max value, threshold 0).
    Return a new array: ``x[x < 0] = 0`` would modify the caller's input.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: use np.maximum
    return np.where(x > 0, x, 0.0)
    # END STUDENT CODE


def relu_grad(x: np.ndarray) -> np.ndarray:
    """Derivative of ReLU with respect to its input, element-wise.

    ```
    relu'(x) = 1 if x > 0 else 0       # relu'(0) = 0 (TF/Keras convention; also at -0.0)
    ```
    Keras: ``tf.GradientTape`` on ``keras.activations.relu``. The value at exactly 0 is graded.
    """
    x = _checks.as_array(x, "x")
    # BEGIN STUDENT CODE: 1.0 where x > 0 (strictly), else 0.0
    return np.heaviside(x, 0.0)
    # END STUDENT CODE


def leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU, element-wise: negative inputs are multiplied by ``negative_slope``.

    ```
    leaky_relu(x) = x                   if x > 0
                  = negative_slope * x  otherwise
    ```
    Keras: ``keras.activations.leaky_relu`` (and ``activation="leaky_relu"``), whose default
    slope is **0.2**. Careful: the layer ``keras.layers.LeakyReLU()`` defaults to 0.3 (the
    Keras 2 value) and PyTorch to 0.01; this function follows ``keras.activations`` (0.2).
    The lecture calls the slope alpha.

    Args:
        x: array of any shape.
        negative_slope: slope for x <= 0. Defaults to `0.2`.
    """
    x = _checks.as_array(x, "x")
    negative_slope = _checks.real_number(negative_slope, "negative_slope")
    # BEGIN STUDENT CODE: np.where on the sign of x
    return x * np.where(x > 0, 1.0, negative_slope)
    # END STUDENT CODE


def leaky_relu_grad(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    """Derivative of leaky ReLU with respect to its input, element-wise.

    ```
    leaky_relu'(x) = 1 if x > 0 else negative_slope    # at x == 0: negative_slope
    ```
    Keras: ``tf.GradientTape`` on ``keras.activations.leaky_relu`` (TF computes
    ``x > 0 ? 1 : slope``). The lecture writes ``f(x) = x if x >= 0``, which would make the
    slope at 0 equal to 1: the graded value at exactly 0 is Keras's, ``negative_slope``.
    Defaults to a slope of `0.2`, like ``keras.activations.leaky_relu``.
    """
    x = _checks.as_array(x, "x")
    negative_slope = _checks.real_number(negative_slope, "negative_slope")
    # BEGIN STUDENT CODE: 1.0 where x > 0 (strictly), else negative_slope
    return 1.0 - (1.0 - negative_slope) * (x <= 0)
    # END STUDENT CODE


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, numerically stable.

    ```
    softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))     # along `axis`
    ```
    Subtracting the maximum changes nothing mathematically but keeps ``exp`` from overflowing:
    ``softmax([1000, 1001, 1002]) = [0.0900, 0.2447, 0.6652]``, where the naive formula gives
    NaN. Keras: ``keras.activations.softmax(x, axis=-1)``.

    Args:
        x: array of at least 1 dimension.
        axis: the axis that sums to 1. Defaults to `-1` (the last axis, the classes).

    Returns:
        ``np.ndarray`` of the shape of ``x``; every slice along ``axis`` sums to 1.
    """
    x = _checks.min_ndim(_checks.as_array(x, "x"), 1, "x")
    axis = _checks.axis_index(axis, x.ndim)
    # BEGIN STUDENT CODE: subtract the max along axis (keepdims=True) before np.exp
    shifted = x - np.amax(x, axis=axis, keepdims=True)
    logsum = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return np.exp(shifted - logsum)
    # END STUDENT CODE
