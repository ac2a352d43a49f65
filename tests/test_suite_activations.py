"""The hidden suite of cnn/activations.py: the reference passes, mistakes are named, seeds vary."""

from __future__ import annotations

import numpy as np
import suite_layers_harness as h

from autograder.cases import Property
from autograder.compare import judge
from autograder.topics.activations import plan as suite

ITEMS = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softmax",
    "sigmoid_grad",
    "tanh_grad",
    "relu_grad",
    "leaky_relu_grad",
]


def test_items_follow_the_contract(sol):
    h.check_items(suite, sol, "activations", ITEMS)


def test_reference_passes_every_case(sol):
    h.check_reference_passes(suite, sol)


def test_case_counts_types_and_raises(sol):
    h.check_shape_of_suite(suite, sol)


def test_every_mistake_is_named(sol):
    h.check_mistakes_named(suite, sol)


def test_generators_are_deterministic_and_vary(sol):
    h.check_deterministic(suite, sol)


def test_stubs_fail_except_invalid_arguments(sol, stubs):
    h.check_stubs(suite, sol, stubs)


def _property(sol, item, seed=0):
    cases = suite.GENERATORS[item](sol, np.random.default_rng(seed), "hidden")
    (case,) = [c for c in cases if isinstance(c.expect, Property)]
    return case


def _naive(name, x):
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "softmax":
            e = np.exp(x)
            return e / e.sum(axis=-1, keepdims=True)
        if name == "tanh":
            return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
        return np.exp(x) / (1 + np.exp(x))


def test_properties_catch_overflowing_formulas(sol):
    for name in ("sigmoid", "tanh", "softmax"):
        for seed in h.SEEDS:
            case = _property(sol, f"activations.{name}", seed)
            (x,) = case.call.args
            verdict = judge(case, h.answer(case, _naive(name, x)))
            assert not verdict.passed and verdict.message, (name, seed)
            assert not judge(case, h.answer(case, np.zeros(x.shape))).passed


def test_scalar_input_accepts_python_and_numpy_scalars(sol):
    cases = suite.GENERATORS["activations.relu_grad"](sol, np.random.default_rng(0), "hidden")
    (case,) = [c for c in cases if isinstance(c.call.args[0], float)]
    want = float(case.expect.value)
    for got in (want, np.float64(want), np.float32(want), np.asarray(want)):
        assert judge(case, h.answer(case, got)).passed


def test_relu_grad_at_zero_is_graded(sol):
    """Every seed has a case whose x holds exact zeros, with the x >= 0 mistake attached."""
    for seed in h.SEEDS:
        cases = suite.GENERATORS["activations.relu_grad"](
            sol, np.random.default_rng(seed), "hidden"
        )
        assert any("relu-grad-at-zero-one" in c.mistakes for c in cases)


def test_float32_computation_passes(sol):
    h.check_float32_passes(suite, sol)
