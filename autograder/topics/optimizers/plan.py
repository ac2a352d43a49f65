"""Hidden suite for cnn/optimizers.py: multi-step trajectories of SGD, Adagrad, RMSprop, Adam.

Every case runs the worker program ``optimizer``: ``args = (params, grads per step)``, ``kwargs``
the constructor arguments; the answer is the trajectory of every parameter and the iteration
counter after every step. Params are updated in place by design, so no mutation check.
Known wrong update rules are simulated by :func:`_simulate` with small private rules.
"""

from __future__ import annotations

import numpy as np

from ...cases import Call, Case, Close, Raises
from ...compare import matches
from .._shared.layers import margin, near_border, plan_of
from .simulate import (
    _draw,
    _signs,
    as_answer,
    flat_expected,
    flat_vector,
    judge_flat,
    judge_many,
    run_reference,
    screen_margins,
    simulate_flat,
)
from .variants import simulate_many

MISTAKES = {
    "sgd-momentum-ignored": "Your trajectory matches plain SGD (w -= lr*g) although momentum > 0: "
    "Keras keeps a velocity m = momentum*m - lr*g and moves w += m.",
    "sgd-momentum-ema": "Your trajectory matches the moving-average momentum "
    "(v = momentum*v + (1-momentum)*g; w -= lr*v): Keras uses m = momentum*m - lr*g; w += m.",
    "sgd-momentum-double-gradient": "Your trajectory subtracts lr*g twice per step "
    "(w += m - lr*g): in Keras the velocity m already contains -lr*g, so w += m.",
    "sgd-nesterov-ignored": "Your trajectory matches classical momentum although nesterov=True: "
    "Keras's Nesterov update is w += momentum*m - lr*g with the new velocity m.",
    "adagrad-zero-init": "Your trajectory matches an accumulator that starts at 0 (the lecture's "
    "AdaGrad): Keras starts it at initial_accumulator_value (0.1 by default).",
    "adagrad-eps-outside-sqrt": "Your trajectory matches lr*g/(sqrt(a)+epsilon): Keras's Adagrad "
    "puts epsilon inside the square root, lr*g/sqrt(a+epsilon).",
    "adagrad-accumulate-after-update": "Your trajectory divides by the accumulator of the "
    "previous step: Keras first adds g**2 to the accumulator, then updates w.",
    "rmsprop-eps-outside-sqrt": "Your trajectory matches lr*g/(sqrt(v)+epsilon): Keras's RMSprop "
    "puts epsilon inside the square root, lr*g/sqrt(v+epsilon).",
    "rmsprop-rho-swapped": "Your trajectory matches v = (1-rho)*v + rho*g**2: Keras keeps "
    "v = rho*v + (1-rho)*g**2.",
    "rmsprop-centered-ignored": "Your trajectory ignores centered=True: Keras then divides by "
    "sqrt(v - mg**2 + epsilon) with mg the moving average of the gradients.",
    "rmsprop-momentum-ignored": "Your trajectory ignores momentum > 0: Keras then keeps "
    "mom = momentum*mom + lr*g/sqrt(v+epsilon) and moves w -= mom.",
    "adam-no-bias-correction": "Your trajectory matches Adam without bias correction: Keras "
    "scales the step by sqrt(1-beta_2**t)/(1-beta_1**t).",
    "adam-lecture": "Your trajectory matches the lecture's Adam (bias-corrected m and r fed back "
    "into the recursion), whose steps collapse: Keras keeps m and v uncorrected and applies "
    "the correction only in the update.",
    "adam-textbook-epsilon": "Your trajectory matches textbook Adam, mhat/(sqrt(vhat)+epsilon): "
    "Keras computes lr*sqrt(1-beta_2**t)/(1-beta_1**t) * m/(sqrt(v)+epsilon), which differs "
    "for small gradients.",
    "adam-eps-inside-sqrt": "Your trajectory matches m/sqrt(v+epsilon): Keras's Adam adds epsilon "
    "outside the square root, m/(sqrt(v)+epsilon).",
    "adam-step-off-by-one": "Your trajectory uses t+1 in the bias correction (the step counter "
    "is incremented too late): Keras uses t = 1 on the first step.",
    "adam-amsgrad-ignored": "Your trajectory ignores amsgrad=True: Keras then divides by the "
    "running maximum of v.",
}

DEFAULTS = {
    "SGD": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "Adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "RMSprop": {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    "Adam": {
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
}


# ---------------------------------------------------------------- wrong update rules
# A rule is rule(w, g, state, t, h) -> new w; `state` is a per-parameter dict, t = 1, 2, ...


def _sgd_plain(w, g, s, t, h):
    return w - h["learning_rate"] * g


def _sgd_classical(w, g, s, t, h):
    s["m"] = h["momentum"] * s.get("m", 0.0) - h["learning_rate"] * g
    return w + s["m"]


def _sgd_ema(w, g, s, t, h):
    s["v"] = h["momentum"] * s.get("v", 0.0) + (1 - h["momentum"]) * g
    return w - h["learning_rate"] * s["v"]


def _sgd_double(w, g, s, t, h):
    s["m"] = h["momentum"] * s.get("m", 0.0) - h["learning_rate"] * g
    return w + s["m"] - h["learning_rate"] * g


def _adagrad(init=None, eps_outside=False, after=False):
    def rule(w, g, s, t, h):
        a = s.get("a", h["initial_accumulator_value"] if init is None else init)
        new_a = a + g * g
        used = a if after else new_a
        s["a"] = new_a
        eps = h["epsilon"]
        den = np.sqrt(used) + eps if eps_outside else np.sqrt(used + eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return w - h["learning_rate"] * g / den

    rule.spec = ("Adagrad", {"init": init, "eps_outside": eps_outside, "after": after})
    return rule


def _rmsprop(eps_outside=False, swap=False, centered=None, momentum=None):
    def rule(w, g, s, t, h):
        rho = h["rho"]
        a, b = (1 - rho, rho) if swap else (rho, 1 - rho)
        s["v"] = a * s.get("v", 0.0) + b * g * g
        den = s["v"]
        if h["centered"] if centered is None else centered:
            s["mg"] = a * s.get("mg", 0.0) + b * g
            den = den - s["mg"] ** 2
        den = np.sqrt(den) + h["epsilon"] if eps_outside else np.sqrt(den + h["epsilon"])
        inc = h["learning_rate"] * g / den
        mu = h["momentum"] if momentum is None else momentum
        if mu > 0:
            s["mom"] = mu * s.get("mom", 0.0) + inc
            return w - s["mom"]
        return w - inc

    rule.spec = (
        "RMSprop",
        {"eps_outside": eps_outside, "swap": swap, "centered": centered, "momentum": momentum},
    )
    return rule


def _adam(kind="keras", amsgrad=None, shift=0):
    def rule(w, g, s, t, h):
        b1, b2, lr, eps = h["beta_1"], h["beta_2"], h["learning_rate"], h["epsilon"]
        t = t + shift
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        if kind == "lecture":  # corrected moments fed back, eps inside the sqrt
            s["m"], s["v"] = m / (1 - b1**t), v / (1 - b2**t)
            return w - lr * s["m"] / np.sqrt(s["v"] + eps)
        s["m"], s["v"] = m, v
        if amsgrad if amsgrad is not None else h["amsgrad"]:
            s["vhat"] = np.maximum(s.get("vhat", 0.0), v)
            v = s["vhat"]
        if kind == "textbook":
            return w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        if kind == "nobias":
            return w - lr * m / (np.sqrt(v) + eps)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        if kind == "inside":
            return w - alpha * m / np.sqrt(v + eps)
        return w - alpha * m / (np.sqrt(v) + eps)

    rule.spec = ("Adam", {"kind": kind, "amsgrad": amsgrad, "shift": shift})
    return rule


WRONG = {
    "SGD": {
        "sgd-momentum-ignored": _sgd_plain,
        "sgd-momentum-ema": _sgd_ema,
        "sgd-momentum-double-gradient": _sgd_double,
        "sgd-nesterov-ignored": _sgd_classical,
    },
    "Adagrad": {
        "adagrad-zero-init": _adagrad(init=0.0),
        "adagrad-eps-outside-sqrt": _adagrad(eps_outside=True),
        "adagrad-accumulate-after-update": _adagrad(after=True),
    },
    "RMSprop": {
        "rmsprop-eps-outside-sqrt": _rmsprop(eps_outside=True),
        "rmsprop-rho-swapped": _rmsprop(swap=True),
        "rmsprop-centered-ignored": _rmsprop(centered=False),
        "rmsprop-momentum-ignored": _rmsprop(momentum=0.0),
    },
    "Adam": {
        "adam-no-bias-correction": _adam("nobias"),
        "adam-lecture": _adam("lecture"),
        "adam-textbook-epsilon": _adam("textbook"),
        "adam-eps-inside-sqrt": _adam("inside"),
        "adam-step-off-by-one": _adam(shift=1),
        "adam-amsgrad-ignored": _adam(amsgrad=False),
    },
}


def _simulate(rule, params, grads, hyper):
    """The answer of an optimizer following ``rule`` (same structure as the worker's)."""
    flat_grads = [flat_vector(step) for step in grads]
    return as_answer(simulate_flat(rule, params, flat_grads, hyper), params)


# ---------------------------------------------------------------- case building


def _problem(rng, shapes, steps, gscale, pscale=1.0, signs=None):
    """Initial params and gradients: planned signs, per-student magnitudes in [0.3, 1.7] * scale
    (never near 0 by chance, so where epsilon is placed shows only where it is planned)."""
    return _draw(rng, shapes, steps, gscale, pscale, signs)[:2]


def _fmt(kwargs):
    return ", ".join(f"{k}={v}" for k, v in kwargs.items())


def _wrong_rules(name, hyper):
    """(mistake id, rule) of the mistakes a case of ``name`` with ``hyper`` is checked for."""
    return [
        (mid, rule)
        for mid, rule in WRONG[name].items()
        # without momentum these are not momentum mistakes
        if not (mid.startswith("sgd-momentum") and hyper["momentum"] == 0)
    ]


def _case(ref, name, kwargs, params, grads, group, gscale, flat_grads=None, w0=None, many=None):
    """The case of ``params`` and ``grads`` (``flat_grads``: the steps' gradients as one
    (steps, n) array, ``w0`` the params as one flat vector, ``many`` the wrong rules'
    trajectories from :func:`simulate_many`, when the caller has them)."""
    item = f"optimizers.{name}"
    call = Call("optimizer", item, (params, grads), dict(kwargs))
    label = f"{name}({_fmt(kwargs)}), {len(params)} params, {len(grads)} steps, |g|~{gscale:g}"
    info = dict(kwargs, shapes=[p.shape for p in params], steps=len(grads), grad_scale=gscale)
    if flat_grads is None:
        flat_grads = np.array([flat_vector(step) for step in grads])
    if w0 is None:
        w0 = flat_vector(params)
    expected = run_reference(getattr(ref.optimizers, name), params, grads, kwargs, flat_grads)
    hyper = dict(DEFAULTS[name], **kwargs)
    mistakes = {}
    margins = []
    flat = flat_expected(expected, params, len(grads))
    wrong_rules = _wrong_rules(name, hyper)
    # every rule at once where the optimizer's rules are batched (variants.py), else one by one
    if many is None:
        many = simulate_many(name, [r for _, r in wrong_rules], w0, flat_grads, hyper)
    if many is not None and flat is not None:
        judged = judge_many(many, *flat)
    for k, (mid, rule) in enumerate(wrong_rules):
        traj = simulate_flat(rule, params, flat_grads, hyper) if many is None else many[k]
        wrong = as_answer(traj, params)
        if flat is None:
            found, same = margin(wrong, expected), matches(wrong, expected)
        else:
            found, same = judge_flat(traj, *flat) if many is None else judged[k]
            its, want_its = wrong["iterations"], expected["iterations"]
            if not (its == want_its and all(type(i) is int for i in want_its)):
                found = max(found, margin(its, want_its))  # (0 and a match when they are equal)
                same = same and matches(its, want_its)
        margins.append(found)
        if not same:
            mistakes[mid] = wrong
    info["_margins"] = margins
    return Case(
        item,
        label,
        call,
        Close(expected),
        group=group,
        params=info,
        check_mutation=False,
        mistakes=mistakes,
    )


def _raises(name, label, kwargs, params, grads):
    item = f"optimizers.{name}"
    call = Call("optimizer", item, (params, grads), dict(kwargs))
    return Case(
        item,
        f"invalid: {label}",
        call,
        Raises("ValueError"),
        params=dict(kwargs),
        check_mutation=False,
    )


ATTEMPTS = 20  # draws of a case's values before the last one is kept whatever its margins
# The rules that give the reference's answer (up to rounding: Adam's moments are written
# m = b1*m + (1-b1)*g here, m += (g - m)*(1-b1) in the reference) for the screening below.
CORRECT = {"Adagrad": _adagrad(), "RMSprop": _rmsprop(), "Adam": _adam()}
# A screened margin inside this band is inside near_border's (0.2, 5.0) by far more than
# rounding could move it (the margins of the simulated and the reference answer differ by
# ~1e-11 of a tolerance unit: the trajectories by ~1e-16 relative, the tolerance is 1e-5).
SCREEN = (0.2 * 1.01, 5.0 / 1.01)


def _screen(name, kwargs, params, w0, flat_grads):
    """(the wrong rules' trajectories, or None, and whether the draw is surely redrawn).

    A draw is redrawn when some mistake's margin against the reference's answer is near the
    border (:func:`near_border`). The batched rules (variants.py) simulate the mistakes and the
    correct rule in one pass; a mistake whose margin against the correct rule's trajectory is
    inside the narrower band ``SCREEN`` is surely near the border against the reference too, so
    the draw is redrawn without running the reference. Any other draw is judged as always (on
    the reference's answer): the accepted draw, and every case, are the ones the unscreened
    rule gives (``tests/test_cases_optimizers.py`` compares both over many plans and seeds).
    """
    if name not in CORRECT:
        return None, False
    hyper = dict(DEFAULTS[name], **kwargs)
    rules = [rule for _, rule in _wrong_rules(name, hyper)] + [CORRECT[name]]
    many = simulate_many(name, rules, w0, flat_grads, hyper)
    if many is None:
        return None, False
    worst = screen_margins(many[:-1], many[-1], [p.size for p in params])
    low, high = SCREEN
    return many[:-1], any(low < found < high for found in worst)


def _build(ref, rng, group, name, specs, bad):
    """``specs``: (kwargs, shapes, steps, grad scale, param scale) per case; ``bad``: raises."""
    cases = []
    for kwargs, shapes, steps, gscale, pscale in specs:
        signs = _signs(rng, shapes, steps)
        for attempt in range(ATTEMPTS):  # values only: the plan stays the same for everyone
            params, grads, w0, flat_grads = _draw(rng, shapes, steps, gscale, pscale, signs)
            many, redrawn = _screen(name, kwargs, params, w0, flat_grads)
            if redrawn and attempt < ATTEMPTS - 1:
                continue  # surely redrawn below: no need for the reference's answer
            case = _case(ref, name, kwargs, params, grads, group, gscale, flat_grads, w0, many)
            if not any(near_border(m) for m in case.params.pop("_margins")):
                break
        cases.append(case)
    if group == "hidden":
        for label, kwargs, mangle in bad:
            params, grads = _problem(rng, [(3,)], 2, 0.1)
            if mangle == "shape":
                grads = _problem(rng, [(4,)], 2, 1.0)[1]
            elif mangle == "length":
                extra = _problem(rng, [(3,)], 2, 1.0)[1]
                grads = [[g[0], e[0]] for g, e in zip(grads, extra, strict=True)]
            cases.append(_raises(name, label, kwargs, params, grads))
    return cases


def _lr(rng, lo, hi):
    return float(np.round(10 ** plan_of(rng).uniform(np.log10(lo), np.log10(hi)), 5))


SHAPES_A = [(4,), (2, 3)]
SHAPES_B = [(3, 2, 2)]
SHAPES_C = [(5,), (2, 2), (3,)]
BAD_SHAPE = ("grads[0] has shape (4,), params[0] (3,)", {}, "shape")
BAD_LENGTH = ("2 grads for 1 param", {}, "length")


def gen_sgd(ref, rng, group):
    if group == "public":
        specs = [
            ({"learning_rate": 0.1}, SHAPES_A, 5, 1.0, 1.0),
            ({"learning_rate": 0.05, "momentum": 0.9}, SHAPES_A, 6, 1.0, 1.0),
            ({"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, SHAPES_A, 6, 1.0, 1.0),
        ]
        return _build(ref, rng, group, "SGD", specs, [])
    mu = float(np.round(plan_of(rng).uniform(0.5, 0.95), 3))
    specs = [
        ({"learning_rate": _lr(rng, 0.01, 0.2)}, SHAPES_C, 5, 1.0, 1.0),
        ({}, SHAPES_B, 5, 1.0, 1.0),
        ({"learning_rate": _lr(rng, 0.02, 0.2), "momentum": mu}, SHAPES_A, 7, 1.0, 1.0),
        (
            {"learning_rate": _lr(rng, 0.02, 0.2), "momentum": mu, "nesterov": True},
            SHAPES_C,
            7,
            1.0,
            1.0,
        ),
        ({"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}, SHAPES_B, 6, 1.0, 1.0),
        ({"learning_rate": 0.5, "momentum": 0.9}, SHAPES_A, 8, 1e-3, 0.01),
        ({"learning_rate": 1e-4, "momentum": 0.99}, SHAPES_A, 6, 100.0, 1.0),
        ({"learning_rate": 0.05, "momentum": 1.0}, SHAPES_A, 5, 1.0, 1.0),
        ({"learning_rate": 0.05, "momentum": 0.0, "nesterov": True}, SHAPES_A, 5, 1.0, 1.0),
    ]
    bad = [("momentum=1.5", {"momentum": 1.5}, None), BAD_SHAPE]
    return _build(ref, rng, group, "SGD", specs, bad)


def gen_adagrad(ref, rng, group):
    if group == "public":
        specs = [
            ({}, SHAPES_A, 5, 1e-3, 0.01),
            ({"learning_rate": 0.1}, SHAPES_A, 5, 1.0, 1.0),
            ({"learning_rate": 0.05, "initial_accumulator_value": 0.5}, SHAPES_A, 5, 1.0, 1.0),
        ]
        return _build(ref, rng, group, "Adagrad", specs, [])
    specs = [
        ({}, SHAPES_C, 6, 1e-3, 0.01),
        ({"learning_rate": _lr(rng, 0.01, 0.3)}, SHAPES_A, 6, 1.0, 1.0),
        # (a learning rate >= 0.1: below, accumulating after the update is within tolerance)
        ({"learning_rate": _lr(rng, 0.1, 0.3)}, SHAPES_B, 5, 1e-2, 0.1),
        ({"learning_rate": 0.1, "initial_accumulator_value": 0.0}, SHAPES_A, 5, 1.0, 1.0),
        (
            {"learning_rate": 0.05, "initial_accumulator_value": float(rng.choice([0.01, 1.0]))},
            SHAPES_C,
            5,
            1.0,
            1.0,
        ),
        ({"learning_rate": 0.1, "epsilon": 0.1}, SHAPES_A, 5, 1.0, 1.0),
        (
            {"learning_rate": 0.01, "initial_accumulator_value": 0.0, "epsilon": 1e-4},
            SHAPES_A,
            5,
            1e-3,
            0.01,
        ),
        ({"learning_rate": 1.0}, SHAPES_B, 5, 100.0, 10.0),
    ]
    bad = [("epsilon=-1e-7", {"epsilon": -1e-7}, None), BAD_LENGTH]
    return _build(ref, rng, group, "Adagrad", specs, bad)


def gen_rmsprop(ref, rng, group):
    if group == "public":
        specs = [
            ({}, SHAPES_A, 5, 1.0, 0.01),
            ({"learning_rate": 0.01, "momentum": 0.9}, SHAPES_A, 6, 1.0, 1.0),
            ({"learning_rate": 0.01, "centered": True}, SHAPES_A, 6, 1.0, 1.0),
        ]
        return _build(ref, rng, group, "RMSprop", specs, [])
    rho = float(rng.choice([0.5, 0.8, 0.99]))
    specs = [
        ({}, SHAPES_C, 6, 1e-4, 0.01),
        ({"learning_rate": _lr(rng, 0.005, 0.05), "rho": rho}, SHAPES_A, 6, 1.0, 1.0),
        (
            {
                "learning_rate": 0.01,
                "momentum": float(np.round(plan_of(rng).uniform(0.5, 0.95), 3)),
            },
            SHAPES_B,
            7,
            1.0,
            1.0,
        ),
        ({"learning_rate": 0.01, "centered": True, "rho": rho}, SHAPES_C, 7, 1.0, 1.0),
        ({"learning_rate": 0.01, "centered": True, "momentum": 0.9}, SHAPES_A, 6, 1.0, 1.0),
        ({"learning_rate": 0.01, "epsilon": 1e-2}, SHAPES_A, 5, 0.1, 1.0),
        ({"learning_rate": 0.001}, SHAPES_B, 6, 1e-4, 0.01),
        ({"learning_rate": 0.05, "rho": 0.0}, SHAPES_A, 5, 10.0, 1.0),
    ]
    bad = [("momentum=-0.1", {"momentum": -0.1}, None), BAD_SHAPE]
    return _build(ref, rng, group, "RMSprop", specs, bad)


def gen_adam(ref, rng, group):
    if group == "public":
        specs = [
            ({}, SHAPES_A, 5, 1.0, 1.0),
            ({}, SHAPES_A, 6, 1e-3, 0.01),
            ({"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99}, SHAPES_A, 6, 1.0, 1.0),
        ]
        return _build(ref, rng, group, "Adam", specs, [])
    b2 = float(rng.choice([0.99, 0.999, 0.9999]))
    specs = [
        ({}, SHAPES_C, 8, 1e-3, 0.01),
        ({}, SHAPES_A, 6, float(rng.choice([1e-4, 1e-5])), 0.01),
        ({"learning_rate": _lr(rng, 0.001, 0.05)}, SHAPES_B, 6, 1.0, 1.0),
        (
            {"learning_rate": 0.01, "beta_1": float(rng.choice([0.5, 0.8])), "beta_2": b2},
            SHAPES_A,
            7,
            10.0,  # |g| ~ 10: epsilon's place is far below the tolerance whatever beta_2
            1.0,
        ),
        ({"learning_rate": 0.01, "amsgrad": True}, SHAPES_C, 8, 1.0, 1.0),
        ({"learning_rate": 0.01, "epsilon": 1e-3}, SHAPES_A, 6, 1e-2, 0.1),
        ({"learning_rate": 0.1, "beta_2": b2}, SHAPES_B, 5, 1e-3, 1.0),
        ({"learning_rate": 0.05}, SHAPES_A, 5, 100.0, 1.0),
    ]
    cases = _build(
        ref,
        rng,
        group,
        "Adam",
        specs,
        [("learning_rate=-0.001", {"learning_rate": -0.001}, None), BAD_LENGTH],
    )
    # amsgrad matters when the gradients shrink: large steps first, then small ones
    params, grads = _problem(rng, SHAPES_A, 8, 1.0)
    grads = [[g * (3.0 if t < 3 else 0.05) for g in step] for t, step in enumerate(grads)]
    # (beta_2 = 0.9: the second moment then falls quickly once the gradients shrink, so keeping
    # its maximum changes the steps far beyond the tolerance, whatever the values)
    kwargs = {"learning_rate": 0.01, "beta_2": 0.9, "amsgrad": True}
    amsgrad = _case(ref, "Adam", kwargs, params, grads, group, 1.0)
    amsgrad.params.pop("_margins")
    cases.insert(5, amsgrad)
    return cases


GENERATORS = {
    "optimizers.SGD": gen_sgd,
    "optimizers.Adagrad": gen_adagrad,
    "optimizers.RMSprop": gen_rmsprop,
    "optimizers.Adam": gen_adam,
}
