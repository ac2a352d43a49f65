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
    n, h, w, c = x.shape
    out = np.full((n, top + h + bottom, left + w + right, c), value, dtype=np.float32)
    out[:, top : top + h, left : left + w, :] = x
    return out
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
    # BEGIN STUDENT CODE: pad for 'same'; for each tap a: y += (strided slice of x_pad) @ kernel[a]
    x32, k32 = x.astype(np.float32), kernel.astype(np.float32)
    n, length, c_in = x32.shape
    k, _, f = k32.shape
    k_eff = (k - 1) * d + 1
    if padding == "same":
        out_len = (length + s - 1) // s
        total = max((out_len - 1) * s + k_eff - length, 0)
        x32 = np.concatenate(
            [
                np.zeros((n, total // 2, c_in), np.float32),
                x32,
                np.zeros((n, total - total // 2, c_in), np.float32),
            ],
            axis=1,
        )
    else:
        out_len = (length - k_eff) // s + 1
    y = np.zeros((n, out_len, f), dtype=np.float32)
    for i in range(out_len):
        taps = x32[:, i * s : i * s + k_eff : d, :]  # (N, K, C_in)
        y[:, i, :] = taps.reshape(n, -1) @ k32.reshape(-1, f)
    if bias is not None:
        y += bias.astype(np.float32)
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
    # BEGIN STUDENT CODE: pad for 'same'; per offset (a, b): y += strided slice @ kernel[a, b]
    x32, k32 = x.astype(np.float32), kernel.astype(np.float32)
    n, h, w, c_in = x32.shape
    kh, kw, _, f = k32.shape
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "same":
        ho, wo = (h + sh - 1) // sh, (w + sw - 1) // sw
        th, tw = max((ho - 1) * sh + eh - h, 0), max((wo - 1) * sw + ew - w, 0)
        padded = np.zeros((n, h + th, w + tw, c_in), np.float32)
        padded[:, th // 2 : th // 2 + h, tw // 2 : tw // 2 + w, :] = x32
        x32 = padded
    else:
        ho, wo = (h - eh) // sh + 1, (w - ew) // sw + 1
    flat = k32.reshape(-1, f)
    y = np.empty((n, ho, wo, f), dtype=np.float32)
    for i in range(ho):
        for j in range(wo):
            patch = x32[:, i * sh : i * sh + eh : dh, j * sw : j * sw + ew : dw, :]
            y[:, i, j, :] = patch.reshape(n, -1) @ flat
    if bias is not None:
        y += bias.astype(np.float32)
    return y
    # END STUDENT CODE
