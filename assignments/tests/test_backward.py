"""Public tests for cnn/backward.py (part 2): the single-window helpers first, then each layer.

Run them with ``pytest tests/test_backward.py``. Expected values come from hand-worked examples
(the lecture's X image below) and from the slow loops ``_loop_*`` in this file, which follow the
docstring formulas literally: one output position at a time, adding (``+=``) into the input
gradient. Your vectorised functions must give the same numbers.
"""

import numpy as np
import pytest
from cnn import backward, conv, pooling

# The lecture's 9x9 image of an "X", and its "X"-shaped kernel.
X_IMAGE = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 0, 1, 0],
        [0, 0, 1, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=float,
)
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)


def _geometry(n, k, s, d, padding):
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        return (n - k_eff) // s + 1, (0, 0)
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return out, (total // 2, total - total // 2)


def _loop_conv2d_backward(dy, x, kernel, stride, padding, dilation):
    """dx, dkernel, dbias one output position at a time (conv2d_window_backward's formula)."""
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw, _, _ = kernel.shape
    (_, ph), (_, pw) = (
        _geometry(x.shape[1], kh, sh, dh, padding),
        _geometry(x.shape[2], kw, sw, dw, padding),
    )
    x_pad = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    dx_pad, dk = np.zeros_like(x_pad), np.zeros_like(kernel)
    for n in range(dy.shape[0]):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                rows = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
                cols = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
                window = x_pad[n, rows, cols, :]
                dx_pad[n, rows, cols, :] += kernel @ dy[n, i, j]
                dk += window[..., None] * dy[n, i, j]
    dx = dx_pad[:, ph[0] : dx_pad.shape[1] - ph[1], pw[0] : dx_pad.shape[2] - pw[1], :]
    return dx, dk, dy.sum(axis=(0, 1, 2))


def _loop_pool2d_backward(dy, x, pool, stride, padding, kind):
    (ph, pw), (sh, sw) = pool, stride
    (_, pad_h), (_, pad_w) = (
        _geometry(x.shape[1], ph, sh, 1, padding),
        _geometry(x.shape[2], pw, sw, 1, padding),
    )
    fill = -np.inf if kind == "max" else np.nan  # NaN marks padding for the average
    x_pad = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=fill)
    dx_pad = np.zeros_like(x_pad)
    for n in range(dy.shape[0]):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                for c in range(dy.shape[3]):
                    rows, cols = slice(i * sh, i * sh + ph), slice(j * sw, j * sw + pw)
                    window = x_pad[n, rows, cols, c]
                    if kind == "max":
                        a, b = np.unravel_index(np.argmax(window), window.shape)  # first max
                        dx_pad[n, i * sh + a, j * sw + b, c] += dy[n, i, j, c]
                    else:
                        real = ~np.isnan(window)
                        dx_pad[n, rows, cols, c] += np.where(real, dy[n, i, j, c] / real.sum(), 0)
    return dx_pad[:, pad_h[0] : dx_pad.shape[1] - pad_h[1], pad_w[0] : dx_pad.shape[2] - pad_w[1]]


# ---------------------------------------------------------------------------------------------
# the single-window helpers


@pytest.mark.item("backward.unpad2d")
def test_unpad2d_crops_the_padding_including_an_uneven_split():
    x = np.arange(2 * 3 * 4 * 2, dtype=float).reshape(2, 3, 4, 2)
    padded = np.pad(x, ((0, 0), (0, 1), (1, 2), (0, 0)), constant_values=7.0)
    out = backward.unpad2d(padded, ((0, 1), (1, 2)))
    np.testing.assert_array_equal(out, x, err_msg="bottom == 0 / right == 0 must crop nothing")
    np.testing.assert_array_equal(backward.unpad2d(x, ((0, 0), (0, 0))), x)


@pytest.mark.item("backward.conv2d_window_backward")
def test_conv2d_window_backward_one_position():
    rng = np.random.default_rng(0)
    window, kernel, dy_pos = (
        rng.normal(size=(2, 3, 2)),
        rng.normal(size=(2, 3, 2, 4)),
        rng.normal(size=4),
    )
    dwindow, dkernel = backward.conv2d_window_backward(dy_pos, window, kernel)
    assert dwindow.shape == (2, 3, 2) and dkernel.shape == (2, 3, 2, 4)
    # y[f] = sum window * kernel[..., f]: its slope w.r.t. window is kernel[..., f]
    np.testing.assert_allclose(dwindow, sum(dy_pos[f] * kernel[..., f] for f in range(4)))
    np.testing.assert_allclose(dkernel[..., 1], window * dy_pos[1])


@pytest.mark.item("backward.max_pool_window_backward")
def test_max_pool_window_backward_sends_everything_to_the_first_maximum():
    np.testing.assert_array_equal(
        backward.max_pool_window_backward(1.0, np.array([[1.0, 3.0], [3.0, 0.0]])),
        [[0, 1], [0, 0]],
        err_msg="a tie: the FIRST maximum in row-major order gets the whole gradient",
    )
    got = backward.max_pool_window_backward(2.5, np.array([[-4.0, -1.0, -3.0], [-2.0, -5.0, -9.0]]))
    np.testing.assert_array_equal(got, [[0, 2.5, 0], [0, 0, 0]])


@pytest.mark.item("backward.avg_pool_window_backward")
def test_avg_pool_window_backward_shares_among_real_cells():
    full = backward.avg_pool_window_backward(9.0, np.ones((3, 3), dtype=bool))
    np.testing.assert_allclose(full, np.ones((3, 3)))
    corner = np.array([[False, False, False], [False, True, True], [False, True, True]])
    got = backward.avg_pool_window_backward(8.0, corner)
    np.testing.assert_allclose(got, np.where(corner, 2.0, 0.0), err_msg="'same' corner: 8 / 4")


# ---------------------------------------------------------------------------------------------
# the lecture's X through conv + max pooling, backwards by hand


@pytest.mark.item("backward.conv2d_backward", "backward.max_pool2d_backward")
def test_lecture_x_through_conv_and_max_pool_backward_by_hand():
    """L = sum(max_pool2d(conv2d(X, CROSS), 2)): which cells of X and CROSS does L depend on?

    The response map r = conv2d(X, CROSS) is 7x7 (test_conv.py). Pooling 2x2 with stride 2
    keeps rows/cols 0..5 (3x3 outputs: [[3, 2, 3], [2, 5, 3], [3, 3, 3]]) and each of the 9
    windows passes its gradient 1 to its first maximum. The bottom-right window
    [[3, 0], [0, 3]] is a tie: its top-left 3, at r[4, 4], wins.
    """
    x = X_IMAGE.reshape(1, 9, 9, 1)
    kernel = CROSS.reshape(3, 3, 1, 1)
    r = conv.conv2d(x, kernel)
    dy = np.ones((1, 3, 3, 1))
    dr = backward.max_pool2d_backward(dy, r, 2)
    winners = [(1, 1), (1, 3), (1, 5), (3, 1), (3, 3), (2, 4), (5, 1), (4, 2), (4, 4)]
    expected_dr = np.zeros((7, 7))
    for i, j in winners:
        expected_dr[i, j] = 1.0
    np.testing.assert_array_equal(dr[0, :, :, 0], expected_dr, err_msg="the 9 winners of r")

    dx, dkernel, dbias = backward.conv2d_backward(dr, x, kernel)
    # every winning output adds the kernel at its window into dx, and its window into dkernel
    expected_dx, expected_dk = np.zeros((9, 9)), np.zeros((3, 3))
    for i, j in winners:
        expected_dx[i : i + 3, j : j + 3] += CROSS
        expected_dk += X_IMAGE[i : i + 3, j : j + 3]
    np.testing.assert_allclose(dx[0, :, :, 0], expected_dx, err_msg="dL/dX")
    np.testing.assert_allclose(dkernel[:, :, 0, 0], expected_dk, err_msg="dL/dkernel")
    np.testing.assert_allclose(dbias, [9.0], err_msg="dL/dbias: one per winning output")
    assert dx[0, 3, 3, 0] == 4.0, "X[3, 3] is under a 1 of CROSS in 4 winning windows"


# ---------------------------------------------------------------------------------------------
# the layers against the loops


@pytest.mark.item("backward.conv2d_backward")
@pytest.mark.parametrize(
    "h,w,k,stride,padding,dilation",
    [
        (5, 6, (3, 2), (1, 1), "valid", (1, 1)),
        (7, 7, (3, 3), (2, 2), "same", (1, 1)),  # overlapping windows, TF 'same' (0, 1)
        (6, 5, (2, 3), (1, 2), "same", (1, 1)),
        (7, 6, (2, 2), (1, 1), "valid", (2, 2)),
        (6, 6, (3, 3), (1, 1), "same", (2, 1)),
        (8, 7, (3, 3), (3, 3), "valid", (1, 1)),  # cells no window reads get 0
    ],
)
def test_conv2d_backward_matches_the_loop(h, w, k, stride, padding, dilation):
    rng = np.random.default_rng(h * 10 + w)
    x, kernel = rng.normal(size=(2, h, w, 2)), rng.normal(size=(*k, 2, 3))
    y = conv.conv2d(x, kernel, stride=stride, padding=padding, dilation=dilation)
    dy = rng.normal(size=y.shape)
    dx, dk, db = backward.conv2d_backward(dy, x, kernel, stride, padding, dilation)
    ex, ek, eb = _loop_conv2d_backward(dy, x, kernel, stride, padding, dilation)
    assert dx.shape == x.shape, "dx has the shape of x (crop the 'same' padding)"
    np.testing.assert_allclose(dx, ex, atol=1e-12, err_msg="dx")
    np.testing.assert_allclose(dk, ek, atol=1e-12, err_msg="dkernel: (KH, KW, C_in, C_out)")
    np.testing.assert_allclose(db, eb, atol=1e-12, err_msg="dbias sums over batch AND space")


@pytest.mark.item("backward.conv1d_backward")
@pytest.mark.parametrize(
    "n,k,stride,padding,dilation",
    [(7, 3, 1, "valid", 1), (8, 3, 2, "same", 1), (9, 2, 1, "same", 3), (6, 4, 3, "valid", 1)],
)
def test_conv1d_backward_is_the_2d_one_with_height_1(n, k, stride, padding, dilation):
    rng = np.random.default_rng(n + k)
    x, kernel = rng.normal(size=(2, n, 3)), rng.normal(size=(k, 3, 2))
    y = conv.conv1d(x, kernel, stride=stride, padding=padding, dilation=dilation)
    dy = rng.normal(size=y.shape)
    dx, dk, db = backward.conv1d_backward(dy, x, kernel, stride, padding, dilation)
    ex, ek, eb = _loop_conv2d_backward(
        dy[:, None], x[:, None], kernel[None], (1, stride), padding, (1, dilation)
    )
    np.testing.assert_allclose(dx, ex[:, 0], atol=1e-12)
    np.testing.assert_allclose(dk, ek[0], atol=1e-12)
    np.testing.assert_allclose(db, eb, atol=1e-12)


@pytest.mark.item("backward.max_pool2d_backward")
@pytest.mark.parametrize(
    "h,w,pool,stride,padding",
    [
        (4, 4, (2, 2), (2, 2), "valid"),
        (5, 5, (2, 2), (2, 2), "valid"),  # the last row/col is in no window
        (5, 6, (3, 3), (1, 1), "valid"),  # overlapping windows add
        (5, 5, (3, 3), (2, 2), "same"),
        (6, 5, (2, 3), (1, 2), "same"),
    ],
)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_max_pool2d_backward_matches_the_loop(h, w, pool, stride, padding, ties):
    rng = np.random.default_rng(h * w)
    x = (
        rng.integers(0, 3, size=(2, h, w, 2)).astype(float)
        if ties
        else rng.normal(size=(2, h, w, 2))
    )
    y = pooling.max_pool2d(x, pool, stride, padding)
    dy = rng.normal(size=y.shape)
    got = backward.max_pool2d_backward(dy, x, pool, stride, padding)
    np.testing.assert_allclose(got, _loop_pool2d_backward(dy, x, pool, stride, padding, "max"))


@pytest.mark.item("backward.avg_pool2d_backward")
@pytest.mark.parametrize(
    "h,w,pool,stride,padding",
    [
        (4, 4, (2, 2), (2, 2), "valid"),
        (5, 6, (3, 3), (1, 1), "same"),
        (7, 5, (2, 3), (2, 1), "same"),
    ],
)
def test_avg_pool2d_backward_matches_the_loop(h, w, pool, stride, padding):
    rng = np.random.default_rng(h + w)
    x = rng.normal(size=(2, h, w, 2))
    y = pooling.avg_pool2d(x, pool, stride, padding)
    dy = rng.normal(size=y.shape)
    got = backward.avg_pool2d_backward(dy, x, pool, stride, padding)
    np.testing.assert_allclose(got, _loop_pool2d_backward(dy, x, pool, stride, padding, "avg"))


@pytest.mark.item("backward.dense_backward")
def test_dense_backward_shapes_and_sums():
    rng = np.random.default_rng(4)
    x, kernel, dy = rng.normal(size=(6, 5)), rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    dx, dk, db = backward.dense_backward(dy, x, kernel)
    assert (dx.shape, dk.shape, db.shape) == ((6, 5), (5, 3), (3,))
    np.testing.assert_allclose(dk, sum(np.outer(x[n], dy[n]) for n in range(6)))
    np.testing.assert_allclose(dx[2], kernel @ dy[2])
    np.testing.assert_allclose(db, dy.sum(axis=0))
    x3, dy3 = rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 4, 3))
    dx3, dk3, db3 = backward.dense_backward(dy3, x3, kernel)
    assert dx3.shape == (2, 4, 5), "any leading shape: the last axis is the features"
    np.testing.assert_allclose(
        dk3, backward.dense_backward(dy3.reshape(8, 3), x3.reshape(8, 5), kernel)[1]
    )


@pytest.mark.item("backward.dropout_backward")
def test_dropout_backward_reuses_the_mask_and_the_scaling():
    dy = np.array([[1.0, 2.0, 3.0, 4.0]])
    mask = np.array([[True, False, True, False]])
    np.testing.assert_allclose(backward.dropout_backward(dy, mask, 0.5), [[2.0, 0, 6.0, 0]])
    np.testing.assert_allclose(backward.dropout_backward(dy, mask, 0.0), [[1.0, 0, 3.0, 0]])


@pytest.mark.item("backward.softmax_crossentropy_backward")
def test_softmax_crossentropy_backward_is_p_minus_y_over_n():
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    got = backward.softmax_crossentropy_backward(y, logits)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, (p - y) / 2, err_msg="the batch mean: divide by N = 2")
    np.testing.assert_allclose(got.sum(axis=1), 0.0, atol=1e-15)
    big = backward.softmax_crossentropy_backward(np.array([[0, 1.0]]), np.array([[1000.0, 0.0]]))
    np.testing.assert_allclose(big, [[1.0, -1.0]], err_msg="stable for huge logits")


@pytest.mark.item("backward.conv2d_backward", given=True)
def test_backward_argument_checks_are_given():
    x, kernel = np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 2))
    with pytest.raises(ValueError, match="dy"):
        backward.conv2d_backward(np.zeros((1, 5, 5, 2)), x, kernel)  # 'valid' gives 3x3
    with pytest.raises(ValueError, match="padding"):
        backward.conv2d_backward(np.zeros((1, 3, 3, 2)), x, kernel, padding="full")
