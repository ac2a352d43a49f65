"""The hidden suite of cnn/pooling.py: the reference passes, mistakes are named, seeds vary."""

from __future__ import annotations

import numpy as np
import suite_layers_harness as h

from autograder.cases import Property
from autograder.compare import judge
from autograder.topics._shared.layers import pool_mistakes
from autograder.topics.pooling import plan as suite

ITEMS = [
    "max_pool1d",
    "avg_pool1d",
    "max_pool2d",
    "avg_pool2d",
    "global_max_pool2d",
    "global_avg_pool2d",
]


def test_items_follow_the_contract(sol):
    h.check_items(suite, sol, "pooling", ITEMS)


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


def test_properties_catch_padding_mistakes(sol):
    """The metamorphic cases fail for zero padding (max) and counted padding (average)."""
    for dims in (1, 2):
        for mode, mistake in (("max", "pool-zero-pad-max"), ("avg", "pool-count-pad")):
            item = f"pooling.{mode}_pool{dims}d"
            for seed in h.SEEDS:
                cases = suite.GENERATORS[item](sol, np.random.default_rng(seed), "hidden")
                case = [c for c in cases if isinstance(c.expect, Property)][0]
                (x,) = case.call.args
                kw = case.call.kwargs
                good = getattr(sol.pooling, f"{mode}_pool{dims}d")(x, **kw)
                assert judge(case, h.answer(case, good.astype(np.float32))).passed
                wrong = pool_mistakes(x, kw["pool_size"], kw["stride"], "same", mode, dims)
                verdict = judge(case, h.answer(case, wrong[mistake]()))
                assert not verdict.passed and verdict.message, (item, seed)


def test_default_pool_size_is_exercised(sol):
    """Public max pooling calls the function without pool_size (Keras's default 2)."""
    for dims in (1, 2):
        cases = suite.GENERATORS[f"pooling.max_pool{dims}d"](
            sol, np.random.default_rng(0), "public"
        )
        assert any("pool_size" not in c.call.kwargs for c in cases)


def test_float32_computation_passes(sol):
    h.check_float32_passes(suite, sol)


def test_window_properties_against_a_uniform_convolution(sol):
    for seed in h.SEEDS:
        for mode in ("max", "avg"):
            item = f"pooling.{mode}_pool2d"
            cases = suite.GENERATORS[item](sol, np.random.default_rng(seed), "hidden")
            (case,) = [c for c in cases if "uniform" in c.name or "window averages" in c.name]
            fn = getattr(sol.pooling, f"{mode}_pool2d")
            good = fn(*case.call.args, **case.call.kwargs)
            assert judge(case, h.answer(case, good)).passed
            mean = sol.pooling.avg_pool2d(*case.call.args, **case.call.kwargs)
            bad = good * 1.01 if mode == "avg" else mean - 0.5  # below the average
            assert not judge(case, h.answer(case, bad)).passed
