"""cnn/pooling.py reference solutions against live Keras pooling layers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


def _keras(keras, layer, x):
    return keras.ops.convert_to_numpy(layer(x))


def _pool1d_cases():
    rng = np.random.default_rng(31)
    cases = []
    for n in (5, 6, 7, 8, 11):
        for _ in range(4):
            p = int(rng.integers(1, 5))
            stride = [None, 1, 2, 3][int(rng.integers(0, 4))]
            padding = str(rng.choice(["valid", "same"]))
            if padding == "valid" and p > n:
                padding = "same"
            cases.append((n, p, stride, padding))
    cases += [(4, 4, None, "valid"), (3, 1, None, "same"), (3, 3, 1, "same")]
    return cases


@pytest.mark.parametrize("n,p,stride,padding", _pool1d_cases())
def test_pool1d_matches_keras(sol, keras, n, p, stride, padding):
    x = np.random.default_rng(n * 10 + p).normal(size=(2, n, 3))
    expected = _keras(keras, keras.layers.MaxPooling1D(p, strides=stride, padding=padding), x)
    got = sol.pooling.max_pool1d(x, p, stride=stride, padding=padding)
    assert_close_keras(got, expected, f"max_pool1d n={n} p={p} s={stride} {padding}")
    expected = _keras(keras, keras.layers.AveragePooling1D(p, strides=stride, padding=padding), x)
    got = sol.pooling.avg_pool1d(x, p, stride=stride, padding=padding)
    assert_close_keras(got, expected, f"avg_pool1d n={n} p={p} s={stride} {padding}")


def _pool2d_cases():
    rng = np.random.default_rng(32)
    sizes = [1, 2, 3, (2, 3), 4]
    strides = [None, 1, 2, 3, (1, 2)]
    cases = []
    for h, w in [(5, 5), (6, 6), (7, 9), (8, 5)]:
        for _ in range(6):
            p = sizes[int(rng.integers(0, len(sizes)))]
            s = strides[int(rng.integers(0, len(strides)))]
            padding = str(rng.choice(["valid", "same"]))
            cases.append((h, w, p, s, padding))
    cases += [(4, 3, (4, 3), None, "valid"), (13, 13, 2, None, "valid"), (5, 5, 3, 1, "same")]
    return cases


@pytest.mark.parametrize("h,w,p,s,padding", _pool2d_cases())
def test_pool2d_matches_keras(sol, keras, h, w, p, s, padding):
    x = np.random.default_rng(h * 10 + w).normal(size=(2, h, w, 3))
    expected = _keras(keras, keras.layers.MaxPooling2D(p, strides=s, padding=padding), x)
    got = sol.pooling.max_pool2d(x, p, stride=s, padding=padding)
    assert_close_keras(got, expected, f"max_pool2d {h}x{w} p={p} s={s} {padding}")
    expected = _keras(keras, keras.layers.AveragePooling2D(p, strides=s, padding=padding), x)
    got = sol.pooling.avg_pool2d(x, p, stride=s, padding=padding)
    assert_close_keras(got, expected, f"avg_pool2d {h}x{w} p={p} s={s} {padding}")


def test_max_pool_defaults_match_keras(sol, keras):
    x = np.random.default_rng(4).normal(size=(2, 7, 9, 2))
    assert_close_keras(sol.pooling.max_pool2d(x), _keras(keras, keras.layers.MaxPooling2D(), x))
    x1 = x[:, 0]
    assert_close_keras(sol.pooling.max_pool1d(x1), _keras(keras, keras.layers.MaxPooling1D(), x1))


def test_same_max_pool_pads_with_minus_inf_like_keras(sol, keras):
    x = -1.0 - np.random.default_rng(6).random((1, 5, 5, 2))  # every value negative
    expected = _keras(keras, keras.layers.MaxPooling2D(2, padding="same"), x)
    assert (expected < 0).all()
    assert_close_keras(sol.pooling.max_pool2d(x, 2, padding="same"), expected, "max_pool2d")


def test_same_avg_pool_counts_real_cells_like_keras(sol, keras):
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    expected = _keras(keras, keras.layers.AveragePooling2D(3, strides=1, padding="same"), x)
    assert expected[0, 0, 0, 0] == pytest.approx(2.0)
    assert_close_keras(sol.pooling.avg_pool2d(x, 3, stride=1, padding="same"), expected)


def test_global_pooling_matches_keras(sol, keras):
    rng = np.random.default_rng(8)
    for shape in [(2, 5, 7, 3), (1, 1, 1, 4), (3, 6, 2, 1)]:
        x = rng.normal(size=shape)
        expected = _keras(keras, keras.layers.GlobalMaxPooling2D(), x)
        assert_close_keras(sol.pooling.global_max_pool2d(x), expected, f"global max {shape}")
        expected = _keras(keras, keras.layers.GlobalAveragePooling2D(), x)
        assert_close_keras(sol.pooling.global_avg_pool2d(x), expected, f"global avg {shape}")


def test_valid_pool_larger_than_input_is_stricter_than_keras(sol, keras):
    """Keras never gives a usable answer here; the kit raises a ValueError.

    keras-semantics.md §1 measured an empty (1, 0, 0, 1) tensor; with TF's oneDNN kernels on
    (the default on x86) the call fails instead (AbortedError from mkl_maxpooling_op), and
    Keras 3.15.1's ``compute_output_shape`` raises ValueError.
    """
    x = np.zeros((1, 2, 2, 1))
    try:
        out = _keras(keras, keras.layers.MaxPooling2D(3), x)
    except Exception:  # noqa: BLE001 - TF raises its own error types here
        pass
    else:
        assert out.shape == (1, 0, 0, 1)
    with pytest.raises(ValueError, match="zero or negative"):
        keras.layers.MaxPooling2D(3).compute_output_shape((1, 2, 2, 1))
    with pytest.raises(ValueError):
        sol.pooling.max_pool2d(x, 3)
    with pytest.raises(ValueError):
        sol.pooling.avg_pool2d(x, 3)
