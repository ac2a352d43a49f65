"""Backward passes: the gradient of the loss with respect to each layer's inputs and weights.

Every function here takes ``dy = dL/dy``, the gradient of the loss ``L`` with respect to the
layer's OUTPUT (so ``dy`` has the shape of the forward output), and returns the gradients with
respect to the layer's input (``dx``, the shape of ``x``) and its weights. Chaining them from
the loss back to the first layer is backpropagation: exactly what ``tf.GradientTape`` does for
a Keras model (``tape.gradient(loss, [x] + layer.trainable_weights, output_gradients=dy)``).

The one rule behind every function is the chain rule summed over every place a value is used::

    dL/dx[p] = sum over every output y[q] that reads x[p] of  dL/dy[q] * dy[q]/dx[p]

so a value read by several outputs (overlapping windows, a bias added at every position)
receives the SUM of their contributions: ``+=``, never ``=``.

Scaffolding: the small helpers (``unpad2d``, ``conv2d_window_backward``,
``max_pool_window_backward``, ``avg_pool_window_backward``) are single-window steps with their
own public tests; write them first, then a loop over windows using them gives a correct (slow)
layer, which you can then vectorise. ``window_geometry`` is given.
"""

from __future__ import annotations

import numpy as np

from . import _checks


def window_geometry(
    size: int, window: int, stride: int, dilation: int, padding: str
) -> tuple[int, int, int]:
    """Given code: ``(out, before, after)`` for one spatial axis of a conv or pooling layer.

    ``window`` is the kernel (or pool) size, ``k_eff = (window - 1)*dilation + 1``. 'valid':
    ``out = floor((size - k_eff)/stride) + 1`` and no padding; 'same' (TF rule):
    ``out = ceil(size/stride)``, ``total = max((out - 1)*stride + k_eff - size, 0)``,
    ``before = total // 2``, ``after = total - before`` (the odd extra cell at the end).
    """
    k_eff = (window - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + k_eff - size, 0)
        return out, total // 2, total - total // 2
    return (size - k_eff) // stride + 1, 0, 0


def unpad2d(dx_pad: np.ndarray, pads) -> np.ndarray:
    """Crop the padding off a gradient computed for the padded input (the inverse of ``pad2d``).

    In the forward pass of a 'same' layer the input was padded,
    ``x_pad = pad2d(x, ((top, bottom), (left, right)))``, so the backward pass first computes
    ``dL/dx_pad`` of shape ``(N, top + H + bottom, left + W + right, C)``. The padded cells are
    constants, not inputs: their gradient is simply dropped, and ``dL/dx`` is the centre::

        dx[n, i, j, c] = dx_pad[n, top + i, left + j, c]

    Forgetting this step returns a gradient of the wrong shape (or, cropped on the wrong side,
    shifted by one cell where 'same' padding is uneven: the extra cell is at the bottom/right).

    Args:
        dx_pad: gradient w.r.t. the padded input, ``(N, H_pad, W_pad, C)``.
        pads: ``((top, bottom), (left, right))``, integers >= 0.

    Returns:
        ``(N, H_pad - top - bottom, W_pad - left - right, C)``.
    """
    dx_pad = _checks.as_array(dx_pad, "dx_pad", ndim=4)
    (top, bottom), (left, right) = _checks.pad_pairs(pads, 2, "pads")
    if top + bottom > dx_pad.shape[1] or left + right > dx_pad.shape[2]:
        raise ValueError(
            f"`pads` {pads!r} remove more rows or columns than `dx_pad` has (shape {dx_pad.shape})."
        )
    # BEGIN STUDENT CODE: slice the centre (mind bottom == 0 or right == 0: x[:, 1:-0] is empty)
    h, w = dx_pad.shape[1], dx_pad.shape[2]
    return dx_pad[:, top : h - bottom, left : w - right, :].copy()
    # END STUDENT CODE


def conv2d_window_backward(
    dy_pos: np.ndarray, window: np.ndarray, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ONE output position of a convolution: the single-window step.

    One output position of one sample computes, for every filter ``f``::

        y[f] = bias[f] + sum_{a, b, c} window[a, b, c] * kernel[a, b, c, f]

    where ``window`` holds the ``(KH, KW, C_in)`` input cells it reads (with stride and
    dilation: ``x_pad[n, i*sh + a*dh, j*sw + b*dw, :]``). Given ``dy_pos = dL/dy`` at that
    position, the chain rule gives::

        dL/dwindow[a, b, c]    = sum_f kernel[a, b, c, f] * dy_pos[f]
        dL/dkernel[a, b, c, f] = window[a, b, c] * dy_pos[f]

    The layer's gradients are the sums of these over every position and sample: ``dkernel`` adds
    the ``dkernel`` of every position, and ``dwindow`` is ADDED (``+=``) into ``dx_pad`` at the
    cells the window read, because neighbouring windows share cells.

    Args:
        dy_pos: ``(C_out,)``.
        window: ``(KH, KW, C_in)``.
        kernel: ``(KH, KW, C_in, C_out)``.

    Returns:
        ``(dwindow, dkernel)`` of shapes ``(KH, KW, C_in)`` and ``(KH, KW, C_in, C_out)``.
    """
    kernel = _checks.as_array(kernel, "kernel", ndim=4)
    window = _checks.shape_is(_checks.as_array(window, "window"), kernel.shape[:3], "window")
    dy_pos = _checks.shape_is(_checks.as_array(dy_pos, "dy_pos"), kernel.shape[3:], "dy_pos")
    # BEGIN STUDENT CODE: a matrix-vector product and an outer product
    dwindow = kernel @ dy_pos
    dkernel = window[..., None] * dy_pos
    return dwindow, dkernel
    # END STUDENT CODE


def max_pool_window_backward(dy_cell: float, window: np.ndarray) -> np.ndarray:
    """Gradient of ONE max-pooling window: everything goes to the first maximum.

    ``y = max(window)`` depends on one cell only (the winner), with slope 1; every other cell
    has slope 0. So ``dL/dwindow`` is zero except ``dy_cell`` at the winner.

    **Ties (graded, as TensorFlow does it):** when several cells hold the maximum, the WHOLE
    gradient goes to the FIRST of them in row-major order (row by row, left to right), not to
    each of them and not shared: ``window = [[1, 3], [3, 0]]`` gives ``[[0, dy], [0, 0]]``.

    Args:
        dy_cell: ``dL/dy`` for this window (a number).
        window: the ``(PH, PW)`` input cells of the window.

    Returns:
        ``(PH, PW)`` array.
    """
    window = _checks.as_array(window, "window", ndim=2)
    dy_cell = _checks.real_number(dy_cell, "dy_cell")
    if window.size == 0:
        raise ValueError(f"`window` must not be empty. Received: shape={window.shape}.")
    # BEGIN STUDENT CODE: np.argmax on the flattened window returns the first maximum
    dwindow = np.zeros(window.shape, dtype=np.result_type(window, np.float32))
    dwindow.flat[np.argmax(window)] = dy_cell
    return dwindow
    # END STUDENT CODE


def avg_pool_window_backward(dy_cell: float, real: np.ndarray) -> np.ndarray:
    """Gradient of ONE average-pooling window: shared equally by its real cells.

    ``y = (sum of the real cells) / count`` with ``count = real.sum()``, so each real cell has
    slope ``1/count`` and a padded cell (``real`` False, only with 'same') none::

        dL/dwindow = dy_cell / count  where real,  0 elsewhere

    With 'valid' every cell is real and this is ``dy_cell / (PH * PW)``.

    Args:
        dy_cell: ``dL/dy`` for this window (a number).
        real: boolean ``(PH, PW)``: True for cells of the input, False for padding.

    Returns:
        ``(PH, PW)`` array.
    """
    real = np.asarray(real)
    if real.ndim != 2 or not real.any():
        raise ValueError(
            f"`real` must be a 2-D boolean array with at least one True. Received: {real!r}."
        )
    dy_cell = _checks.real_number(dy_cell, "dy_cell")
    # BEGIN STUDENT CODE: dy_cell divided by the number of real cells, at the real cells
    real = real != 0
    return np.where(real, dy_cell / real.sum(), 0.0)
    # END STUDENT CODE


def conv1d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    kernel: np.ndarray,
    stride: int = 1,
    padding: str = "valid",
    dilation: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv1d`` (Keras ``Conv1D``): ``(dx, dkernel, dbias)``.

    Forward: ``y[n, i, f] = bias[f] + sum_{a, c} x_pad[n, i*s + a*d, c] * kernel[a, c, f]``.
    The chain rule, term by term::

        dbias[f]         = sum_{n, i} dy[n, i, f]
        dkernel[a, c, f] = sum_{n, i} x_pad[n, i*s + a*d, c] * dy[n, i, f]
        dx_pad[n, p, c]  = sum of kernel[a, c, f] * dy[n, i, f]
                           over every (i, a) with i*s + a*d == p, and every f

    then ``dx`` is ``dx_pad`` without the 'same' padding (``before`` cells at the start,
    ``after`` at the end, from ``window_geometry``). Cells no window reads ('valid' with a
    stride that skips the last cells) get 0. A 1-D problem is a 2-D one with height 1.

    TF counterpart: ``tape.gradient(y, [x, layer.kernel, layer.bias], output_gradients=dy)``
    on ``Conv1D`` with ``set_weights`` (internally ``conv2d_backprop_input/filter``).

    Args:
        dy: ``dL/dy``, the shape of the forward output ``(N, L_out, C_out)``.
        x: the forward input ``(N, L, C_in)``; not modified.
        kernel: ``(K, C_in, C_out)``.
        stride, padding, dilation: as in ``conv1d``.

    Returns:
        ``(dx, dkernel, dbias)``, shapes ``(N, L, C_in)``, ``(K, C_in, C_out)``, ``(C_out,)``.

    Raises:
        ValueError: as ``conv1d``, and a ``dy`` of the wrong shape.
    """
    x = _checks.as_array(x, "x", ndim=3)
    kernel = _checks.as_array(kernel, "kernel", ndim=3)
    _checks.positive_int(kernel.shape[0], "kernel.shape[0] (kernel size)")
    _checks.channels_match(x.shape[-1], kernel.shape[-2])
    (s,) = _checks.int_tuple(stride, 1, "stride")
    (d,) = _checks.int_tuple(dilation, 1, "dilation")
    padding = _checks.padding_mode(padding)
    _checks.stride_and_dilation((s,), (d,))
    if padding == "valid":
        _checks.window_fits(x.shape[1], (kernel.shape[0] - 1) * d + 1, "length")
    out_len, before, after = window_geometry(x.shape[1], kernel.shape[0], s, d, padding)
    dy = _checks.shape_is(_checks.as_array(dy, "dy"), (x.shape[0], out_len, kernel.shape[2]), "dy")
    # BEGIN STUDENT CODE: pad x; per tap a: dkernel[a] from a strided slice, dx_pad slice +=
    dy = np.asarray(dy, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    dtype = np.result_type(dy, x, kernel, np.float32)
    k = kernel.shape[0]
    x_pad = np.pad(x, ((0, 0), (before, after), (0, 0)))
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dkernel = np.zeros(kernel.shape, dtype=dtype)
    span = (out_len - 1) * s + 1
    for a in range(k):
        cells = slice(a * d, a * d + span, s)  # the input cells tap a reads, one per output
        dkernel[a] = np.tensordot(x_pad[:, cells, :], dy, axes=([0, 1], [0, 1]))
        dx_pad[:, cells, :] += dy @ kernel[a].T
    dbias = dy.sum(axis=(0, 1)).astype(dtype)
    return dx_pad[:, before : x_pad.shape[1] - after, :], dkernel, dbias
    # END STUDENT CODE


def conv2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    kernel: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    dilation: int | tuple[int, int] = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv2d`` (Keras ``Conv2D``): ``(dx, dkernel, dbias)``.

    Forward: ``y[n, i, j, f] = bias[f] + sum_{a, b, c} x_pad[n, i*sh + a*dh, j*sw + b*dw, c]
    * kernel[a, b, c, f]``. The chain rule, term by term::

        dbias[f]            = sum_{n, i, j} dy[n, i, j, f]          (over batch AND space)
        dkernel[a, b, c, f] = sum_{n, i, j} x_pad[n, i*sh + a*dh, j*sw + b*dw, c] * dy[n, i, j, f]
        dx_pad[n, p, q, c]  = sum of kernel[a, b, c, f] * dy[n, i, j, f]
                              over every (i, a, j, b) with i*sh + a*dh == p, j*sw + b*dw == q,
                              and every f

    ``dx_pad`` collects the ``dwindow`` of ``conv2d_window_backward`` from every output
    position with ``+=`` (windows overlap whenever the stride is smaller than the kernel). Then
    ``dx = unpad2d(dx_pad, pads)``: with 'same' the padding of the forward pass (TF split, the
    odd extra row/column at the bottom/right) is cropped off. The kernel gradient is a
    correlation of ``x`` with ``dy`` (not flipped, not transposed: shape ``(KH, KW, C_in,
    C_out)`` like the kernel); ``dx`` is a "full" convolution of ``dy`` with the kernel.

    TF counterpart: ``tape.gradient(y, [x, layer.kernel, layer.bias], output_gradients=dy)``
    on ``Conv2D`` with ``set_weights`` (``tf.nn.conv2d_backprop_input`` / ``_filter``).

    Args:
        dy: ``dL/dy``, the shape of the forward output ``(N, H_out, W_out, C_out)``.
        x: the forward input ``(N, H, W, C_in)``; not modified.
        kernel: ``(KH, KW, C_in, C_out)``.
        stride, padding, dilation: as in ``conv2d`` (an int or a pair each).

    Returns:
        ``(dx, dkernel, dbias)``, shapes ``(N, H, W, C_in)``, ``(KH, KW, C_in, C_out)``,
        ``(C_out,)``.

    Raises:
        ValueError: as ``conv2d``, and a ``dy`` of the wrong shape.
    """
    x = _checks.as_array(x, "x", ndim=4)
    kernel = _checks.as_array(kernel, "kernel", ndim=4)
    _checks.positive_int(kernel.shape[0], "kernel.shape[0] (kernel height)")
    _checks.positive_int(kernel.shape[1], "kernel.shape[1] (kernel width)")
    _checks.channels_match(x.shape[-1], kernel.shape[-2])
    sh, sw = _checks.int_tuple(stride, 2, "stride")
    dh, dw = _checks.int_tuple(dilation, 2, "dilation")
    padding = _checks.padding_mode(padding)
    _checks.stride_and_dilation((sh, sw), (dh, dw))
    if padding == "valid":
        _checks.window_fits(x.shape[1], (kernel.shape[0] - 1) * dh + 1, "height")
        _checks.window_fits(x.shape[2], (kernel.shape[1] - 1) * dw + 1, "width")
    h_out, top, bottom = window_geometry(x.shape[1], kernel.shape[0], sh, dh, padding)
    w_out, left, right = window_geometry(x.shape[2], kernel.shape[1], sw, dw, padding)
    dy = _checks.shape_is(
        _checks.as_array(dy, "dy"), (x.shape[0], h_out, w_out, kernel.shape[3]), "dy"
    )
    # BEGIN STUDENT CODE: pad x; per offset (a, b): dkernel[a, b] and dx_pad slice +=; unpad
    dy = np.asarray(dy, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    dtype = np.result_type(dy, x, kernel, np.float32)
    kh, kw = kernel.shape[:2]
    x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dkernel = np.zeros(kernel.shape, dtype=dtype)
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    for a in range(kh):
        rows = slice(a * dh, a * dh + span_h, sh)
        for b in range(kw):
            cols = slice(b * dw, b * dw + span_w, sw)
            # the (N, H_out, W_out, C_in) cells offset (a, b) reads, one per output position
            dkernel[a, b] = np.tensordot(x_pad[:, rows, cols, :], dy, axes=([0, 1, 2], [0, 1, 2]))
            dx_pad[:, rows, cols, :] += dy @ kernel[a, b].T
    dbias = dy.sum(axis=(0, 1, 2)).astype(dtype)
    dx = dx_pad[:, top : x_pad.shape[1] - bottom, left : x_pad.shape[2] - right, :]
    return dx, dkernel, dbias
    # END STUDENT CODE


def _pool_args(x, pool_size, stride, padding):
    """Given code: the checks of ``max_pool2d`` / ``avg_pool2d``; returns sizes and geometry."""
    x = _checks.as_array(x, "x", ndim=4)
    ph, pw = _checks.int_tuple(pool_size, 2, "pool_size")
    sh, sw = (ph, pw) if stride is None else _checks.int_tuple(stride, 2, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(x.shape[1], ph, "height", what="pool")
        _checks.window_fits(x.shape[2], pw, "width", what="pool")
    h_out, top, bottom = window_geometry(x.shape[1], ph, sh, 1, padding)
    w_out, left, right = window_geometry(x.shape[2], pw, sw, 1, padding)
    return x, (ph, pw), (sh, sw), (h_out, w_out), ((top, bottom), (left, right))


def max_pool2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    pool_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Gradient of ``max_pool2d`` (Keras ``MaxPooling2D``) with respect to its input.

    Forward: ``y[n, i, j, c] = max_{a < ph, b < pw} x_pad[n, i*sh + a, j*sw + b, c]`` (``x_pad``
    padded with ``-inf`` for 'same'). The maximum has slope 1 for its winning cell and 0 for the
    others, so::

        dx_pad[n, p, q, c] = sum of dy[n, i, j, c] over every window (i, j) that p, q WINS
        dx = unpad2d(dx_pad, pads)

    Conventions that decide the grade (measured on TF 2.21, CPU):

    - **ties**: each window sends its whole gradient to the FIRST maximum of the window in
      row-major order (``max_pool_window_backward``); the other tied cells get nothing;
    - **overlapping windows add** (``stride < pool_size``): a cell winning two windows receives
      both gradients (``+=``);
    - a padded (-inf) cell never receives gradient, and cells no window covers ('valid' drops
      the last rows/columns that do not fill a window) get 0.

    TF counterpart: ``tape.gradient(layer(x), x, output_gradients=dy)`` on ``MaxPooling2D``.

    Args:
        dy: ``dL/dy``, the shape of the forward output ``(N, H_out, W_out, C)``.
        x: the forward input ``(N, H, W, C)``; not modified.
        pool_size, stride, padding: as in ``max_pool2d``.

    Returns:
        ``dx``, shape ``(N, H, W, C)``.

    Raises:
        ValueError: as ``max_pool2d``, and a ``dy`` of the wrong shape.
    """
    x, (ph, pw), (sh, sw), (h_out, w_out), pads = _pool_args(x, pool_size, stride, padding)
    dy = _checks.shape_is(_checks.as_array(dy, "dy"), (x.shape[0], h_out, w_out, x.shape[3]), "dy")
    # BEGIN STUDENT CODE: find each window's first max; add dy there (windows may overlap)
    dy = np.asarray(dy, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    dtype = np.result_type(dy, x, np.float32)
    x_pad = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-np.inf)
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1

    def cells(a, b):  # the cell at offset (a, b) of every window
        return slice(a, a + span_h, sh), slice(b, b + span_w, sw)

    y = np.full((x.shape[0], h_out, w_out, x.shape[3]), -np.inf, dtype=x.dtype)
    for a in range(ph):
        for b in range(pw):
            np.maximum(y, x_pad[(slice(None), *cells(a, b))], out=y)
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    found = np.zeros(y.shape, dtype=bool)  # the window's first maximum has been seen
    for a in range(ph):  # row-major order over the window's offsets
        for b in range(pw):
            win = (x_pad[(slice(None), *cells(a, b))] == y) & ~found
            found |= win
            dx_pad[(slice(None), *cells(a, b))] += np.where(win, dy, 0.0)
    (top, bottom), (left, right) = pads
    return dx_pad[:, top : x_pad.shape[1] - bottom, left : x_pad.shape[2] - right, :]
    # END STUDENT CODE


def avg_pool2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    pool_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Gradient of ``avg_pool2d`` (Keras ``AveragePooling2D``) with respect to its input.

    Forward: ``y[n, i, j, c] = (sum of the real cells of window (i, j)) / count[i, j]``. Each
    real cell of a window has slope ``1 / count[i, j]``::

        dx_pad[n, p, q, c] = sum over every window (i, j) holding (p, q)
                             of dy[n, i, j, c] / count[i, j]
        dx = unpad2d(dx_pad, pads)

    - with 'same', ``count`` is the number of REAL (unpadded) cells of the window, as in the
      forward pass (``avg_pool_window_backward``): a corner window of a 3x3, stride-1 'same'
      pool divides by 4, not 9;
    - overlapping windows add; cells no window covers get 0.

    ``pool_size`` defaults to 2 here (the forward function requires it; pass the same value).
    TF counterpart: ``tape.gradient(layer(x), x, output_gradients=dy)`` on ``AveragePooling2D``.

    Args:
        dy: ``dL/dy``, the shape of the forward output ``(N, H_out, W_out, C)``.
        x: the forward input ``(N, H, W, C)`` (only its shape matters); not modified.
        pool_size, stride, padding: as in ``avg_pool2d``.

    Returns:
        ``dx``, shape ``(N, H, W, C)``.

    Raises:
        ValueError: as ``avg_pool2d``, and a ``dy`` of the wrong shape.
    """
    x, (ph, pw), (sh, sw), (h_out, w_out), pads = _pool_args(x, pool_size, stride, padding)
    dy = _checks.shape_is(_checks.as_array(dy, "dy"), (x.shape[0], h_out, w_out, x.shape[3]), "dy")
    # BEGIN STUDENT CODE: count the real cells per window; add dy / count to every cell
    dy = np.asarray(dy, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    dtype = np.result_type(dy, x, np.float32)
    padded = ((0, 0), *pads, (0, 0))
    real = np.pad(np.ones((1, x.shape[1], x.shape[2], 1)), padded)
    span_h, span_w = (h_out - 1) * sh + 1, (w_out - 1) * sw + 1
    offsets = [
        (slice(None), slice(a, a + span_h, sh), slice(b, b + span_w, sw))
        for a in range(ph)
        for b in range(pw)
    ]
    count = sum(real[cells] for cells in offsets)
    share = (dy / count).astype(dtype)
    dx_pad = np.zeros((x.shape[0], *real.shape[1:3], x.shape[3]), dtype=dtype)
    for cells in offsets:
        dx_pad[cells] += share * real[cells]
    (top, bottom), (left, right) = pads
    return dx_pad[:, top : dx_pad.shape[1] - bottom, left : dx_pad.shape[2] - right, :]
    # END STUDENT CODE


def dense_backward(
    dy: np.ndarray, x: np.ndarray, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``dense`` (Keras ``Dense`` without activation): ``(dx, dkernel, dbias)``.

    Forward: ``y[..., u] = sum_k x[..., k] * kernel[k, u] + bias[u]``. The chain rule::

        dx[..., k]     = sum_u dy[..., u] * kernel[k, u]
        dkernel[k, u]  = sum over every sample (every leading index) of x[..., k] * dy[..., u]
        dbias[u]       = sum over every leading index of dy[..., u]

    Shapes decide the products: ``dx`` has the shape of ``x``, ``dkernel`` that of ``kernel``
    ``(in, units)``. The sums run over the batch: the batch MEAN of the loss is already inside
    ``dy`` (see ``softmax_crossentropy_backward``), so do not divide by N again here.

    TF counterpart: ``tape.gradient(y, [x, layer.kernel, layer.bias], output_gradients=dy)``
    on ``Dense`` with ``set_weights``.

    Args:
        dy: ``(..., units)``, the shape of the forward output.
        x: ``(..., in)``; not modified.
        kernel: ``(in, units)``.

    Returns:
        ``(dx, dkernel, dbias)`` with shapes ``x.shape``, ``(in, units)``, ``(units,)``.

    Raises:
        ValueError: ``kernel`` not 2-D, ``x`` without an ``in`` last axis, ``dy`` of the wrong
            shape.
    """
    x = _checks.min_ndim(_checks.as_array(x, "x"), 1, "x")
    kernel = _checks.as_array(kernel, "kernel", ndim=2)
    _checks.channels_match(x.shape[-1], kernel.shape[0])
    dy = _checks.shape_is(_checks.as_array(dy, "dy"), (*x.shape[:-1], kernel.shape[1]), "dy")
    # BEGIN STUDENT CODE: two matrix products (flatten the leading axes) and a sum
    dy = np.asarray(dy, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    dtype = np.result_type(dy, x, kernel, np.float32)
    dx = (dy @ kernel.T).astype(dtype)
    x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    dkernel = (x2.T @ dy2).astype(dtype)
    dbias = dy2.sum(axis=0).astype(dtype)
    return dx, dkernel, dbias
    # END STUDENT CODE


def dropout_backward(dy: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """Gradient of inverted dropout with a given mask (Keras ``Dropout`` in training).

    Forward (training): ``y = x * mask / (1 - rate)`` with ``mask`` True for the kept units.
    It is linear in ``x``, so::

        dx = dy * mask / (1 - rate)

    Use the SAME mask as the forward pass (drawing a new one gives the gradient of another
    network), and the same ``1 / (1 - rate)`` scaling. A non-boolean mask is read as
    ``mask != 0``. (At inference dropout is the identity and ``dx = dy``.)

    TF counterpart: ``tape.gradient(x * mask / (1 - rate), x, output_gradients=dy)``.

    Args:
        dy: ``dL/dy``, any shape.
        mask: the forward pass's keep mask, the shape of ``dy``.
        rate: the drop probability, in [0, 1).

    Returns:
        ``dx``, the shape of ``dy``.

    Raises:
        ValueError: ``rate`` outside [0, 1) or ``mask`` of another shape.
    """
    dy = _checks.as_array(dy, "dy")
    rate = _checks.number_in_range(rate, "rate", 0.0, 1.0, high_open=True)
    mask = np.asarray(mask)
    _checks.same_shape(dy, mask, "dy", "mask")
    # BEGIN STUDENT CODE: keep the gradient where the unit was kept, with the same scaling
    dy = np.asarray(dy, dtype=np.float32)
    scale = np.asarray(1.0 / (1.0 - rate), dtype=np.result_type(dy, np.float32))
    return np.where(mask != 0, dy * scale, 0.0).astype(np.result_type(dy, np.float32))
    # END STUDENT CODE


def softmax_crossentropy_backward(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Gradient of the mean categorical cross-entropy of ``softmax(logits)`` w.r.t. the logits.

    The loss (Keras ``CategoricalCrossentropy(from_logits=True)``, what ``fit`` minimises for
    the lecture's ``Dense(10, activation="softmax")`` with ``loss="categorical_crossentropy"``)::

        L = (1/N) * sum_n  l_n,    l_n = -sum_k y[n, k] * log_softmax(z[n])[k]

    For one sample with labels that sum to 1 (one-hot, or a normalised soft target),
    ``log_softmax(z)[k] = z[k] - log(sum_j exp(z[j]))`` gives::

        dl/dz[j] = softmax(z)[j] - y[j]          and so   dL/dz = (softmax(z) - y) / N

    Mind the **batch mean**: ``L`` averages over the N samples, so each row of the gradient
    carries a factor ``1/N``. Combining softmax and cross-entropy in one step avoids dividing by
    a probability that can underflow to 0. (TF's fused op returns ``softmax(z) - y`` even for
    labels that do not sum to 1, where the exact derivative would be
    ``softmax(z) * sum(y) - y``; the kit follows TF, and grades normalised labels only.)

    TF counterpart: ``tape.gradient(keras.losses.CategoricalCrossentropy(from_logits=True)(y,
    z), z)``.

    Args:
        y_true: targets ``(N, K)`` (one-hot, or soft labels).
        logits: ``(N, K)``, the inputs of the softmax.

    Returns:
        ``dL/dlogits``, ``(N, K)``.

    Raises:
        ValueError: arrays not 2-D or of different shapes.
    """
    y_true = _checks.as_array(y_true, "y_true", ndim=2)
    logits = _checks.as_array(logits, "logits", ndim=2)
    _checks.same_shape(y_true, logits, "y_true", "logits")
    # BEGIN STUDENT CODE: a stable softmax (subtract the row max), minus y_true, over N
    y_true = np.asarray(y_true, dtype=np.float32)
    logits = np.asarray(logits, dtype=np.float32)
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return (p - y_true) / max(logits.shape[0], 1)
    # END STUDENT CODE
