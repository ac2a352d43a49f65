"""Public tests for cnn/optimizers.py: first steps by hand, state per parameter, Keras conventions.

Every expected value here is computed by hand (or by a few lines of plain Python) from the update
rules in the docstrings; the hidden tests compare 10-step trajectories with real Keras.
"""

import math

import numpy as np
import pytest
from _judge import GRADER_REL, assert_allclose
from cnn import optimizers as opt


def run(optimizer, w0, grads):
    """Step `optimizer` on one parameter through the gradient list; return the final weights."""
    w = np.array(w0, dtype=float)
    for g in grads:
        optimizer.step([w], [np.array(g, dtype=float)])
    return w


@pytest.mark.item("optimizers.SGD")
def test_sgd_plain_step_updates_in_place_and_counts():
    w = np.array([1.0, -2.0])
    sgd = opt.SGD(learning_rate=0.1)
    assert sgd.iterations == 0
    sgd.step([w], [np.array([0.5, 1.0])])
    assert_allclose(w, [0.95, -2.1], err_msg="w -= lr * g, applied to params[i] IN PLACE")
    sgd.step([w], [np.array([0.5, 1.0])])
    assert sgd.iterations == 2 and isinstance(sgd.iterations, int), "iterations counts steps (int)"


@pytest.mark.item("optimizers.SGD")
def test_sgd_momentum_two_steps_by_hand():
    # m1 = -0.1, w1 = 1 - 0.1;  m2 = 0.9*(-0.1) - 0.1 = -0.19, w2 = w1 - 0.19
    w = run(opt.SGD(learning_rate=0.1, momentum=0.9), [1.0], [[1.0], [1.0]])
    assert_allclose(w, [1.0 - 0.1 - 0.19], err_msg="classical momentum: m = mu*m - lr*g; w += m")


@pytest.mark.item("optimizers.SGD")
def test_sgd_nesterov_two_steps_by_hand():
    # step 1: m = -0.1;  w += 0.9*m - 0.1 = -0.19
    # step 2: m = 0.9*(-0.1) - 0.1 = -0.19;  w += 0.9*(-0.19) - 0.1 = -0.271
    w = run(opt.SGD(learning_rate=0.1, momentum=0.9, nesterov=True), [1.0], [[1.0], [1.0]])
    assert_allclose(
        w,
        [1.0 - 0.19 - 0.271],
        err_msg="Nesterov (Keras): m = mu*m - lr*g; w += mu*m - lr*g with the NEW m",
    )


@pytest.mark.item("optimizers.Adagrad")
def test_adagrad_first_step_starts_the_accumulator_at_0_1():
    g = 1e-3
    w = run(opt.Adagrad(), [0.0], [[g]])
    expected = -0.001 * g / math.sqrt(0.1 + g * g + 1e-7)  # about -3.2e-6
    assert w[0] == pytest.approx(expected, rel=GRADER_REL), (
        "Keras's Adagrad starts the accumulator at initial_accumulator_value=0.1 (the lecture "
        "starts at 0, which would move by lr*sign(g) = 1e-3 here) and puts epsilon inside sqrt"
    )


@pytest.mark.item("optimizers.Adagrad")
def test_adagrad_accumulates_over_steps():
    grads = [[1.0], [-2.0], [0.5]]
    a, w = 0.0, 0.3
    for (g,) in grads:  # lecture form, r0 = 0
        a += g * g
        w -= 0.01 * g / math.sqrt(a + 1e-7)
    got = run(opt.Adagrad(learning_rate=0.01, initial_accumulator_value=0.0), [0.3], grads)
    assert got[0] == pytest.approx(w, rel=GRADER_REL), (
        "a += g**2 every step (a sum, not an average)"
    )


@pytest.mark.item("optimizers.RMSprop")
def test_rmsprop_first_steps():
    g = 2.0
    w = run(opt.RMSprop(learning_rate=0.01), [0.0], [[g]])
    assert w[0] == pytest.approx(-0.01 * g / math.sqrt(0.1 * g * g + 1e-7)), (
        "v = rho*v + (1-rho)*g**2 with v0 = 0; w -= lr*g/sqrt(v + eps)"
    )
    w = run(opt.RMSprop(learning_rate=0.01, centered=True), [0.0], [[g]])
    # v = 0.4, mg = 0.2, den = v - mg**2 + eps
    assert w[0] == pytest.approx(-0.01 * g / math.sqrt(0.4 - 0.04 + 1e-7)), "centered RMSprop"


@pytest.mark.item("optimizers.RMSprop")
def test_rmsprop_momentum_two_steps():
    lr, rho, mu, eps = 0.01, 0.9, 0.5, 1e-7
    v = mom = 0.0
    w = 1.0
    for g in (1.0, -3.0):
        v = rho * v + (1 - rho) * g * g
        mom = mu * mom + lr * g / math.sqrt(v + eps)
        w -= mom
    got = run(opt.RMSprop(learning_rate=lr, rho=rho, momentum=mu), [1.0], [[1.0], [-3.0]])
    assert got[0] == pytest.approx(w, rel=GRADER_REL), (
        "mom = momentum*mom + lr*g/sqrt(v+eps); w -= mom"
    )


@pytest.mark.item("optimizers.Adam")
@pytest.mark.parametrize("g", [1.0, -0.5, 1e-3])
def test_adam_first_step_is_about_lr_times_sign(g):
    w = run(opt.Adam(learning_rate=0.01), [0.0], [[g]])
    # m = 0.1 g, v = 0.001 g**2, alpha = lr*sqrt(0.001)/0.1
    # => step = lr*g*sqrt(.001)/(sqrt(.001)|g| + eps)
    expected = -0.01 * g * math.sqrt(0.001) / (math.sqrt(0.001) * abs(g) + 1e-7)
    assert w[0] == pytest.approx(expected, rel=GRADER_REL), (
        "Keras Adam: m, v uncorrected, alpha = lr*sqrt(1-b2^t)/(1-b1^t) with t = 1 on the first "
        "step, w -= alpha*m/(sqrt(v)+eps); the first step is about lr*sign(g)"
    )


@pytest.mark.item("optimizers.Adam")
def test_adam_keeps_stepping_about_lr_with_a_constant_gradient():
    w = run(opt.Adam(learning_rate=0.001), [0.0], [[1.0]] * 10)
    assert w[0] == pytest.approx(-0.01, rel=1e-3), (
        "with a constant gradient every Adam step is about lr (10 steps -> 10*lr). A much smaller "
        "move means the bias correction was fed back into m and v (the lecture's formula)"
    )


@pytest.mark.item("optimizers.Adam")
def test_adam_small_gradients_use_epsilon_hat():
    grads = [[1e-4], [3e-5], [-2e-4]]
    lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
    m = v = 0.0
    w = 0.0
    for t, (g,) in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps)
    got = run(opt.Adam(), [0.0], grads)
    assert got[0] == pytest.approx(w, rel=GRADER_REL), (
        "eps is added to sqrt(v) of the UNcorrected v (Keras), not to sqrt(vhat): the two differ "
        "by several % when |g| is small"
    )


@pytest.mark.item("optimizers.Adam")
def test_adam_amsgrad_uses_the_running_max_of_v():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    m = v = vhat = 0.0
    w = 0.0
    for t, g in enumerate([1.0, 0.0, 0.0], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = max(vhat, v)
        w -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(vhat) + eps)
    got = run(opt.Adam(learning_rate=lr, amsgrad=True), [0.0], [[1.0], [0.0], [0.0]])
    assert got[0] == pytest.approx(w, rel=GRADER_REL), (
        "amsgrad: vhat = max(vhat, v); divide by sqrt(vhat)"
    )
    plain = run(opt.Adam(learning_rate=lr), [0.0], [[1.0], [0.0], [0.0]])
    assert plain[0] != pytest.approx(w, rel=1e-6), "amsgrad=False must use v itself"


@pytest.mark.item(
    by_id={
        "SGD": "optimizers.SGD",
        "Adagrad": "optimizers.Adagrad",
        "RMSprop": "optimizers.RMSprop",
        "Adam": "optimizers.Adam",
    }
)
@pytest.mark.parametrize(
    "make",
    [
        lambda: opt.SGD(0.1, momentum=0.9),
        lambda: opt.Adagrad(0.1),
        lambda: opt.RMSprop(0.1, momentum=0.5, centered=True),
        lambda: opt.Adam(0.1),
    ],
    ids=["SGD", "Adagrad", "RMSprop", "Adam"],
)
def test_state_is_kept_per_parameter_and_across_steps(make):
    rng = np.random.default_rng(0)
    grads_a = [rng.normal(size=(2, 3)) for _ in range(3)]
    grads_b = [rng.normal(size=4) for _ in range(3)]
    a, b = np.ones((2, 3)), np.full(4, -1.0)
    both = make()
    for ga, gb in zip(grads_a, grads_b, strict=True):
        both.step([a, b], [ga, gb])
    alone_a = make()
    a2 = np.ones((2, 3))
    for ga in grads_a:
        alone_a.step([a2], [ga])
    assert_allclose(
        a, a2, rtol=1e-12, err_msg="each parameter has its own state (by position in the list)"
    )
    # three steps with one optimizer differ from three fresh optimizers (state persists)
    fresh = np.ones((2, 3))
    for ga in grads_a:
        make().step([fresh], [ga])
    assert not np.allclose(a, fresh), "the state (velocity/accumulator/moments) must persist"
    assert both.iterations == 3


@pytest.mark.item("optimizers.Adagrad", "optimizers.Adam", "optimizers.RMSprop", "optimizers.SGD")
def test_grads_are_not_modified():
    g = np.array([0.3, -0.7])
    before = g.copy()
    for o in (opt.SGD(0.1, momentum=0.9), opt.Adagrad(), opt.RMSprop(centered=True), opt.Adam()):
        o.step([np.zeros(2)], [g])
        assert np.array_equal(g, before), f"{type(o).__name__}.step modified grads in place"
