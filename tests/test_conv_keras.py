"""cnn/conv.py reference solutions against live Keras Conv1D / Conv2D / ZeroPadding2D."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


def _run(keras, layer, x, weights):
    """Build ``layer`` by calling it on ``x``, load ``weights``, return its numpy output."""
    layer(x)
    layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(x))


def _conv1d_cases():
    rng = np.random.default_rng(2024)
    cases = []
    for n in (7, 8, 11):
        for _ in range(8):
            k = int(rng.integers(1, 6))
            s, d = (int(rng.integers(1, 4)), 1) if rng.random() < 0.6 else (1, 2)
            padding = str(rng.choice(["valid", "same"]))
            if padding == "valid" and (k - 1) * d + 1 > n:
                padding = "same"
            cases.append((n, k, s, d, padding, int(rng.choice([1, 3])), bool(rng.random() < 0.8)))
    cases += [(5, 5, 1, 1, "valid", 2, True), (6, 1, 2, 1, "same", 2, True)]  # k == n, k == 1
    return cases


@pytest.mark.parametrize("n,k,s,d,padding,c_in,use_bias", _conv1d_cases())
def test_conv1d_matches_keras(sol, keras, n, k, s, d, padding, c_in, use_bias):
    rng = np.random.default_rng(n * 1000 + k * 100 + s * 10 + d)
    x = rng.normal(size=(2, n, c_in))
    kernel = rng.normal(size=(k, c_in, 4))
    bias = rng.normal(size=4) if use_bias else None
    layer = keras.layers.Conv1D(
        4, k, strides=s, padding=padding, dilation_rate=d, use_bias=use_bias
    )
    expected = _run(keras, layer, x, [kernel, bias] if use_bias else [kernel])
    got = sol.conv.conv1d(x, kernel, bias, stride=s, padding=padding, dilation=d)
    assert_close_keras(got, expected, f"conv1d n={n} k={k} s={s} d={d} {padding}")


def _conv2d_cases():
    rng = np.random.default_rng(77)
    cases = []
    for h, w in [(7, 7), (8, 8), (9, 6), (10, 11)]:
        for _ in range(8):
            kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
            if rng.random() < 0.6:
                strides, dil = tuple(int(v) for v in rng.integers(1, 4, size=2)), (1, 1)
            else:
                strides, dil = (1, 1), tuple(int(v) for v in rng.integers(1, 4, size=2))
            padding = str(rng.choice(["valid", "same"]))
            if padding == "valid" and ((kh - 1) * dil[0] + 1 > h or (kw - 1) * dil[1] + 1 > w):
                padding = "same"
            cases.append((h, w, (kh, kw), strides, dil, padding, int(rng.choice([1, 3]))))
    cases += [
        (5, 4, (5, 4), (1, 1), (1, 1), "valid", 2),  # kernel == input: one output pixel
        (5, 4, (1, 1), (1, 1), (1, 1), "valid", 3),  # 1x1 conv = per-pixel matmul
        (28, 28, (3, 3), (2, 2), (1, 1), "same", 1),  # TF pads (0, 1), not (1, 1)
        (6, 6, (4, 2), (1, 1), (1, 1), "same", 2),  # even kernel: extra cell bottom/right
    ]
    return cases


@pytest.mark.parametrize("h,w,ksize,strides,dil,padding,c_in", _conv2d_cases())
def test_conv2d_matches_keras(sol, keras, h, w, ksize, strides, dil, padding, c_in):
    rng = np.random.default_rng(h * 100 + w + 7 * sum(ksize) + 3 * sum(strides))
    x = rng.normal(size=(2, h, w, c_in))
    kernel = rng.normal(size=(*ksize, c_in, 3))
    bias = rng.normal(size=3)
    layer = keras.layers.Conv2D(3, ksize, strides=strides, padding=padding, dilation_rate=dil)
    expected = _run(keras, layer, x, [kernel, bias])
    got = sol.conv.conv2d(x, kernel, bias, stride=strides, padding=padding, dilation=dil)
    assert_close_keras(got, expected, f"conv2d {h}x{w} k={ksize} s={strides} d={dil} {padding}")


def test_conv2d_int_arguments_and_no_bias_match_keras(sol, keras):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 9, 8, 2))
    kernel = rng.normal(size=(3, 3, 2, 5))
    for stride, dilation, padding in [(2, 1, "same"), (1, 2, "valid"), (3, 1, "valid")]:
        layer = keras.layers.Conv2D(
            5, 3, strides=stride, dilation_rate=dilation, padding=padding, use_bias=False
        )
        expected = _run(keras, layer, x, [kernel])
        got = sol.conv.conv2d(x, kernel, stride=stride, padding=padding, dilation=dilation)
        assert_close_keras(got, expected, f"conv2d int s={stride} d={dilation} {padding}")


def test_conv2d_is_not_a_flipped_convolution(sol, keras):
    """Keras cross-correlates: the flipped kernel gives far different numbers."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(1, 6, 6, 1))
    kernel = rng.normal(size=(3, 3, 1, 1))
    expected = _run(keras, keras.layers.Conv2D(1, 3, use_bias=False), x, [kernel])
    assert_close_keras(sol.conv.conv2d(x, kernel), expected, "conv2d")
    flipped = sol.conv.conv2d(x, kernel[::-1, ::-1])
    assert np.abs(flipped - expected).max() > 0.1


def test_conv2d_lecture_model_layers_match_keras(sol, keras):
    rng = np.random.default_rng(28)
    x = rng.random((4, 28, 28, 1))
    k1, b1 = rng.normal(size=(3, 3, 1, 32)) * 0.3, rng.normal(size=32) * 0.1
    k2, b2 = rng.normal(size=(3, 3, 32, 64)) * 0.1, rng.normal(size=64) * 0.1
    h1 = _run(keras, keras.layers.Conv2D(32, 3), x, [k1, b1])
    ours1 = sol.conv.conv2d(x, k1, b1)
    assert_close_keras(ours1, h1, "conv1")
    h = rng.normal(size=(4, 13, 13, 32))
    h2 = _run(keras, keras.layers.Conv2D(64, 3), h, [k2, b2])
    assert_close_keras(sol.conv.conv2d(h, k2, b2), h2, "conv2")


@pytest.mark.parametrize(
    "pads", [((0, 0), (0, 0)), ((1, 1), (1, 1)), ((0, 2), (3, 0)), ((2, 1), (0, 1))]
)
def test_pad2d_matches_zero_padding2d(sol, keras, pads):
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 2))
    layer = keras.layers.ZeroPadding2D(padding=pads)
    expected = keras.ops.convert_to_numpy(layer(x))
    assert_close_keras(sol.conv.pad2d(x, pads), expected, f"pad2d {pads}")


def test_valid_kernel_larger_than_input_raises_like_keras(sol, keras):
    x = np.zeros((1, 4, 4, 1))
    kernel = np.zeros((5, 3, 1, 1))
    with pytest.raises(ValueError):
        keras.layers.Conv2D(1, (5, 3))(x)
    with pytest.raises(ValueError):
        sol.conv.conv2d(x, kernel)
