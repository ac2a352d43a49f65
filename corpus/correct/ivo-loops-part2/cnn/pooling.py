"""Pooling layers, forward pass only: max and average pooling in 1-D and 2-D, global pooling.

Pooling works on each channel separately (channels-last). ``stride=None`` means
``stride = pool_size`` (non-overlapping windows), as in Keras. With ``padding="same"`` the
windows are placed with the TF rule of ``cnn.shapes.same_padding`` (odd extra cell at the
end), but the padded cells never count: max pooling pads with ``-inf``, average pooling divides
by the number of REAL input cells in each window.
"""

from __future__ import annotations

import numpy as np

from . import _checks


def max_pool1d(
    x: np.ndarray, pool_size: int = 2, stride: int | None = None, padding: str = "valid"
) -> np.ndarray:
    """Maximum over windows of a batch of sequences (Keras ``MaxPooling1D``).

    ::

        y[n, i, c] = max_{a < pool_size} x_pad[n, i*stride + a, c]

    ``x_pad`` is ``x`` for 'valid'. For 'same' it is ``x`` padded with ``-inf`` by the TF split
    (``total = max((ceil(L/s) - 1)*s + pool_size - L, 0)``, ``total // 2`` before, the rest
    after), so a padded cell never wins, even when every real value is negative.
    Output length: ``floor((L - pool_size)/s) + 1`` ('valid') or ``ceil(L/s)`` ('same').

    Args:
        x: input of shape ``(N, L, C)``; it is not modified.
        pool_size: cells per window (>= 1). Defaults to ``2``.
        stride: step between windows (>= 1), ``None`` for ``pool_size``. Defaults to ``None``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        An array of shape ``(N, L_out, C)``.

    Raises:
        ValueError: ``x`` not 3-D, a size < 1, an unknown ``padding``, or with 'valid' a
            window larger than ``L`` (Keras returns an empty tensor there; the kit is stricter).
    """
    x = _checks.as_array(x, "x", ndim=3)
    (p,) = _checks.int_tuple(pool_size, 1, "pool_size")
    (s,) = (p,) if stride is None else _checks.int_tuple(stride, 1, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(x.shape[1], p, "length", what="pool")
    # BEGIN STUDENT CODE: pad with -inf for 'same'; the max of every window
    length = x.shape[1]
    if padding == "same":
        out_len = -(-length // s)
        total = max((out_len - 1) * s + p - length, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)), constant_values=-np.inf)
    else:
        out_len = (length - p) // s + 1
    span = (out_len - 1) * s + 1
    y = x[:, 0:span:s, :]
    for a in range(1, p):
        y = np.maximum(y, x[:, a : a + span : s, :])
    return np.array(y)  # a fresh array even when pool_size == 1 (never a view of x)
    # END STUDENT CODE


def avg_pool1d(
    x: np.ndarray, pool_size: int, stride: int | None = None, padding: str = "valid"
) -> np.ndarray:
    """Mean over windows of a batch of sequences (Keras ``AveragePooling1D``).

    ``pool_size`` has no default (Keras's ``AveragePooling1D`` requires it too)::

        y[n, i, c] = (sum of the REAL cells of window i) / (number of REAL cells)

    With 'valid' every window is full, so this is the plain mean of ``pool_size`` cells. With
    'same' (TF split, ``before = total // 2``) a window that hangs over the border is averaged
    over its REAL cells only: padding is excluded from the count (on ``[1, 2, 3]`` with
    ``pool_size=3, stride=1`` the first output is (1 + 2) / 2 = 1.5, not 1.0).
    Output length: ``floor((L - pool_size)/s) + 1`` ('valid') or ``ceil(L/s)`` ('same').

    Args:
        x: input of shape ``(N, L, C)``; it is not modified.
        pool_size: cells per window (>= 1).
        stride: step between windows (>= 1), ``None`` for ``pool_size``. Defaults to ``None``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        An array of shape ``(N, L_out, C)``.

    Raises:
        ValueError: ``x`` not 3-D, a size < 1, an unknown ``padding``, or with 'valid' a
            window larger than ``L``.
    """
    x = _checks.as_array(x, "x", ndim=3)
    (p,) = _checks.int_tuple(pool_size, 1, "pool_size")
    (s,) = (p,) if stride is None else _checks.int_tuple(stride, 1, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(x.shape[1], p, "length", what="pool")
    # BEGIN STUDENT CODE: the mean of the real (unpadded) cells of every window
    length = x.shape[1]
    ones = np.ones((1, length, 1))  # marks the real cells
    if padding == "same":
        out_len = -(-length // s)
        total = max((out_len - 1) * s + p - length, 0)
        pads = ((0, 0), (total // 2, total - total // 2), (0, 0))
        x, ones = np.pad(x, pads), np.pad(ones, pads)
    else:
        out_len = (length - p) // s + 1
    span = (out_len - 1) * s + 1
    total_sum = np.zeros((x.shape[0], out_len, x.shape[2]), dtype=np.result_type(x, np.float32))
    count = np.zeros((1, out_len, 1))
    for a in range(p):
        total_sum += x[:, a : a + span : s, :]
        count += ones[:, a : a + span : s, :]
    return total_sum / count.astype(total_sum.dtype)
    # END STUDENT CODE


def pool2d_one_window(window: np.ndarray, mode: str = "max") -> float:
    """A first small step towards the 2-D pooling layers: one window of one channel.

    ``mode="max"`` gives the largest value of the ``(PH, PW)`` window, ``mode="avg"`` its mean.
    In a 'same' layer the padded cells are not real inputs: for max pooling they hold ``-inf``
    (they never win), and for average pooling only the real cells count, so pass only those.

    This helper is yours, not graded: ``tests/test_pooling.py`` checks it, and
    ``max_pool2d`` / ``avg_pool2d`` can first be written with it (loops over positions and
    channels), then made faster.

    Args:
        window: the ``(PH, PW)`` cells of one channel that one output looks at (at least one).
        mode: ``"max"`` or ``"avg"``. Defaults to ``"max"``.

    Returns:
        A Python float.

    Raises:
        ValueError: ``window`` not 2-D or empty, or an unknown ``mode``.
    """
    window = _checks.as_array(window, "window", ndim=2)
    if window.size == 0:
        raise ValueError("`window` must hold at least one cell. Received: an empty window.")
    if mode not in ("max", "avg"):
        raise ValueError(f"`mode` must be 'max' or 'avg'. Received: mode={mode!r}.")
    # BEGIN STUDENT CODE: one numpy reduction, chosen by mode
    return float(window.max() if mode == "max" else window.mean())
    # END STUDENT CODE


def max_pool2d(
    x: np.ndarray,
    pool_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Maximum over windows of a batch of images, per channel (Keras ``MaxPooling2D``).

    ::

        y[n, i, j, c] = max_{a < ph, b < pw} x_pad[n, i*sh + a, j*sw + b, c]

    ``pool_size`` and ``stride`` are an int (both axes) or a pair; ``stride=None`` means
    ``stride = pool_size``, so the default is the lecture's 2x2 pool with stride 2. 'valid' drops
    the trailing rows/columns that do not fill a window (13x13 -> 6x6). 'same' pads each axis
    by the TF split (odd extra cell at the bottom/right) with ``-inf``, so padding never wins.
    Output size per axis: ``floor((n - p)/s) + 1`` ('valid') or ``ceil(n/s)`` ('same').

    Args:
        x: input of shape ``(N, H, W, C)``; it is not modified.
        pool_size: int or ``(ph, pw)``, each >= 1. Defaults to ``2``.
        stride: int or ``(sh, sw)`` each >= 1, or ``None`` for ``pool_size``. Defaults to ``None``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        An array of shape ``(N, H_out, W_out, C)``.

    Raises:
        ValueError: ``x`` not 4-D, a size < 1, an unknown ``padding``, or with 'valid' a
            window larger than the input on either axis (Keras returns an empty tensor there).
    """
    x = _checks.as_array(x, "x", ndim=4)
    ph, pw = _checks.int_tuple(pool_size, 2, "pool_size")
    sh, sw = (ph, pw) if stride is None else _checks.int_tuple(stride, 2, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(x.shape[1], ph, "height", what="pool")
        _checks.window_fits(x.shape[2], pw, "width", what="pool")
    # BEGIN STUDENT CODE: pad with -inf for 'same'; pool2d_one_window is a first step
    pads, out_size = [], []
    for size, p, s in ((x.shape[1], ph, sh), (x.shape[2], pw, sw)):
        if padding == "same":
            out = -(-size // s)
            total = max((out - 1) * s + p - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - p) // s + 1
            pads.append((0, 0))
        out_size.append(out)
    h_out, w_out = out_size
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-np.inf)
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    y = np.full((x.shape[0], h_out, w_out, x.shape[3]), -np.inf, dtype=x.dtype)
    for a in range(ph):
        for b in range(pw):
            np.maximum(y, x[:, a : a + span_h : sh, b : b + span_w : sw, :], out=y)
    return y
    # END STUDENT CODE


def avg_pool2d(
    x: np.ndarray,
    pool_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Mean over windows of a batch of images, per channel (Keras ``AveragePooling2D``).

    ``pool_size`` has no default (Keras's ``AveragePooling2D`` requires it too)::

        y[n, i, j, c] = (sum of the REAL cells of window (i, j)) / (number of REAL cells)

    With 'valid' every window is full and this is the mean of ``ph * pw`` cells. With 'same'
    (TF split, odd extra cell at the bottom/right) padded cells are excluded from both the sum
    and the count: a 3x3, stride-1 'same' pool of ``arange(9).reshape(3, 3)`` has corner
    (0 + 1 + 3 + 4) / 4 = 2.0, not 8 / 9. ``stride=None`` means ``stride = pool_size``.
    Output size per axis: ``floor((n - p)/s) + 1`` ('valid') or ``ceil(n/s)`` ('same').

    Args:
        x: input of shape ``(N, H, W, C)``; it is not modified.
        pool_size: int or ``(ph, pw)``, each >= 1.
        stride: int or ``(sh, sw)`` each >= 1, or ``None`` for ``pool_size``. Defaults to ``None``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        An array of shape ``(N, H_out, W_out, C)``.

    Raises:
        ValueError: ``x`` not 4-D, a size < 1, an unknown ``padding``, or with 'valid' a
            window larger than the input on either axis.
    """
    x = _checks.as_array(x, "x", ndim=4)
    ph, pw = _checks.int_tuple(pool_size, 2, "pool_size")
    sh, sw = (ph, pw) if stride is None else _checks.int_tuple(stride, 2, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(x.shape[1], ph, "height", what="pool")
        _checks.window_fits(x.shape[2], pw, "width", what="pool")
    # BEGIN STUDENT CODE: the mean of the real (unpadded) cells of every window
    pads, out_size = [], []
    for size, p, s in ((x.shape[1], ph, sh), (x.shape[2], pw, sw)):
        if padding == "same":
            out = -(-size // s)
            total = max((out - 1) * s + p - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - p) // s + 1
            pads.append((0, 0))
        out_size.append(out)
    h_out, w_out = out_size
    ones = np.pad(np.ones((1, x.shape[1], x.shape[2], 1)), ((0, 0), pads[0], pads[1], (0, 0)))
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    total_sum = np.zeros(
        (x.shape[0], h_out, w_out, x.shape[3]), dtype=np.result_type(x, np.float32)
    )
    count = np.zeros((1, h_out, w_out, 1))
    for a in range(ph):
        for b in range(pw):
            total_sum += x[:, a : a + span_h : sh, b : b + span_w : sw, :]
            count += ones[:, a : a + span_h : sh, b : b + span_w : sw, :]
    return total_sum / count.astype(total_sum.dtype)
    # END STUDENT CODE


def global_max_pool2d(x: np.ndarray) -> np.ndarray:
    """Maximum over all positions of each channel (Keras ``GlobalMaxPooling2D``).

    ::

        y[n, c] = max_{i, j} x[n, i, j, c]

    Args:
        x: input of shape ``(N, H, W, C)`` with ``H, W >= 1``; it is not modified.

    Returns:
        An array of shape ``(N, C)``.

    Raises:
        ValueError: ``x`` not 4-D or with an empty spatial axis.
    """
    x = _checks.as_array(x, "x", ndim=4)
    _checks.positive_int(x.shape[1], "x.shape[1] (height)")
    _checks.positive_int(x.shape[2], "x.shape[2] (width)")
    # BEGIN STUDENT CODE: reduce over the two spatial axes (1 and 2)
    return x.max(axis=(1, 2))
    # END STUDENT CODE


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """Mean over all positions of each channel (Keras ``GlobalAveragePooling2D``).

    ::

        y[n, c] = sum_{i, j} x[n, i, j, c] / (H * W)

    Args:
        x: input of shape ``(N, H, W, C)`` with ``H, W >= 1``; it is not modified.

    Returns:
        An array of shape ``(N, C)``.

    Raises:
        ValueError: ``x`` not 4-D or with an empty spatial axis.
    """
    x = _checks.as_array(x, "x", ndim=4)
    _checks.positive_int(x.shape[1], "x.shape[1] (height)")
    _checks.positive_int(x.shape[2], "x.shape[2] (width)")
    # BEGIN STUDENT CODE: average over the two spatial axes (1 and 2)
    return x.mean(axis=(1, 2))
    # END STUDENT CODE
