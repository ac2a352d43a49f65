"""Public tests for cnn/activations.py: shapes, hand-computed values and the Keras conventions."""

import warnings

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import activations as act

EXTREMES = np.array([-1e4, -800.0, -88.0, -20.0, -1.0, 0.0, 1.0, 20.0, 88.0, 800.0, 1e4])


def numeric_derivative(f, x, h=1e-6):
    """Central finite difference, element-wise (x away from kinks)."""
    return (f(x + h) - f(x - h)) / (2 * h)


def no_warnings(f, x):
    """Call f(x) and fail on any RuntimeWarning (overflow in exp, invalid value, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(x)


@pytest.mark.item("activations.sigmoid")
def test_sigmoid_values_and_symmetry():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    y = act.sigmoid(x)
    assert isinstance(y, np.ndarray) and y.shape == x.shape
    assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-12, err_msg="sigmoid(x) = 1/(1+e^-x)")
    assert y[2] == 0.5, "sigmoid(0) must be exactly 0.5"
    assert_allclose(act.sigmoid(-x), 1 - y, atol=1e-15, err_msg="sigmoid(-x) = 1 - sigmoid(x)")


@pytest.mark.item("activations.sigmoid")
def test_sigmoid_is_stable_for_huge_inputs():
    y = no_warnings(act.sigmoid, EXTREMES)
    assert np.all(np.isfinite(y)), (
        "sigmoid must not produce NaN/inf: compute exp(-|x|), not exp(-x)"
    )
    assert np.all((y >= 0) & (y <= 1))
    assert y[0] == 0.0 or y[0] < 1e-300, "sigmoid(-1e4) is 0 (to double precision)"
    assert y[-1] == 1.0, "sigmoid(1e4) is 1"


@pytest.mark.item("activations.sigmoid_grad")
def test_sigmoid_grad_matches_s_times_one_minus_s():
    x = np.linspace(-6, 6, 25)
    g = act.sigmoid_grad(x)
    assert g.shape == x.shape
    assert act.sigmoid_grad(np.array(0.0)) == pytest.approx(0.25), "sigmoid'(0) = 0.25"
    assert_allclose(g, numeric_derivative(act.sigmoid, x), atol=1e-8)
    assert np.all(np.isfinite(no_warnings(act.sigmoid_grad, EXTREMES)))


@pytest.mark.item("activations.tanh")
def test_tanh():
    x = np.linspace(-5, 5, 21)
    assert_allclose(act.tanh(x), np.tanh(x), rtol=1e-12)
    y = no_warnings(act.tanh, EXTREMES)
    assert y[0] == -1.0 and y[-1] == 1.0, "tanh saturates at -1 and 1 (no overflow)"


@pytest.mark.item("activations.tanh_grad")
def test_tanh_derivative():
    x = np.linspace(-5, 5, 21)
    assert act.tanh_grad(np.array([0.0]))[0] == pytest.approx(1.0), "tanh'(0) = 1"
    assert_allclose(act.tanh_grad(x), numeric_derivative(np.tanh, x), atol=1e-8)
    assert np.all(np.isfinite(no_warnings(act.tanh_grad, EXTREMES)))


@pytest.mark.item("activations.relu")
def test_relu_values_and_input_untouched():
    x = np.array([[-2.0, -0.0, 0.0], [0.5, 3.0, -1e-9]])
    before = x.copy()
    y = act.relu(x)
    np.testing.assert_array_equal(y, [[0, 0, 0], [0.5, 3.0, 0]])
    assert np.array_equal(x, before), "relu must not modify its input (x[x < 0] = 0 does)"


@pytest.mark.item("activations.relu_grad")
def test_relu_grad_is_zero_at_zero():
    g = act.relu_grad(np.array([-3.0, -0.0, 0.0, 1e-12, 4.0]))
    np.testing.assert_array_equal(
        g, [0, 0, 0, 1, 1], err_msg="relu'(x) = 1 only for x > 0; at x == 0 TF/Keras use 0"
    )


@pytest.mark.item("activations.leaky_relu")
def test_leaky_relu_default_slope_is_keras_activations_0_2():
    y = act.leaky_relu(np.array([-10.0, -1.0, 0.0, 2.0]))
    assert_allclose(
        y,
        [-2.0, -0.2, 0.0, 2.0],
        err_msg="keras.activations.leaky_relu uses negative_slope=0.2 "
        "(the layer keras.layers.LeakyReLU uses 0.3, PyTorch 0.01)",
    )
    assert_allclose(act.leaky_relu(np.array([-1.0, 3.0]), negative_slope=0.5), [-0.5, 3])


@pytest.mark.item("activations.leaky_relu_grad")
def test_leaky_relu_grad_is_the_slope_at_zero():
    g = act.leaky_relu_grad(np.array([-2.0, 0.0, 2.0]))
    assert_allclose(
        g, [0.2, 0.2, 1.0], err_msg="leaky_relu'(x) = 1 for x > 0, else the slope (also at x == 0)"
    )
    assert_allclose(
        act.leaky_relu_grad(np.array([-1.0, 0.0, 1.0]), negative_slope=0.1), [0.1, 0.1, 1.0]
    )


@pytest.mark.item("activations.softmax")
def test_softmax_is_stable_and_sums_to_one():
    y = no_warnings(act.softmax, np.array([1000.0, 1001.0, 1002.0]))
    denom = 1 + np.exp(-1.0) + np.exp(-2.0)
    expected = np.array([np.exp(-2.0), np.exp(-1.0), 1.0]) / denom  # = softmax([-2, -1, 0])
    assert_allclose(
        y, expected, rtol=1e-12, err_msg="subtract max(x) before exp: softmax([1000,1001,1002])"
    )
    assert_allclose(y, [0.0900, 0.2447, 0.6652], atol=1e-4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7)) * 50
    s = act.softmax(x)
    assert s.shape == x.shape
    assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12, err_msg="each row sums to 1")
    assert_allclose(act.softmax(x + 123.0), s, atol=1e-12, err_msg="shift invariance")


@pytest.mark.item("activations.softmax")
def test_softmax_axis_argument():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    s0 = act.softmax(x, axis=0)
    assert_allclose(s0.sum(axis=0), 1.0, rtol=1e-12, err_msg="axis=0: columns sum to 1")
    assert_allclose(s0, act.softmax(x.T).T, rtol=1e-12)
