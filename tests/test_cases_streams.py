"""The plan's generators restarted from a remembered state (``engine.fresh_item_rng``) and the
draw methods bound once (``Draws``) give the streams they replace (issue #16)."""

from __future__ import annotations

import numpy as np

from autograder.engine import fresh_item_rng, item_rng, seed_for
from autograder.topics import GENERATORS, Draws


def _draws(rng):
    return (
        rng.integers(0, 2, size=7).tobytes(),
        int(rng.integers(1, 10)),
        rng.random(5).tobytes(),
        rng.permutation(9).tobytes(),
        rng.normal(0.0, 2.0, 4).tobytes(),
        rng.integers(0, 2**40),
    )


def test_a_restarted_plan_stream_is_the_seeded_one():
    for seed in (0, 1, seed_for("x", "y", "\x00plan"), 2**64 - 1):
        for item in list(GENERATORS)[:12]:
            for _ in range(2):  # the remembered state is not used up
                assert _draws(fresh_item_rng(seed, item)) == _draws(item_rng(seed, item))


def test_bound_draw_methods_route_to_their_streams():
    a = Draws(np.random.default_rng(1), np.random.default_rng(2))
    plan, values = np.random.default_rng(1), np.random.default_rng(2)
    assert a.integers(0, 5, size=3).tobytes() == plan.integers(0, 5, size=3).tobytes()
    assert a.choice([1.0, 2.0]) == plan.choice([1.0, 2.0])
    assert a.permutation(6).tobytes() == plan.permutation(6).tobytes()
    assert a.random(2).tobytes() == plan.random(2).tobytes()
    assert a.normal(0, 1, 3).tobytes() == values.normal(0, 1, 3).tobytes()
    assert a.uniform(0, 1, 3).tobytes() == values.uniform(0, 1, 3).tobytes()
    assert a.standard_normal(2).tobytes() == values.standard_normal(2).tobytes()
    one = Draws(np.random.default_rng(3))
    assert one.normal() == np.random.default_rng(3).normal()
