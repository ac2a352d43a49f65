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
    # BEGIN STUDENT CODE
    n, length, c = x.shape
    if padding == "same":
        n_out = (length + s - 1) // s
        total = max((n_out - 1) * s + p - length, 0)
        before = total // 2
        padded = np.full((n, length + total, c), -np.inf, dtype=x.dtype)
        padded[:, before : before + length, :] = x
    else:
        n_out = (length - p) // s + 1
        padded = x
    y = np.empty((n, n_out, c), dtype=x.dtype)
    for i in range(n_out):
        y[:, i, :] = np.max(padded[:, i * s : i * s + p, :], axis=1)
    return y
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
    # BEGIN STUDENT CODE
    n, length, c = x.shape
    if padding == "same":
        n_out = (length + s - 1) // s
        before = max((n_out - 1) * s + p - length, 0) // 2
    else:
        n_out = (length - p) // s + 1
        before = 0
    y = np.empty((n, n_out, c), dtype=np.result_type(x.dtype, np.float32))
    for i in range(n_out):
        # the window in input coordinates, cut to the real cells
        lo = max(i * s - before, 0)
        hi = min(i * s - before + p, length)
        y[:, i, :] = np.sum(x[:, lo:hi, :], axis=1) / (hi - lo)
    return y
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
    # BEGIN STUDENT CODE
    n, h, w, c = x.shape
    if padding == "same":
        h_out, w_out = (h + sh - 1) // sh, (w + sw - 1) // sw
        total_h = max((h_out - 1) * sh + ph - h, 0)
        total_w = max((w_out - 1) * sw + pw - w, 0)
        top, left = total_h // 2, total_w // 2
        # -inf so that a padded cell never wins
        padded = np.full((n, h + total_h, w + total_w, c), -np.inf, dtype=x.dtype)
        padded[:, top : top + h, left : left + w, :] = x
    else:
        h_out, w_out = (h - ph) // sh + 1, (w - pw) // sw + 1
        padded = x
    y = np.empty((n, h_out, w_out, c), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = padded[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :]
            y[:, i, j, :] = np.max(window, axis=(1, 2))
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
    # BEGIN STUDENT CODE
    n, h, w, c = x.shape
    if padding == "same":
        h_out, w_out = (h + sh - 1) // sh, (w + sw - 1) // sw
        top = max((h_out - 1) * sh + ph - h, 0) // 2
        left = max((w_out - 1) * sw + pw - w, 0) // 2
    else:
        h_out, w_out = (h - ph) // sh + 1, (w - pw) // sw + 1
        top = left = 0
    y = np.empty((n, h_out, w_out, c), dtype=np.result_type(x.dtype, np.float32))
    for i in range(h_out):
        r0 = max(i * sh - top, 0)
        r1 = min(i * sh - top + ph, h)
        for j in range(w_out):
            c0 = max(j * sw - left, 0)
            c1 = min(j * sw - left + pw, w)
            # only the real cells of the window: sum / how many there are
            cells = (r1 - r0) * (c1 - c0)
            y[:, i, j, :] = np.sum(x[:, r0:r1, c0:c1, :], axis=(1, 2)) / cells
    return y
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
    # BEGIN STUDENT CODE
    n, h, w, c = x.shape
    return np.max(x.reshape(n, h * w, c), axis=1)
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
    # BEGIN STUDENT CODE
    n, h, w, c = x.shape
    return np.sum(x.reshape(n, h * w, c), axis=1) / (h * w)
    # END STUDENT CODE
