"""The optimizer cases' shortcuts (issue #16) give the bytes of the straightforward way.

The draws in one call per kind, the reference run on one flat vector and every mistake rule
simulated in one pass (``variants.simulate_many``) must not change a single case: each check
below compares with the way they were computed before, bytes equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.topics import Draws
from autograder.topics.optimizers import plan as suite
from autograder.topics.optimizers.simulate import (
    _split,
    flat_vector,
    run_reference,
    run_reference_per_param,
    simulate_flat,
)
from autograder.topics.optimizers.variants import simulate_many

SHAPES = [suite.SHAPES_A, suite.SHAPES_B, suite.SHAPES_C, [(1,)], [(2, 1, 3), (4,)]]


def _same(a, b) -> bool:
    """Same type, dtype, shape and bytes, recursively (lists, tuples, dicts, arrays, ints)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _old_problem(rng, shapes, steps, gscale, pscale=1.0):
    """The draws one call per array, as the generator made them before."""
    plan, values = rng.plan, rng.values
    signs = [[np.array([-1.0, 1.0])[plan.integers(0, 2, size=s)] for s in shapes]
             for _ in range(steps)]  # fmt: skip
    params = [values.normal(0.0, pscale, s) for s in shapes]
    grads = [[sg * values.uniform(0.3, 1.7, size=sg.shape) * gscale for sg in st] for st in signs]
    return params, grads


@pytest.mark.parametrize("seed", range(8))
def test_one_draw_per_kind_gives_the_per_array_draws(seed):
    for shapes in SHAPES:
        for steps, gscale, pscale in ((1, 1.0, 1.0), (7, 1e-3, 0.01), (5, 100.0, 10.0)):
            a = Draws(np.random.default_rng(seed), np.random.default_rng(seed + 99))
            b = Draws(np.random.default_rng(seed), np.random.default_rng(seed + 99))
            assert _same(suite._problem(a, shapes, steps, gscale, pscale),
                         _old_problem(b, shapes, steps, gscale, pscale))  # fmt: skip
            # and both streams are left in the same state
            assert a.plan.integers(0, 2**62) == b.plan.integers(0, 2**62)
            assert a.values.random() == b.values.random()


def test_flat_reference_run_gives_the_per_parameter_run(sol):
    """``run_reference`` (one flat vector) and the worker's run on every array: same bytes, on
    every trajectory case of several plans, public and hidden."""
    seen = 0
    for seed in range(4):
        for group in ("public", "hidden"):
            for gen in suite.GENERATORS.values():
                for case in gen(sol, np.random.default_rng(seed), group):
                    if case.expect.__class__.__name__ != "Close":
                        continue
                    params, grads = case.call.args
                    cls = getattr(sol.optimizers, case.item.split(".")[1])
                    want = run_reference_per_param(cls, params, grads, case.call.kwargs)
                    assert _same(case.expect.value, want), case.name
                    assert _same(run_reference(cls, params, grads, case.call.kwargs), want)
                    seen += 1
    assert seen > 100


HYPERS = {
    "Adagrad": [{}, {"learning_rate": 1.0}, {"initial_accumulator_value": 0.0, "epsilon": 1e-4},
                {"epsilon": 0.0, "initial_accumulator_value": 0.0}],
    "RMSprop": [{}, {"rho": 0.0, "learning_rate": 0.05}, {"centered": True, "momentum": 0.9},
                {"centered": True, "rho": 0.5}, {"momentum": 0.7},
                {"epsilon": 0.0, "centered": True}],
    "Adam": [{}, {"amsgrad": True, "beta_2": 0.9}, {"beta_1": 0.5, "beta_2": 0.9999},
             {"epsilon": 1e-3}, {"epsilon": 0.0}, {"beta_1": 0.0, "amsgrad": True}],
}  # fmt: skip
CORRECT = {"Adagrad": suite._adagrad(), "RMSprop": suite._rmsprop(), "Adam": suite._adam()}


@pytest.mark.parametrize("name", sorted(HYPERS))
def test_every_rule_in_one_pass_gives_each_rule_alone(name):
    """Each row of ``simulate_many`` is ``simulate_flat`` of its rule, bytes equal: the wrong
    rules and the correct one, many draws, gradients from 1e-4 to 100, zeros and -0.0."""
    rules = [*suite.WRONG[name].values(), CORRECT[name]]
    rows = 0
    for seed in range(25):
        rng = Draws(np.random.default_rng(seed), np.random.default_rng(seed + 1000))
        for kwargs in HYPERS[name]:
            for gscale in (1e-4, 1.0, 100.0):
                params, grads = suite._problem(rng, suite.SHAPES_C, 7, gscale)
                if seed % 3 == 0:  # exact zeros, a signed zero
                    grads[0][0][0] = -0.0
                    grads[1][1][...] = 0.0
                hyper = dict(suite.DEFAULTS[name], **kwargs)
                flat_grads = [flat_vector(step) for step in grads]
                many = simulate_many(name, rules, flat_vector(params), np.array(flat_grads), hyper)
                for k, rule in enumerate(rules):
                    alone = simulate_flat(rule, params, flat_grads, hyper)
                    assert alone.tobytes() == np.ascontiguousarray(many[k]).tobytes(), (k, kwargs)
                    rows += 1
    assert rows > 1000


def test_rules_without_a_batched_form_are_simulated_alone():
    w0, grads = np.zeros(3), np.ones((2, 3))
    assert simulate_many("SGD", list(suite.WRONG["SGD"].values()), w0, grads, {}) is None
    mixed = [suite._adam(), suite._sgd_plain]
    assert simulate_many("Adam", mixed, w0, grads, suite.DEFAULTS["Adam"]) is None


def _case_bytes(case):
    return (
        case.name,
        case.params,
        case.call.args,
        case.call.kwargs,
        getattr(case.expect, "value", None),
        dict(case.mistakes),
    )


def test_screened_redraws_keep_the_unscreened_draws(sol, monkeypatch):
    """The screening (``plan._screen``) skips the reference only for draws the redraw rule
    rejects anyway: every case of many plans and students is the one the unscreened rule
    builds, bytes equal; and every draw it screened out is near the border on the reference."""
    screen = suite._screen
    screened = []

    def checked(name, kwargs, params, w0, flat_grads):
        many, redrawn = screen(name, kwargs, params, w0, flat_grads)
        if redrawn:
            grads = [_split(row, [p.shape for p in params]) for row in flat_grads]
            case = suite._case(sol, name, kwargs, params, grads, "hidden", 1.0, flat_grads, w0)
            assert any(suite.near_border(m) for m in case.params["_margins"]), (name, kwargs)
            screened.append(name)
        return many, redrawn

    gens = [suite.gen_adagrad, suite.gen_rmsprop, suite.gen_adam]
    for plan_seed in range(5):
        for student in range(8):

            def draws(plan_seed=plan_seed, student=student):
                return Draws(np.random.default_rng([plan_seed, 7]), np.random.default_rng(student))

            for gen in gens:
                monkeypatch.setattr(suite, "_screen", checked)
                fast = gen(sol, draws(), "hidden")
                monkeypatch.setattr(suite, "_screen", lambda *a: (None, False))
                slow = gen(sol, draws(), "hidden")
                assert len(fast) == len(slow)
                for a, b in zip(fast, slow, strict=True):
                    assert _same(_case_bytes(a), _case_bytes(b)), a.name
    assert len(screened) > 20, screened  # the screening did skip the reference often
