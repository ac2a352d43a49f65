"""The optimizer cases' flat computations, all parameters at once (issue #16): the simulations
of wrong update rules, the reference's run, the cases' draws.

A rule (``plan.WRONG``) is elementwise, so every parameter of a case is simulated as one flat
vector: the same arithmetic per entry as one parameter at a time, bit for bit, in one numpy
call per step instead of one per parameter. The margins and matches of a simulated answer
against the expected one are computed once over the flat arrays, each parameter keeping its
own absolute tolerance, with the arithmetic of :func:`autograder.topics._shared.layers.margin`
and :func:`autograder.compare.matches`.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ...sandbox.worker import run_optimizer
from ...tolerance import ATOL_FLOOR, ATOL_SCALE, RTOL, absolute_tolerance
from .._shared.layers import plan_of, values_of


def flat_vector(arrays) -> np.ndarray:
    """Arrays as one flat float64 vector, in order (a copy)."""
    return np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64, copy=False)


def simulate_flat(rule, params, flat_grads, hyper) -> np.ndarray:
    """The trajectory (steps, n) of ``rule`` on every parameter at once, as one flat vector.

    Every rule is elementwise, so this is exactly the arithmetic of one parameter at a time
    (the same numbers, bit for bit), in one numpy call per step instead of one per parameter.
    """
    w = flat_vector(params)
    state: dict = {}
    traj = np.empty((len(flat_grads), w.size))
    with np.errstate(all="ignore"):
        for t, g in enumerate(flat_grads, start=1):
            w = rule(w, g, state, t, hyper)
            traj[t - 1] = w
    return traj


def as_answer(traj: np.ndarray, params) -> dict:
    """A flat trajectory as the worker's answer: one (steps, *shape) array per parameter."""
    out, start = [], 0
    for p in params:
        block = traj[:, start : start + p.size]
        out.append(np.ascontiguousarray(block).reshape((len(traj), *p.shape)))
        start += p.size
    return {"params": out, "iterations": list(range(1, len(traj) + 1))}


def flat_expected(expected, params, steps: int):
    """(the expected trajectories as one (steps, n) array, each entry's tolerance bound
    ``atol + rtol*|want|``), or None when the reference's answer is not of the simulated
    structure (then :func:`margin` and :func:`matches` judge it the general way)."""
    if type(expected) is not dict or list(expected) != ["params", "iterations"]:
        return None
    arrays = expected["params"]
    if type(arrays) is not list or len(arrays) != len(params):
        return None
    cols, tols = [], []
    for e, p in zip(arrays, params, strict=True):
        if type(e) is not np.ndarray or e.dtype != np.float64 or e.shape != (steps, *p.shape):
            return None
        if p.size == 0:
            return None
        cols.append(e.reshape(steps, p.size))
        tols.append(np.full(p.size, absolute_tolerance(e)))
    want = np.concatenate(cols, axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        bound = np.concatenate(tols) + RTOL * np.abs(want)
    return want, bound


def judge_flat(got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> tuple[float, bool]:
    """(:func:`margin`, :func:`matches`) of a simulated trajectory's params (steps, n) against
    the expected ones, computed once over the flat arrays with the same arithmetic per entry
    (each parameter keeps its own absolute tolerance, in ``bound``): :func:`judge_many` of
    one trajectory."""
    return judge_many(got[None], want, bound)[0]


def judge_many(got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> list[tuple[float, bool]]:
    """(:func:`margin`, :func:`matches`) of every trajectory in ``got`` (K, steps, n) against
    ``want`` at once: the same arithmetic per entry, the worst ratio (NaN -> inf, inf -> the
    largest float, as margin's nan_to_num) and the match taken per row."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - want)
        same = got == want
        ok = (err <= bound) | same | (np.isnan(got) & np.isnan(want))
        ratio = err / bound
    ratio[same] = 0.0
    out = []
    for worst, fine in zip(ratio.max(axis=(1, 2)).tolist(), ok.all(axis=(1, 2)).tolist(),
                           strict=True):  # fmt: skip
        if worst != worst:
            worst = float("inf")
        elif worst == float("inf"):
            worst = sys.float_info.max
        out.append((worst, fine))
    return out


def screen_margins(got: np.ndarray, want: np.ndarray, sizes: list[int]) -> list[float]:
    """The margins of the trajectories ``got`` (K, steps, n) against ``want`` (steps, n), each
    parameter (``sizes``: its entries, in turn) with its own absolute tolerance: the numbers of
    :func:`judge_many` up to rounding, for a screening only (NaN where anything is not finite:
    inside no band)."""
    with np.errstate(invalid="ignore", over="ignore"):
        aw = np.abs(want)
        tops = np.maximum.reduceat(aw.max(axis=0), np.cumsum([0, *sizes[:-1]]))
        if not np.isfinite(tops).all():  # (the tolerance would then be the finite entries')
            return [float("nan")] * len(got)
        atol = np.maximum(ATOL_SCALE * tops, ATOL_FLOOR)
        bound = np.repeat(atol, sizes) + RTOL * aw
        return (np.abs(got - want) / bound).max(axis=(1, 2)).tolist()


def run_reference(cls, params, grads, kwargs, flat_grads=None):
    """Drive ``cls`` with the worker's own ``run_optimizer`` on every parameter at once, as one
    flat vector (a copy; ``flat_grads``: the steps' gradients as flat vectors, when known).

    Every reference rule is elementwise (each entry's update reads only that entry and its own
    state), so this is exactly the arithmetic of one parameter at a time, bit for bit, in one
    ``step`` over one array instead of a loop and the argument checks over every parameter
    (issue #16); the trajectory is then cut back into one ``(steps, *shape)`` array per
    parameter, as the worker returns it. ``tests/test_cases_optimizers.py`` checks that both
    ways give the same bytes."""
    if flat_grads is None:
        flat_grads = [flat_vector(step) for step in grads]
    out = run_optimizer(cls, ([flat_vector(params)], [[g] for g in flat_grads]), kwargs)
    return {
        "params": as_answer(out["params"][0], params)["params"],
        "iterations": out["iterations"],
    }


def run_reference_per_param(cls, params, grads, kwargs):
    """The worker's own ``run_optimizer`` on copies of the params, one array per parameter
    (what :func:`run_reference` must equal)."""
    return run_optimizer(cls, ([p.copy() for p in params], grads), kwargs)


_SIGNS = np.array([-1.0, 1.0])


def _sizes(shapes):
    return [math.prod(s) for s in shapes]


def _signs(rng, shapes, steps):
    """The planned signs of every gradient entry, step after step, as one flat vector:
    ``rng.choice([-1.0, 1.0], size=s)`` per gradient in turn, drawn as numpy's ``choice`` draws
    them (``integers(0, 2, size=s)``), in one call: the bounded integers are drawn one after the
    other, so the same numbers and the same stream state as one call per gradient."""
    return _SIGNS[plan_of(rng).integers(0, 2, size=steps * sum(_sizes(shapes)))]


def _split(flat, shapes):
    """``flat`` (a vector) cut into arrays of ``shapes`` in turn (views)."""
    out, start = [], 0
    for shape, size in zip(shapes, _sizes(shapes), strict=True):
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def _draw(rng, shapes, steps, gscale, pscale=1.0, signs=None):
    """(params, grads, the initial params as one flat vector, the gradients as one
    (steps, n) array): see :func:`_problem`."""
    shapes = [tuple(s) for s in shapes]
    signs = _signs(rng, shapes, steps) if signs is None else signs
    values = values_of(rng)
    # ``values.normal(0.0, pscale, s)`` for every parameter in turn, in one draw (numpy draws
    # them one after the other: the same numbers and the same stream state)
    w0 = values.normal(0.0, pscale, sum(_sizes(shapes)))
    # ``values.uniform(0.3, 1.7, size=sg.shape)`` for every gradient in turn, in one draw: numpy's
    # uniform is ``low + (high - low) * random()``, one double each (the same numbers and the
    # same stream state as one call per gradient, without the calls' cost)
    u = 0.3 + (1.7 - 0.3) * values.random(signs.size)
    flat = (signs * u * gscale).reshape(steps, -1)  # each entry sign * u * scale, as before
    return _split(w0, shapes), [_split(row, shapes) for row in flat], w0, flat
