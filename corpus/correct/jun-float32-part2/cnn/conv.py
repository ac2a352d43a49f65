"""Convolution layers, forward pass only: padding, 1-D and 2-D convolution (channels-last).

Keras's convolution layers compute a CROSS-CORRELATION: the kernel is slid over the input as it
is, never flipped (``scipy.signal.convolve2d`` flips it and gives different numbers). Shapes
follow Keras: inputs ``(N, ..., C_in)``, kernels ``(..., C_in, C_out)``, outputs
``(N, ..., C_out)``.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _checks


def pad2d(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of a batch of images with a constant (Keras ``ZeroPadding2D``).

    ::

        out[:, top:top + H, left:left + W, :] = x ;   every other cell = value

    Only the height and width axes are padded, never the batch or channel axes.

    Args:
        x: input of shape ``(N, H, W, C)``; it is not modified.
        pads: ``((top, bottom), (left, right))``, integers >= 0.
        value: the constant written into the new cells. Defaults to ``0.0``.

    Returns:
        An array of shape ``(N, top + H + bottom, left + W + right, C)``.

    Raises:
        ValueError: ``x`` not 4-D, or ``pads`` not of the form above or negative.
    """
    x = _checks.as_array(x, "x", ndim=4)
    (top, bottom), (left, right) = _checks.pad_pairs(pads, 2, "pads")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"`value` must be a number. Received: value={value!r}.")
    # BEGIN STUDENT CODE: np.pad with one (before, after) pair per axis; no padding for N and C
    return np.pad(
        x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode="constant", constant_values=value
    )
    # END STUDENT CODE


def conv2d_one_window(patch: np.ndarray, kernel: np.ndarray) -> float:
    """A first small step towards ``conv2d``: one kernel at one position, one channel.

    The lecture's "element-wise multiplication and sum for every local patch", for a single
    patch: ``patch`` and ``kernel`` are both ``(KH, KW)`` and the response is one number. The
    kernel is used as it is, **never flipped** (Keras computes cross-correlation).

    This helper is yours, not graded: ``tests/test_conv.py`` checks it on the lecture's X image,
    and ``conv2d`` can first be written with it (loops over positions, filters and channels),
    then made faster.

    Args:
        patch: the ``(KH, KW)`` window of one input channel.
        kernel: the ``(KH, KW)`` weights of one filter for that channel.

    Returns:
        A Python float.

    Raises:
        ValueError: not 2-D, or the two shapes differ.
    """
    patch = _checks.as_array(patch, "patch", ndim=2)
    kernel = _checks.as_array(kernel, "kernel", ndim=2)
    _checks.same_shape(patch, kernel, "patch", "kernel")
    # BEGIN STUDENT CODE: multiply elementwise, then add everything up
    return float(np.sum(patch * kernel))
    # END STUDENT CODE


def conv1d(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int = 1,
    padding: str = "valid",
    dilation: int = 1,
) -> np.ndarray:
    """1-D convolution of a batch of sequences (Keras ``Conv1D`` with ``set_weights``).

    Cross-correlation (NO kernel flip), summed over every input channel, plus the bias::

        y[n, i, f] = bias[f] + sum_{a, c} x_pad[n, i*stride + a*dilation, c] * kernel[a, c, f]

    ``x_pad`` is ``x`` itself for 'valid'. For 'same' it is ``x`` with zeros added by the TF rule
    (``cnn.shapes.same_padding``): ``total = max((ceil(L/s) - 1)*s + k_eff - L, 0)``,
    ``total // 2`` zeros before and the rest (the odd extra cell) after, ``k_eff = (K-1)*d + 1``.
    Output length: ``floor((L - k_eff)/s) + 1`` ('valid') or ``ceil(L/s)`` ('same').

    Args:
        x: input of shape ``(N, L, C_in)``; it is not modified.
        kernel: weights of shape ``(K, C_in, C_out)``.
        bias: ``(C_out,)``, or ``None`` for no bias. Defaults to ``None``.
        stride: step between two output positions (>= 1). Defaults to ``1``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        dilation: spacing between the kernel taps (>= 1). Defaults to ``1``.

    Returns:
        An array of shape ``(N, L_out, C_out)``.

    Raises:
        ValueError: wrong ranks, a channel mismatch, a bias of the wrong shape, a stride or
            dilation < 1, ``stride > 1`` together with ``dilation > 1``, an unknown ``padding``,
            or with 'valid' a ``k_eff`` larger than ``L``.
    """
    x = _checks.as_array(x, "x", ndim=3)
    kernel = _checks.as_array(kernel, "kernel", ndim=3)
    _checks.positive_int(kernel.shape[0], "kernel.shape[0] (kernel size)")
    _checks.channels_match(x.shape[-1], kernel.shape[-2])
    bias = _checks.bias_vector(bias, kernel.shape[-1])
    (s,) = _checks.int_tuple(stride, 1, "stride")
    (d,) = _checks.int_tuple(dilation, 1, "dilation")
    padding = _checks.padding_mode(padding)
    _checks.stride_and_dilation((s,), (d,))
    if padding == "valid":
        _checks.window_fits(x.shape[1], (kernel.shape[0] - 1) * d + 1, "length")
    # BEGIN STUDENT CODE: pad for 'same' (cnn.shapes.same_padding), then the formula above
    n, length, _ = x.shape
    k, _, filters = kernel.shape
    k_eff = (k - 1) * d + 1
    if padding == "same":
        out_len = -(-length // s)
        total = max((out_len - 1) * s + k_eff - length, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    else:
        out_len = (length - k_eff) // s + 1
    span = (out_len - 1) * s + 1  # input cells between the first and last window start
    y = np.zeros((n, out_len, filters), dtype=np.result_type(x, kernel, np.float32))
    for a in range(k):
        # x[:, a*d + i*s, :] for every output position i, times the tap's (C_in, C_out) weights
        y += x[:, a * d : a * d + span : s, :] @ kernel[a]
    if bias is not None:
        y += bias
    return y
    # END STUDENT CODE


def conv2d(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """2-D convolution of a batch of images, channels-last (Keras ``Conv2D`` with ``set_weights``).

    Cross-correlation (NO kernel flip), summed over every input channel, plus the bias::

        y[n, i, j, f] = bias[f] + sum_{a, b, c} x_pad[n, i*sh + a*dh, j*sw + b*dw, c]
                                                * kernel[a, b, c, f]

    Each spatial axis has its own stride ``(sh, sw)`` and dilation ``(dh, dw)``; an int means
    the same value on both axes. ``x_pad`` is ``x`` for 'valid'; for 'same' each axis gets the
    TF padding of ``cnn.shapes.same_padding``: ``total = max((ceil(n/s) - 1)*s + k_eff - n, 0)``
    zeros, ``total // 2`` at the top/left and the rest (the odd extra row/column) at the
    bottom/right, with ``k_eff = (k - 1)*d + 1``. Output size per axis: ``floor((n - k_eff)/s) + 1``
    ('valid', the lecture's ``ceil((n - k + 1)/s)`` when d = 1) or ``ceil(n/s)`` ('same').

    Args:
        x: input of shape ``(N, H, W, C_in)``; it is not modified.
        kernel: weights of shape ``(KH, KW, C_in, C_out)``, Keras's layout
            (``layer.get_weights()[0]``).
        bias: ``(C_out,)``, or ``None`` for no bias. Defaults to ``None``.
        stride: int or ``(sh, sw)``, each >= 1. Defaults to ``1``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        dilation: int or ``(dh, dw)``, each >= 1. Defaults to ``1``.

    Returns:
        An array of shape ``(N, H_out, W_out, C_out)``.

    Raises:
        ValueError: wrong ranks, a channel mismatch, a bias of the wrong shape, a stride or
            dilation < 1, ``stride > 1`` together with ``dilation > 1``, an unknown ``padding``,
            or with 'valid' a ``k_eff`` larger than the input on either axis.
    """
    x = _checks.as_array(x, "x", ndim=4)
    kernel = _checks.as_array(kernel, "kernel", ndim=4)
    _checks.positive_int(kernel.shape[0], "kernel.shape[0] (kernel height)")
    _checks.positive_int(kernel.shape[1], "kernel.shape[1] (kernel width)")
    _checks.channels_match(x.shape[-1], kernel.shape[-2])
    bias = _checks.bias_vector(bias, kernel.shape[-1])
    sh, sw = _checks.int_tuple(stride, 2, "stride")
    dh, dw = _checks.int_tuple(dilation, 2, "dilation")
    padding = _checks.padding_mode(padding)
    _checks.stride_and_dilation((sh, sw), (dh, dw))
    if padding == "valid":
        _checks.window_fits(x.shape[1], (kernel.shape[0] - 1) * dh + 1, "height")
        _checks.window_fits(x.shape[2], (kernel.shape[1] - 1) * dw + 1, "width")
    # BEGIN STUDENT CODE: pad for 'same', then the formula; conv2d_one_window is a first step
    n, h, w, _ = x.shape
    kh, kw, _, filters = kernel.shape
    pads, out_size = [], []
    for size, k, s, d in ((h, kh, sh, dh), (w, kw, sw, dw)):
        k_eff = (k - 1) * d + 1
        if padding == "same":
            out = -(-size // s)
            total = max((out - 1) * s + k_eff - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - k_eff) // s + 1
            pads.append((0, 0))
        out_size.append(out)
    h_out, w_out = out_size
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    y = np.zeros((n, h_out, w_out, filters), dtype=np.result_type(x, kernel, np.float32))
    for a in range(kh):
        for b in range(kw):
            # (N, H_out, W_out, C_in) inputs this tap sees, times its (C_in, C_out) weights
            window = x[:, a * dh : a * dh + span_h : sh, b * dw : b * dw + span_w : sw, :]
            y += window @ kernel[a, b]
    if bias is not None:
        y += bias
    return y
    # END STUDENT CODE
