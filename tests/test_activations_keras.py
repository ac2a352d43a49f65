"""Reference activations and their derivatives vs live keras.activations + tf.GradientTape."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras

SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4]


def inputs(seed: int) -> np.ndarray:
    """float32-representable test values (the same numbers on both sides), incl. the extremes."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 4, 200), SPECIAL]).astype(np.float32)
    return x.astype(np.float64).reshape(4, -1)


def keras_value_and_grad(keras, fn, x):
    import tensorflow as tf

    xt = tf.constant(x.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
        total = tf.reduce_sum(y)
    return np.asarray(y), np.asarray(tape.gradient(total, xt))


CASES = [
    ("sigmoid", "sigmoid_grad", "sigmoid", {}),
    ("tanh", "tanh_grad", "tanh", {}),
    ("relu", "relu_grad", "relu", {}),
    ("leaky_relu", "leaky_relu_grad", "leaky_relu", {}),
    ("leaky_relu", "leaky_relu_grad", "leaky_relu", {"negative_slope": 0.05}),
]


@pytest.mark.parametrize(("fn", "grad", "kfn", "kwargs"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_activation_and_derivative_match_keras(sol, keras, fn, grad, kfn, kwargs, seed):
    x = inputs(seed)
    y_k, g_k = keras_value_and_grad(
        keras, lambda t: getattr(keras.activations, kfn)(t, **kwargs), x
    )
    y = getattr(sol.activations, fn)(x, **kwargs)
    g = getattr(sol.activations, grad)(x, **kwargs)
    assert_close_keras(y, y_k, f"{fn}{kwargs}")
    assert_close_keras(g, g_k, f"{grad}{kwargs}")


def test_derivatives_at_zero_follow_tf(sol, keras):
    x = np.array([0.0, -0.0])
    _, g_relu = keras_value_and_grad(keras, keras.activations.relu, x)
    _, g_leaky = keras_value_and_grad(keras, keras.activations.leaky_relu, x)
    np.testing.assert_array_equal(g_relu, [0.0, 0.0])
    np.testing.assert_allclose(g_leaky, [0.2, 0.2])
    np.testing.assert_array_equal(sol.activations.relu_grad(x), g_relu)
    np.testing.assert_allclose(sol.activations.leaky_relu_grad(x), g_leaky, rtol=1e-7)


def test_leaky_relu_default_is_the_activation_not_the_layer(sol, keras):
    x = np.array([[-1.0, 2.0]])
    layer = np.asarray(keras.layers.LeakyReLU()(x.astype(np.float32)))
    np.testing.assert_allclose(layer, [[-0.3, 2.0]], rtol=1e-6)  # the layer keeps Keras 2's 0.3
    assert_close_keras(sol.activations.leaky_relu(x), keras.activations.leaky_relu(x), "leaky")
    assert not np.allclose(sol.activations.leaky_relu(x), layer)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_keras(sol, keras, axis):
    rng = np.random.default_rng(5)
    x = (rng.normal(0, 30, size=(6, 9)).astype(np.float32)).astype(np.float64)
    x[0] = [1000, 1001, 1002, -1000, 0, 5, 88, -88, 1e4]
    y_k = np.asarray(keras.activations.softmax(x.astype(np.float32), axis=axis))
    y = sol.activations.softmax(x, axis=axis)
    assert np.isfinite(y).all()
    assert_close_keras(y, y_k, f"softmax axis={axis}")


def test_softmax_lecture_values(sol, keras):
    x = np.array([1000.0, 1001.0, 1002.0])
    y_k = np.asarray(keras.activations.softmax(x[None].astype(np.float32)))[0]
    np.testing.assert_allclose(y_k, [0.0900, 0.2447, 0.6652], atol=1e-4)
    assert_close_keras(sol.activations.softmax(x), y_k, "softmax([1000, 1001, 1002])")
