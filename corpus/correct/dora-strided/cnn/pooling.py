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
    # BEGIN STUDENT CODE: pad with -inf for 'same'; np.maximum over the pool_size strided slices
    return max_pool2d(x[:, :, None, :], (p, 1), (s, 1), padding)[:, :, 0, :]
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
    # BEGIN STUDENT CODE: sum strided slices of the zero-padded x; divide by the real-cell count
    return avg_pool2d(x[:, :, None, :], (p, 1), (s, 1), padding)[:, :, 0, :]
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
    # BEGIN STUDENT CODE: pad with -inf for 'same'; np.maximum over the ph*pw strided slices
    from numpy.lib.stride_tricks import sliding_window_view

    xp = x.astype(np.float64)
    if padding == "same":
        th = max(ph - (sh if x.shape[1] % sh == 0 else x.shape[1] % sh), 0)
        tw = max(pw - (sw if x.shape[2] % sw == 0 else x.shape[2] % sw), 0)
        xp = np.pad(
            xp,
            ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)),
            constant_values=np.nan,
        )
    win = sliding_window_view(xp, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
    return np.nanmax(win, axis=(-2, -1))
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
    # BEGIN STUDENT CODE: sum strided slices of the zero-padded x; divide by the real-cell count
    from numpy.lib.stride_tricks import sliding_window_view

    xp = x.astype(np.float64)
    if padding == "same":
        th = max(ph - (sh if x.shape[1] % sh == 0 else x.shape[1] % sh), 0)
        tw = max(pw - (sw if x.shape[2] % sw == 0 else x.shape[2] % sw), 0)
        xp = np.pad(
            xp,
            ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)),
            constant_values=np.nan,
        )
    win = sliding_window_view(xp, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
    return np.nanmean(win, axis=(-2, -1))
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
    return np.amax(x.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
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
    return np.einsum("nhwc->nc", x) / (x.shape[1] * x.shape[2])
    # END STUDENT CODE
