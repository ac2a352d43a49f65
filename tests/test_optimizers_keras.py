"""Reference optimizers vs live keras.optimizers stepping keras.Variables (10 steps each).

Weights are O(1); gradients mix scales 1e-5 ... 1e2 so that epsilon placement, bias correction
and the initial accumulator all show. Tolerance (keras-semantics §7/§12): Keras steps float32
variables, which leaves <= 6e-7 absolute on O(1) weights; we allow 1e-6 * max(1, |w|).
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.keras

STEPS = 10


def problem(seed: int):
    """Initial weights and STEPS gradient lists for two parameters (a vector and a matrix)."""
    rng = np.random.default_rng(seed)
    w0 = [np.array([1.0, -2.0, 0.5, 3.0, -0.1, 0.0]), rng.normal(size=(3, 4))]
    scale = np.array([1.0, 0.5, 1e-3, 2.0, 1e-5, 0.0])
    grads = []
    for t in range(STEPS):
        g0 = rng.normal(size=6) * scale
        g0[5] = 0.7 if t % 2 else 0.0
        g1 = rng.normal(size=(3, 4)) * np.array([1e-5, 1e-2, 1.0, 100.0])
        grads.append([g0, g1])
    # float32-representable values, so that both sides see the same numbers
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    return [f32(w) for w in w0], [[f32(g) for g in gs] for gs in grads]


def run_keras(keras, optimizer, w0, grads):
    variables = [keras.Variable(w.astype(np.float32)) for w in w0]
    for gs in grads:
        optimizer.apply_gradients(
            [
                (keras.ops.convert_to_tensor(g.astype(np.float32)), v)
                for g, v in zip(gs, variables, strict=True)
            ]
        )
    return [np.asarray(v.numpy(), dtype=np.float64) for v in variables]


def run_ours(optimizer, w0, grads):
    params = [w.copy() for w in w0]
    for gs in grads:
        optimizer.step(params, gs)
    assert optimizer.iterations == len(grads)
    return params


def assert_trajectory_close(ours, theirs, what):
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        atol = 1e-6 * max(1.0, float(np.abs(b).max()))
        err = np.abs(a - b)
        assert err.max() <= atol, (
            f"{what} param {i}: max |ours - keras| = {err.max():.3g} at "
            f"{np.unravel_index(int(np.argmax(err)), err.shape)} (atol {atol:.3g})"
        )


CONFIGS = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-4}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.99}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "epsilon": 1e-3}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-5}),
]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_optimizer_matches_keras_over_10_steps(sol, keras, name, kwargs):
    w0, grads = problem(seed=len(kwargs) + 7)
    ours = run_ours(getattr(sol.optimizers, name)(**kwargs), w0, grads)
    theirs = run_keras(keras, getattr(keras.optimizers, name)(**kwargs), w0, grads)
    assert_trajectory_close(ours, theirs, f"{name}({kwargs})")
    moved = max(float(np.abs(t - w).max()) for t, w in zip(theirs, w0, strict=True))
    assert moved > 1e-4, "the comparison must be about a real displacement"


def test_defaults_match_keras(sol, keras):
    for name in ("SGD", "Adagrad", "RMSprop", "Adam"):
        ours, theirs = getattr(sol.optimizers, name)(), getattr(keras.optimizers, name)()
        for attr in (
            "learning_rate",
            "momentum",
            "nesterov",
            "initial_accumulator_value",
            "epsilon",
            "rho",
            "centered",
            "beta_1",
            "beta_2",
            "amsgrad",
        ):
            if hasattr(theirs, attr) and hasattr(ours, attr):
                k = getattr(theirs, attr)
                k = float(np.asarray(k)) if not isinstance(k, bool) else k
                assert getattr(ours, attr) == pytest.approx(k, rel=1e-6), f"{name}.{attr}"


@pytest.mark.parametrize(
    ("name", "good", "mutant"),
    [
        ("Adagrad", {}, {"initial_accumulator_value": 0.0}),  # the lecture's r0 = 0
        ("SGD", {"momentum": 0.9, "nesterov": True}, {"momentum": 0.9}),
        ("RMSprop", {"centered": True}, {}),
    ],
)
def test_the_comparison_catches_the_lecture_variants(sol, keras, name, good, mutant):
    w0, grads = problem(seed=3)
    theirs = run_keras(keras, getattr(keras.optimizers, name)(**good), w0, grads)
    wrong = run_ours(getattr(sol.optimizers, name)(**mutant), w0, grads)
    with pytest.raises(AssertionError):
        assert_trajectory_close(wrong, theirs, "mutant")
