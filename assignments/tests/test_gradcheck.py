"""Public tests for cnn/gradcheck.py (part 2), and the gradient check you run on your layers.

``numerical_gradient`` and ``relative_error`` first; then ``test_gradient_check_*`` check each
of your backward functions against finite differences of your own forward function. They use
the scalar ``L(x) = sum(layer(x) * dy)``, whose gradient w.r.t. ``x`` is exactly the ``dx`` the
backward function returns for that ``dy``. Keep such checks small: 2 forward calls per entry.
"""

import numpy as np
import pytest
from cnn import backward, conv, gradcheck, pooling, training


@pytest.mark.item("gradcheck.numerical_gradient")
def test_numerical_gradient_of_known_functions():
    x = np.array([[0.5, -1.0, 2.0], [3.0, 0.1, -0.7]])
    before = x.copy()
    got = gradcheck.numerical_gradient(lambda t: float(np.sum(t**3)), x)
    assert got.shape == x.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, 3 * x**2, rtol=1e-7)
    np.testing.assert_array_equal(x, before, err_msg="x must hold its values when it returns")
    w = np.array([1.0, -2.0, 0.5, 4.0])
    got = gradcheck.numerical_gradient(lambda t: np.sin(t) @ w, np.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(got, np.cos([0.1, 0.2, 0.3, 0.4]) * w, rtol=1e-8)


@pytest.mark.item("gradcheck.numerical_gradient")
def test_numerical_gradient_uses_central_differences():
    # f = x**2 at x = 1 with h = 0.1: central (1.21 - 0.81)/0.2 = 2.0 exactly; forward gives 2.1
    got = gradcheck.numerical_gradient(lambda t: float(t[0] ** 2), np.array([1.0]), h=0.1)
    assert got[0] == pytest.approx(2.0, abs=1e-12)


@pytest.mark.item("gradcheck.relative_error")
def test_relative_error_examples():
    assert gradcheck.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    got = gradcheck.relative_error(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    assert isinstance(got, float) and got == pytest.approx(0.5)  # |3 - 1| / (3 + 1)
    assert gradcheck.relative_error(np.zeros(3), np.full(3, 1e-12)) < 1e-3  # the 1e-8 floor
    with pytest.raises(ValueError):
        gradcheck.relative_error(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# the gradient check on your own layers


def _check(f, x, analytic, limit=1e-6):
    numeric = gradcheck.numerical_gradient(f, x)
    err = gradcheck.relative_error(analytic, numeric)
    assert err < limit, (
        f"relative error {err:.2e} between your backward pass and finite differences"
    )


@pytest.mark.item("backward.conv2d_backward", "gradcheck.numerical_gradient")
@pytest.mark.parametrize(
    "stride,padding,dilation", [(1, "valid", 1), (2, "same", 1), (1, "same", 2)]
)
def test_gradient_check_conv2d(stride, padding, dilation):
    rng = np.random.default_rng(stride + dilation)
    x, kernel, bias = (
        rng.normal(size=(2, 5, 6, 2)),
        rng.normal(size=(3, 2, 2, 3)),
        rng.normal(size=3),
    )
    y = conv.conv2d(x, kernel, bias, stride, padding, dilation)
    dy = rng.normal(size=y.shape)
    dx, dk, db = backward.conv2d_backward(dy, x, kernel, stride, padding, dilation)
    _check(lambda t: np.sum(conv.conv2d(t, kernel, bias, stride, padding, dilation) * dy), x, dx)
    _check(lambda t: np.sum(conv.conv2d(x, t, bias, stride, padding, dilation) * dy), kernel, dk)
    _check(lambda t: np.sum(conv.conv2d(x, kernel, t, stride, padding, dilation) * dy), bias, db)


@pytest.mark.item(
    "backward.max_pool2d_backward", "backward.avg_pool2d_backward", "gradcheck.numerical_gradient"
)
def test_gradient_check_pooling():
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 5 * 5 * 2).reshape(2, 5, 5, 2) / 10.0  # distinct: no ties, no kinks
    for forward, back in (
        (pooling.max_pool2d, backward.max_pool2d_backward),
        (pooling.avg_pool2d, backward.avg_pool2d_backward),
    ):
        y = forward(x, 3, 2, "same")
        dy = rng.normal(size=y.shape)
        _check(
            lambda t, fw=forward, dy=dy: np.sum(fw(t, 3, 2, "same") * dy),
            x,
            back(dy, x, 3, 2, "same"),
        )


@pytest.mark.item(
    "backward.dense_backward",
    "backward.softmax_crossentropy_backward",
    "gradcheck.numerical_gradient",
)
def test_gradient_check_dense_and_the_loss():
    rng = np.random.default_rng(6)
    x, kernel, bias = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    y_true = np.eye(3)[[0, 2, 1, 2]]

    def loss(z):
        return float(np.mean(training.categorical_crossentropy(y_true, z, from_logits=True)))

    z = training.dense(x, kernel, bias)
    dz = backward.softmax_crossentropy_backward(y_true, z)
    _check(loss, z, dz)
    dx, dk, db = backward.dense_backward(dz, x, kernel)
    _check(lambda t: loss(training.dense(t, kernel, bias)), x, dx)
    _check(lambda t: loss(training.dense(x, t, bias)), kernel, dk)
    _check(lambda t: loss(training.dense(x, kernel, t)), bias, db)
