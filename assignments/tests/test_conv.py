"""Public tests for cnn/conv.py: pad2d, conv1d, conv2d (channels-last, like Keras).

Run them with ``pytest tests/test_conv.py`` from your handout folder. Expected values come from
small hand-worked examples and from the slow loops ``_loop_conv1d`` / ``_loop_conv2d`` below,
which follow the docstring formula literally.
"""

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import conv

# The lecture's 9x9 image of an "X".
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
DIAGONAL = np.eye(3)  # "\"
ANTI_DIAGONAL = np.fliplr(np.eye(3))  # "/"
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)  # "X"
# The three kernels above look the same rotated by 180 degrees, so they cannot tell a flipped
# kernel (true convolution) from Keras's cross-correlation. This one can: the top of a "\"
# stroke with a bar to its left.
CORNER = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=float)


def _loop_conv1d(x_pad, kernel, bias, stride, dilation, out_len):
    n, _, c_in = x_pad.shape
    k, _, filters = kernel.shape
    y = np.zeros((n, out_len, filters))
    for b in range(n):
        for i in range(out_len):
            for f in range(filters):
                for a in range(k):
                    for c in range(c_in):
                        y[b, i, f] += x_pad[b, i * stride + a * dilation, c] * kernel[a, c, f]
                y[b, i, f] += 0.0 if bias is None else bias[f]
    return y


def _loop_conv2d(x_pad, kernel, bias, stride, dilation, out_hw):
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw, _, filters = kernel.shape
    y = np.zeros((x_pad.shape[0], *out_hw, filters))
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            for a in range(kh):
                for b in range(kw):
                    # (N, C_in) @ (C_in, F): the sum over input channels
                    y[:, i, j, :] += x_pad[:, i * sh + a * dh, j * sw + b * dw, :] @ kernel[a, b]
    return y if bias is None else y + bias


def _as_conv2d_input(image):
    return image.reshape(1, *image.shape, 1)


def _as_kernel(k2d):
    return k2d.reshape(*k2d.shape, 1, 1)


# ---------------------------------------------------------------------------------------------
# pad2d


@pytest.mark.item("conv.pad2d")
def test_pad2d_shape_and_values():
    x = np.arange(2 * 2 * 3 * 2, dtype=float).reshape(2, 2, 3, 2)
    out = conv.pad2d(x, ((1, 2), (3, 0)))
    assert out.shape == (2, 5, 6, 2), "pads ((top, bottom), (left, right)) only pad H and W"
    np.testing.assert_array_equal(out[:, 1:3, 3:6, :], x, err_msg="x must sit at [top, left]")
    border = out.copy()
    border[:, 1:3, 3:6, :] = 0.0
    assert not border.any(), "every new cell must hold the pad value (0 by default)"


@pytest.mark.item("conv.pad2d")
def test_pad2d_custom_value_and_no_padding():
    x = np.ones((1, 2, 2, 1))
    out = conv.pad2d(x, ((0, 1), (1, 0)), value=-7.0)
    expected = np.array([[-7, 1, 1], [-7, 1, 1], [-7, -7, -7]], dtype=float)
    np.testing.assert_array_equal(out[0, :, :, 0], expected)
    np.testing.assert_array_equal(conv.pad2d(x, ((0, 0), (0, 0))), x)


# ---------------------------------------------------------------------------------------------
# conv1d


@pytest.mark.item("conv.conv1d")
def test_conv1d_hand_example():
    x = np.array([1.0, 2, 3, 4, 5]).reshape(1, 5, 1)
    kernel = np.array([1.0, 0, -1]).reshape(3, 1, 1)
    y = conv.conv1d(x, kernel)
    assert y.shape == (1, 3, 1), "'valid': 5 - 3 + 1 = 3 outputs"
    assert_allclose(
        y[0, :, 0],
        [-2, -2, -2],
        err_msg="y[i] = x[i]*1 + x[i+1]*0 + x[i+2]*(-1): no kernel flip (Keras computes "
        "cross-correlation); a flipped kernel gives +2",
    )


@pytest.mark.item("conv.conv1d")
def test_conv1d_same_stride_dilation_bias_hand_examples():
    x = np.array([1.0, 2, 3, 4, 5]).reshape(1, 5, 1)
    kernel = np.array([1.0, 0, -1]).reshape(3, 1, 1)
    same = conv.conv1d(x, kernel, padding="same")[0, :, 0]
    assert_allclose(same, [-2, -2, -2, -2, 4], err_msg="'same' pads one zero per side")
    strided = conv.conv1d(x, kernel, stride=2)[0, :, 0]
    assert_allclose(strided, [-2, -2], err_msg="stride 2: windows start at 0 and 2")
    dilated = conv.conv1d(x, kernel, dilation=2)[0, :, 0]
    assert_allclose(dilated, [-4], err_msg="dilation 2: taps at 0, 2, 4: 1 - 5")
    biased = conv.conv1d(x, kernel, bias=np.array([10.0]))[0, :, 0]
    assert_allclose(biased, [8, 8, 8], err_msg="add the bias to every output")


@pytest.mark.item("conv.conv1d")
def test_conv1d_same_puts_the_extra_cell_after():
    x = np.array([1.0, 2, 3, 4]).reshape(1, 4, 1)
    y = conv.conv1d(x, np.ones((2, 1, 1)), padding="same")[0, :, 0]
    assert_allclose(
        y,
        [3, 5, 7, 4],
        err_msg="even kernel 'same': total padding 1 goes AFTER (right), as in TF/Keras",
    )
    x = np.arange(1.0, 7.0).reshape(1, 6, 1)
    y = conv.conv1d(x, np.ones((3, 1, 1)), stride=2, padding="same")[0, :, 0]
    assert_allclose(
        y,
        [6, 12, 11],
        err_msg="n=6, k=3, s=2 'same': total = (3-1)*2 + 3 - 6 = 1 cell, after: pads (0, 1), "
        "not (1, 1)",
    )


@pytest.mark.item("conv.conv1d")
@pytest.mark.parametrize(
    "n,k,stride,dilation,pads",
    [(8, 3, 1, 1, (0, 0)), (9, 2, 3, 1, (0, 0)), (10, 3, 1, 2, (0, 0)), (7, 4, 2, 1, (1, 2))],
)
def test_conv1d_multichannel_matches_the_formula(n, k, stride, dilation, pads):
    rng = np.random.default_rng(n + 10 * k)
    x = rng.normal(size=(2, n, 3))
    kernel = rng.normal(size=(k, 3, 4))
    bias = rng.normal(size=4)
    padding = "valid" if pads == (0, 0) else "same"
    x_pad = np.pad(x, ((0, 0), pads, (0, 0)))
    out_len = (x_pad.shape[1] - ((k - 1) * dilation + 1)) // stride + 1
    expected = _loop_conv1d(x_pad, kernel, bias, stride, dilation, out_len)
    got = conv.conv1d(x, kernel, bias, stride=stride, padding=padding, dilation=dilation)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    assert_allclose(
        got,
        expected,
        atol=1e-10,
        err_msg="sum over the kernel taps AND all input channels, then add bias[f]",
    )


# ---------------------------------------------------------------------------------------------
# conv2d: the lecture's "X" example


# A first small step: one window of one channel (conv2d_one_window, your own helper)


@pytest.mark.item("conv.conv2d")
@pytest.mark.parametrize(
    "row,col,kernel_name,expected",
    [
        (0, 0, "DIAGONAL", 2.0),  # top-left patch holds a '\\' stroke
        (0, 6, "DIAGONAL", 1.0),  # top-right patch holds a '/' stroke
        (3, 3, "CROSS", 5.0),  # the centre: the whole X matches
        (0, 0, "CORNER", 1.0),  # asymmetric: a flipped kernel gives 2 here
    ],
)
def test_one_window_of_the_lecture_x_image(row, col, kernel_name, expected):
    kernel = {"DIAGONAL": DIAGONAL, "CROSS": CROSS, "CORNER": CORNER}[kernel_name]
    patch = X_IMAGE[row : row + 3, col : col + 3]
    got = conv.conv2d_one_window(patch, kernel)
    assert type(got) is float, f"return a Python float (float(...)), not {type(got).__name__}"
    assert got == pytest.approx(expected), (
        f"patch at ({row}, {col}) with the {kernel_name} kernel: sum(patch * kernel) = "
        f"{expected:g}, you returned {got:g}"
        + (" (the flipped kernel's response: do not flip)" if kernel_name == "CORNER" else "")
    )


@pytest.mark.item("conv.conv2d", given=True)
def test_one_window_checks_its_arguments():
    with pytest.raises(ValueError):
        conv.conv2d_one_window(np.ones((3, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError):
        conv.conv2d_one_window(np.ones((3, 3, 1)), np.ones((3, 3, 1)))


@pytest.mark.item("conv.conv2d")
def test_lecture_x_image_diagonal_kernel():
    y = conv.conv2d(_as_conv2d_input(X_IMAGE), _as_kernel(DIAGONAL))
    assert y.shape == (1, 7, 7, 1), "9x9 image, 3x3 kernel, 'valid': 7x7 response map"
    assert y[0, 0, 0, 0] == pytest.approx(2), "top-left patch holds a '\\' stroke: response 2"
    assert y[0, 0, 6, 0] == pytest.approx(1), "top-right patch holds a '/' stroke: response 1"
    assert y[0, 3, 3, 0] == pytest.approx(3), "the centre of the X: the whole diagonal matches"


@pytest.mark.item("conv.conv2d")
def test_lecture_x_image_asymmetric_kernel_is_not_flipped():
    y = conv.conv2d(_as_conv2d_input(X_IMAGE), _as_kernel(CORNER))
    assert y.shape == (1, 7, 7, 1), (
        f"9x9 image, 3x3 kernel, 'valid': shape (1, 7, 7, 1), got {y.shape}"
    )
    top_left = float(y[0, 0, 0, 0])
    assert top_left != pytest.approx(2), (
        "top-left patch: you returned 2, which is the response of the FLIPPED kernel: Keras "
        "computes cross-correlation, sum(patch * kernel) with the kernel as it is (expected 1)"
    )
    assert top_left == pytest.approx(1), f"top-left patch: expected 1, you returned {top_left}"
    expected = _loop_conv2d(
        _as_conv2d_input(X_IMAGE), _as_kernel(CORNER), None, (1, 1), (1, 1), (7, 7)
    )
    assert_allclose(y, expected, err_msg="the whole 7x7 response map of the corner kernel")


@pytest.mark.item("conv.conv2d")
def test_lecture_x_image_anti_diagonal_kernel():
    y = conv.conv2d(_as_conv2d_input(X_IMAGE), _as_kernel(ANTI_DIAGONAL))
    assert y[0, 0, 0, 0] == pytest.approx(1), "'/' kernel on a '\\' patch: response 1"
    assert y[0, 0, 6, 0] == pytest.approx(2), "'/' kernel on a '/' patch: response 2"


@pytest.mark.item("conv.conv2d")
def test_lecture_x_image_cross_kernel():
    y = conv.conv2d(_as_conv2d_input(X_IMAGE), _as_kernel(CROSS))
    assert y[0, 3, 3, 0] == pytest.approx(5), "input and kernel have the same X: response 5"
    assert y[0, 0, 0, 0] == pytest.approx(2)
    expected = _loop_conv2d(
        _as_conv2d_input(X_IMAGE), _as_kernel(CROSS), None, (1, 1), (1, 1), (7, 7)
    )
    assert_allclose(y, expected, err_msg="the whole 7x7 response map")


@pytest.mark.item("conv.conv2d")
def test_lecture_x_image_three_filters_at_once():
    kernel = np.stack([DIAGONAL, ANTI_DIAGONAL, CROSS], axis=-1)[:, :, None, :]  # (3, 3, 1, 3)
    y = conv.conv2d(_as_conv2d_input(X_IMAGE), kernel)
    assert y.shape == (1, 7, 7, 3), "one output channel (feature map) per filter"
    assert_allclose(y[0, 0, 0], [2, 1, 2])
    assert_allclose(y[0, 3, 3], [3, 3, 5])


@pytest.mark.item("conv.conv2d")
def test_conv2d_does_not_flip_the_kernel():
    x = np.zeros((1, 5, 5, 1))
    x[0, 2, 2, 0] = 1.0  # an impulse in the centre
    kernel = np.arange(1.0, 10.0).reshape(3, 3, 1, 1)
    y = conv.conv2d(x, kernel)[0, :, :, 0]
    assert_allclose(
        y,
        kernel[::-1, ::-1, 0, 0],
        err_msg="no kernel flip: Keras computes cross-correlation, so an impulse returns the "
        "kernel rotated by 180 degrees (seeing the kernel itself means you flipped it)",
    )


@pytest.mark.item("conv.conv2d")
def test_conv2d_sums_over_input_channels_and_adds_bias():
    x = np.ones((1, 3, 3, 3))
    x[..., 1] = 2.0
    x[..., 2] = 3.0
    kernel = np.ones((3, 3, 3, 2))
    kernel[..., 1] = -1.0
    y = conv.conv2d(x, kernel, bias=np.array([0.5, 100.0]))
    assert y.shape == (1, 1, 1, 2)
    assert_allclose(
        y[0, 0, 0], [9 * (1 + 2 + 3) + 0.5, -9 * 6 + 100], err_msg="sum over channels, + bias"
    )


@pytest.mark.item("conv.conv2d")
def test_conv2d_1x1_kernel_is_a_per_pixel_matmul():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 5, 3))
    kernel = rng.normal(size=(1, 1, 3, 6))
    assert_allclose(conv.conv2d(x, kernel), x @ kernel[0, 0], atol=1e-12)


@pytest.mark.item("conv.conv2d")
def test_conv2d_kernel_as_large_as_the_input_gives_one_pixel():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3, 2))
    kernel = rng.normal(size=(4, 3, 2, 5))
    y = conv.conv2d(x, kernel)
    assert y.shape == (2, 1, 1, 5)
    assert_allclose(y[:, 0, 0], np.einsum("nhwc,hwcf->nf", x, kernel), atol=1e-12)


@pytest.mark.item("conv.conv2d")
@pytest.mark.parametrize(
    "hw,ksize,stride,dilation,padding,pads,out_hw",
    [
        ((7, 7), (3, 3), (1, 1), (1, 1), "valid", ((0, 0), (0, 0)), (5, 5)),
        ((8, 9), (3, 2), (2, 3), (1, 1), "valid", ((0, 0), (0, 0)), (3, 3)),
        ((9, 8), (3, 3), (1, 1), (2, 1), "valid", ((0, 0), (0, 0)), (5, 6)),
        ((6, 6), (3, 3), (2, 2), (1, 1), "same", ((0, 1), (0, 1)), (3, 3)),  # (0, 1), not (1, 1)
        ((6, 5), (4, 2), (1, 1), (1, 1), "same", ((1, 2), (0, 1)), (6, 5)),  # even kernels
        ((7, 7), (3, 3), (1, 1), (2, 2), "same", ((2, 2), (2, 2)), (7, 7)),
    ],
)
def test_conv2d_matches_the_formula(hw, ksize, stride, dilation, padding, pads, out_hw):
    rng = np.random.default_rng(sum(hw) + sum(ksize))
    x = rng.normal(size=(2, *hw, 3))
    kernel = rng.normal(size=(*ksize, 3, 2))
    bias = rng.normal(size=2)
    x_pad = np.pad(x, ((0, 0), *pads, (0, 0)))
    expected = _loop_conv2d(x_pad, kernel, bias, stride, dilation, out_hw)
    got = conv.conv2d(x, kernel, bias, stride=stride, padding=padding, dilation=dilation)
    assert got.shape == expected.shape, (
        f"output shape {got.shape}, expected {expected.shape}: per axis floor((n - k_eff)/s) + 1 "
        "for 'valid', ceil(n/s) for 'same'"
    )
    assert_allclose(
        got,
        expected,
        atol=1e-10,
        err_msg=f"'{padding}' with stride {stride}, dilation {dilation}: TF pads {pads} "
        "((top, bottom), (left, right)); the odd extra cell goes bottom/right",
    )


@pytest.mark.item("conv.conv2d")
def test_conv2d_int_stride_means_both_axes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 7, 8, 2))
    kernel = rng.normal(size=(3, 3, 2, 2))
    assert_allclose(conv.conv2d(x, kernel, stride=2), conv.conv2d(x, kernel, stride=(2, 2)))


@pytest.mark.item("conv.conv2d", "conv.pad2d")
def test_conv_does_not_modify_its_inputs():
    rng = np.random.default_rng(3)
    x, kernel, bias = rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(3, 3, 2, 2)), np.ones(2)
    copies = [a.copy() for a in (x, kernel, bias)]
    conv.conv2d(x, kernel, bias, padding="same")
    conv.pad2d(x, ((1, 1), (1, 1)))
    for a, c in zip((x, kernel, bias), copies, strict=True):
        np.testing.assert_array_equal(a, c, err_msg="never write into the caller's arrays")


@pytest.mark.item("conv.conv2d", "conv.pad2d", given=True)
def test_invalid_arguments_raise_value_error():
    x = np.zeros((1, 5, 5, 2))
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d(x, np.zeros((3, 3, 3, 4)))  # kernel expects 3 input channels
    with pytest.raises(ValueError, match="bias"):
        conv.conv2d(x, np.zeros((3, 3, 2, 4)), bias=np.zeros(3))
    with pytest.raises(ValueError, match="dilation"):
        conv.conv2d(x, np.zeros((3, 3, 2, 4)), stride=2, dilation=2)
    with pytest.raises(ValueError):
        conv.conv2d(x, np.zeros((6, 3, 2, 4)))  # 'valid' kernel taller than the input
    with pytest.raises(ValueError, match="pads"):
        conv.pad2d(x, ((1, -1), (0, 0)))
