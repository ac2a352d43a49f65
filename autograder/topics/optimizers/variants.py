"""Every simulated update rule of an optimizer case in one pass (issue #16).

:func:`simulate.simulate_flat` runs one rule of ``plan.WRONG`` (and the correct rule) on one
flat vector, one numpy call per operation and step. The rules of Adagrad, RMSprop and Adam
differ only by a few choices (``rule.spec``, set by ``plan._adagrad``, ``_rmsprop`` and
``_adam``), so :func:`simulate_many` runs K of them at once, one row each of (K, n) arrays: the
per-row choices are columns (K, 1) and, where a rule takes another branch, ``np.where`` picks
the row's own branch. Every entry goes through exactly the operations of its own rule, in the
same order, so each row is, bit for bit, :func:`simulate_flat` of its rule. The few rewrites
that make this possible are exact in IEEE arithmetic for every input (signed zeros, infinities
and NaN included):

- ``x / 1.0 == x`` and ``1.0 * x == x`` (a row without a bias correction divides by 1.0);
- ``x - 0.0 == x`` (never ``x + 0.0``, which turns -0.0 into +0.0), and ``x + e == x - (-e)``:
  an epsilon added in one place and not in the other is ``- nin`` inside the square root and
  ``- nout`` outside, with ``nin, nout`` either ``-epsilon`` or ``0.0``;
- a state that starts at the Python float 0.0 starts as an array of zeros: ``c * 0.0 + x`` is
  the same number with either (``c`` is a finite non-negative hyper-parameter).

``tests/test_cases_optimizers.py`` checks every row against its rule, bytes equal, on many
draws and on the cases of several plans.
"""

from __future__ import annotations

import numpy as np


def simulate_many(name: str, rules, w0: np.ndarray, grads: np.ndarray, hyper: dict):
    """The trajectories (K, steps, n) of ``rules`` (K rules of optimizer ``name``) from the flat
    initial params ``w0`` (n,) under the flat gradients ``grads`` (steps, n), or None when one of
    the rules is not a batched one (then each is simulated on its own)."""
    run = _BATCHED.get(name)
    specs = [getattr(rule, "spec", None) for rule in rules]
    if run is None or not rules or any(s is None or s[0] != name for s in specs):
        return None
    grads = np.asarray(grads, dtype=np.float64)
    with np.errstate(all="ignore"):
        return run([s[1] for s in specs], np.asarray(w0, dtype=np.float64), grads, hyper)


def _col(values) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(-1, 1)


def _mask(values) -> np.ndarray:
    return np.array(values, dtype=bool).reshape(-1, 1)


def _eps_cols(specs, eps, outside_key):
    """(nin, nout): ``- nin`` under the square root, ``- nout`` after it (see the module's
    docstring): ``-eps`` where the rule adds epsilon there, else 0.0."""
    nin = _col([0.0 if s[outside_key] else -eps for s in specs])
    nout = _col([-eps if s[outside_key] else 0.0 for s in specs])
    return nin, nout


def _adagrad(specs, w0, grads, h):
    k, (steps, n) = len(specs), grads.shape
    lr, eps = h["learning_rate"], h["epsilon"]
    acc = np.empty((k, n))
    acc[...] = _col([h["initial_accumulator_value"] if s["init"] is None else s["init"]
                     for s in specs])  # fmt: skip
    after = _mask([s["after"] for s in specs])
    any_after = bool(after.any())
    nin, nout = _eps_cols(specs, eps, "eps_outside")
    w = np.repeat(w0[None, :], k, axis=0)
    out = np.empty((k, steps, n))
    for t in range(steps):
        g = grads[t]
        new = acc + g * g
        used = np.where(after, acc, new) if any_after else new
        acc = new
        den = np.sqrt(used - nin) - nout
        w = w - lr * g / den
        out[:, t] = w
    return out


def _rmsprop(specs, w0, grads, h):
    k, (steps, n) = len(specs), grads.shape
    rho, lr, eps = h["rho"], h["learning_rate"], h["epsilon"]
    a = _col([1 - rho if s["swap"] else rho for s in specs])
    b = _col([rho if s["swap"] else 1 - rho for s in specs])
    centered = _mask([h["centered"] if s["centered"] is None else s["centered"] for s in specs])
    mus = [h["momentum"] if s["momentum"] is None else s["momentum"] for s in specs]
    moving = _mask([mu > 0 for mu in mus])
    mu = _col(mus)
    any_centered, any_moving = bool(centered.any()), bool(moving.any())
    nin, nout = _eps_cols(specs, eps, "eps_outside")
    v, mg, mom = np.zeros((k, n)), np.zeros((k, n)), np.zeros((k, n))
    w = np.repeat(w0[None, :], k, axis=0)
    out = np.empty((k, steps, n))
    for t in range(steps):
        g = grads[t]
        v = a * v + b * g * g
        den = v
        if any_centered:
            mg = a * mg + b * g
            den = np.where(centered, den - mg**2, den)
        den = np.sqrt(den - nin) - nout
        inc = lr * g / den
        if any_moving:
            mom = mu * mom + inc
            w = np.where(moving, w - mom, w - inc)
        else:
            w = w - inc
        out[:, t] = w
    return out


def _adam(specs, w0, grads, h):
    k, (steps, n) = len(specs), grads.shape
    b1, b2, lr, eps = h["beta_1"], h["beta_2"], h["learning_rate"], h["epsilon"]
    lecture = [s["kind"] == "lecture" for s in specs]
    any_lecture = any(lecture)
    ams = _mask([
        not lec and (h["amsgrad"] if s["amsgrad"] is None else s["amsgrad"])
        for s, lec in zip(specs, lecture, strict=True)
    ])  # fmt: skip
    any_ams = bool(ams.any())
    inside = [s["kind"] in ("inside", "lecture") for s in specs]
    nin = _col([-eps if i else 0.0 for i in inside])
    nout = _col([0.0 if i else -eps for i in inside])
    # per step and row: the divisors of the stored moments (the lecture's correction, else 1.0),
    # the step size and the divisors of the moments in the update (the textbook's, else 1.0)
    d1, d2, scale, c1, c2 = [], [], [], [], []
    for t in range(1, steps + 1):
        row = [[], [], [], [], []]
        for s, lec in zip(specs, lecture, strict=True):
            tk = t + s["shift"]
            row[0].append(1 - b1**tk if lec else 1.0)
            row[1].append(1 - b2**tk if lec else 1.0)
            if s["kind"] in ("keras", "inside"):
                row[2].append(lr * np.sqrt(1 - b2**tk) / (1 - b1**tk))
            else:
                row[2].append(lr)
            textbook = s["kind"] == "textbook"
            row[3].append(1 - b1**tk if textbook else 1.0)
            row[4].append(1 - b2**tk if textbook else 1.0)
        for into, values in zip((d1, d2, scale, c1, c2), row, strict=True):
            into.append(_col(values))
    m, v, vhat = np.zeros((k, n)), np.zeros((k, n)), np.zeros((k, n))
    w = np.repeat(w0[None, :], k, axis=0)
    out = np.empty((k, steps, n))
    for t in range(steps):
        g = grads[t]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if any_lecture:  # the corrected moments are what the lecture's rule keeps
            m, v = m / d1[t], v / d2[t]
        used = v
        if any_ams:
            vhat = np.maximum(vhat, v)
            used = np.where(ams, vhat, v)
        w = w - scale[t] * (m / c1[t]) / (np.sqrt(used / c2[t] - nin) - nout)
        out[:, t] = w
    return out


_BATCHED = {"Adagrad": _adagrad, "RMSprop": _rmsprop, "Adam": _adam}
