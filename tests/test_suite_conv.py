"""The hidden suite of cnn/conv.py: the reference passes, mistakes are named, seeds vary."""

from __future__ import annotations

import time

import numpy as np
import suite_layers_harness as h

from autograder.cases import Property
from autograder.compare import judge
from autograder.topics._shared.layers import axis_pads, pair
from autograder.topics.conv import plan as suite

ITEMS = ["pad2d", "conv1d", "conv2d"]


def test_items_follow_the_contract(sol):
    h.check_items(suite, sol, "conv", ITEMS)


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


def _loop_conv2d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    """A student's six-loop conv2d (one np.sum per output element)."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw, _, f = kernel.shape
    pads = [
        axis_pads(x.shape[1 + i], kernel.shape[i], (sh, sw)[i], (dh, dw)[i], padding)
        for i in range(2)
    ]
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    h_out = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    w_out = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], h_out, w_out, f))
    for n in range(x.shape[0]):
        for i in range(h_out):
            for j in range(w_out):
                win = xp[
                    n,
                    i * sh : i * sh + (kh - 1) * dh + 1 : dh,
                    j * sw : j * sw + (kw - 1) * dw + 1 : dw,
                    :,
                ]
                for c in range(f):
                    y[n, i, j, c] = np.sum(win * kernel[..., c]) + (0 if bias is None else bias[c])
    return y


def test_a_loop_implementation_passes_quickly(sol):
    worst = 0.0
    for seed in h.SEEDS[:3]:
        for case in suite.gen_conv2d(sol, np.random.default_rng(seed), "hidden"):
            if case.check_mutation:  # not a Raises case
                started = time.perf_counter()
                value = _loop_conv2d(*case.call.args, **case.call.kwargs)
                worst = max(worst, time.perf_counter() - started)
                assert judge(case, h.answer(case, value)).passed, case.name
    assert worst < 0.25, worst


def test_property_catches_a_batch_bug(sol):
    """The metamorphic case fails when the batch items are mixed up or noise is added."""
    for item in ("conv.conv1d", "conv.conv2d"):
        for seed in h.SEEDS:
            cases = suite.GENERATORS[item](sol, np.random.default_rng(seed), "hidden")
            case = [c for c in cases if isinstance(c.expect, Property)][0]
            fn = getattr(sol.conv, item.split(".")[1])
            good = fn(*case.call.args, **case.call.kwargs)
            assert judge(case, h.answer(case, good)).passed
            assert judge(case, h.answer(case, good.astype(np.float32))).passed
            rolled = good[[0, 1, 2, 3, 0]]  # the fifth output replaced by the first
            assert not judge(case, h.answer(case, rolled)).passed
            noisy = good + 1e-3 * np.abs(good).max() * np.random.default_rng(0).normal(
                size=good.shape
            )
            assert not judge(case, h.answer(case, noisy)).passed
            assert not judge(case, h.answer(case, good[:, :-1])).passed


def test_mutation_is_detected(sol):
    case = suite.gen_conv2d(sol, np.random.default_rng(0), "public")[0]
    outcome = h.answer(case, case.expect.value)
    outcome.inputs_after[0][0, 0, 0, 0] += 1.0
    verdict = judge(case, outcome)
    assert not verdict.passed and verdict.mistake == "mutated-input"


def test_float32_computation_passes(sol):
    h.check_float32_passes(suite, sol)


def test_one_by_one_convolution_property(sol):
    for seed in h.SEEDS:
        cases = suite.GENERATORS["conv.conv2d"](sol, np.random.default_rng(seed), "hidden")
        (case,) = [c for c in cases if "matrix product" in c.name]
        good = sol.conv.conv2d(*case.call.args, **case.call.kwargs)
        assert judge(case, h.answer(case, good)).passed
        assert not judge(case, h.answer(case, good * 1.01)).passed
        no_bias = sol.conv.conv2d(*case.call.args[:2])
        assert not judge(case, h.answer(case, no_bias)).passed
