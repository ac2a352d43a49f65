"""The case plan: every student of an assignment gets the same cases but for the values.

No sandbox here: the cases are built and compared in this process (the audit grades the
corpus under several ids with the real engine, tests/test_audit.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.cases import Close, Raises
from autograder.config import Config
from autograder.engine import Grader
from autograder.topics import Draws
from autograder.topics._shared.layers import normal


def _shape_of(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_shape_of(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _shape_of(v)) for k, v in sorted(value.items())))
    if isinstance(value, float):
        return ("float", value == 0.0, np.sign(value))
    return value  # ints, strings, None, Rng seeds: part of the plan


def structure(case):
    """Everything about a case but its random values."""
    return (
        case.item,
        case.group,
        case.oracle,
        type(case.expect).__name__,
        case.call.program,
        case.call.target,
        _shape_of(case.call.args),
        _shape_of(case.call.kwargs),
        _shape_of(case.expect.value) if isinstance(case.expect, Close) else None,
        sorted(case.mistakes),
    )


@pytest.fixture(scope="module")
def grader():
    return Grader.create(Config(secret="plan-test-secret"))


@pytest.fixture(scope="module")
def students(grader):
    return {s: grader.cases(s) for s in ("alice", "bob", "chen", "dara", "emil")}


def test_every_student_gets_the_same_plan(students):
    plans = {s: [structure(c) for c in cases] for s, cases in students.items()}
    first = plans["alice"]
    assert len(first) > 400
    for student, plan in plans.items():
        assert len(plan) == len(first), student
        diffs = [(a[0], a[1]) for a, b in zip(first, plan, strict=True) if a != b]
        assert diffs == [], (student, diffs[:5])


def test_only_the_values_differ(students):
    a, b = students["alice"], students["bob"]
    hidden = [
        (x, y)
        for x, y in zip(a, b, strict=True)
        if x.group == "hidden" and x.oracle == "reference" and isinstance(x.expect, Close)
    ]
    differ = [
        x.item
        for x, y in hidden
        if any(
            isinstance(u, np.ndarray) and u.size > 1 and not np.array_equal(u, v)
            for u, v in zip(x.call.args, y.call.args, strict=True)
        )
    ]
    # Most hidden cases with array inputs get other numbers for another student.
    assert len(differ) > len(hidden) // 2


def test_the_plan_comes_from_the_secret():
    one = Grader.create(Config(secret="one")).cases("alice")
    two = Grader.create(Config(secret="two")).cases("alice")
    assert [structure(c) for c in one] != [structure(c) for c in two]


def test_invalid_argument_kinds_are_planned(students):
    names = {
        s: [c.name for c in cases if isinstance(c.expect, Raises)] for s, cases in students.items()
    }
    assert len({tuple(n) for n in names.values()}) == 1


def test_planned_arrays_sort_the_same_way_and_keep_their_signs():
    plan = 12345
    arrays = [
        normal(Draws(np.random.default_rng(plan), np.random.default_rng(s)), (4, 6), 2.0, -1.5)
        for s in range(5)
    ]
    order = np.argsort(arrays[0].ravel())
    for x in arrays[1:]:
        assert not np.array_equal(x, arrays[0])
        assert np.array_equal(np.argsort(x.ravel()), order)
        assert np.array_equal(np.sign(x), np.sign(arrays[0]))
    for x in arrays:
        gaps = np.diff(np.sort(x.ravel()))
        assert gaps.min() > 1e-4  # no tie, no near-tie by chance
        assert np.abs(x).min() > 1e-4  # no accidental zero (a ReLU kink)


def test_planned_normal_is_normal():
    x = normal(np.random.default_rng(0), (200_000,), 3.0, 1.0)
    assert abs(x.mean() - 1.0) < 0.03 and abs(x.std() - 3.0) < 0.03


def test_no_known_mistake_sits_near_the_tolerance(students):
    """A mistake whose output is just beyond the tolerance would fail for some students' values
    and pass for others'; the generators redraw values (or plan clearer cases) to avoid it."""
    from autograder.topics._shared.layers import margin

    near = set()
    for cases in students.values():
        for case in cases:
            if isinstance(case.expect, Close):
                for mistake, out in case.mistakes.items():
                    m = margin(out, case.expect.value)
                    if 0.5 < m < 3:
                        near.add((case.item, case.name, mistake, round(m, 2)))
    assert near == set(), sorted(near)[:5]
