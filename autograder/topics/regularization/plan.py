"""Hidden suite for cnn/regularization.py: dropout, the L2 penalty and its gradient, EarlyStopping.

Dropout's ``mask`` path is compared exactly with the reference; its random path is checked
statistically (a Property). EarlyStopping cases run the worker program ``early_stopping`` on
metric sequences on a 0.01 grid with ``min_delta`` an odd multiple of 0.005 and baselines at
x.xx25, so no ``value +- min_delta`` lands on a boundary (exercise-api.md, Precise rules).
"""

from __future__ import annotations

import numpy as np

from ...cases import Call, Case, Close, Property, Raises, Rng
from ...compare import matches
from ...sandbox.worker import run_early_stopping as worker_early_stopping
from .._shared.layers import plan_of

MISTAKES = {
    "dropout-unscaled": "Your output zeroes the dropped units but does not scale the kept ones: "
    "Keras's Dropout is inverted and divides the kept units by (1 - rate).",
    "dropout-keep-probability": "Your output treats rate as the probability of keeping a unit: "
    "in Keras rate is the fraction dropped, and kept units are divided by (1 - rate).",
    "dropout-mask-inverted": "Your output keeps the units where the mask is False: the mask is "
    "True for the units that are kept.",
    "dropout-scaled-down": "Your output multiplies the kept units by (1 - rate): Keras divides "
    "them by (1 - rate) (inverted dropout).",
    "dropout-at-inference": "Your output applies dropout although training=False: Keras's "
    "Dropout is the identity at inference.",
    "l2-half": "Your penalty is half of Keras's: keras.regularizers.L2 computes l2 * sum(w**2), "
    "without a factor 1/2.",
    "l2-mean": "Your penalty uses the mean of the squares: Keras sums them, l2 * sum(w**2).",
    "l2-first-array-only": "Your penalty covers only the first array of the list: Keras sums "
    "l2 * sum(w**2) over every array.",
    "l2-norm-not-squared": "Your penalty uses the norm sqrt(sum(w**2)): Keras uses the squared "
    "norm, l2 * sum(w**2).",
    "l2-grad-half": "Your gradient is l2 * w: the gradient of l2 * sum(w**2) is 2 * l2 * w.",
    "l2-grad-sign": "Your gradient has the wrong sign: the gradient of l2 * sum(w**2) is "
    "+2 * l2 * w.",
    "es-ties-improve": "Your callback counts a value equal to the best (within min_delta) as an "
    "improvement: Keras requires a strict improvement, so ties count towards patience.",
    "es-patience-late": "Your callback stops one epoch late: Keras increments wait before the "
    "test and stops as soon as wait >= patience (patience=0 acts like 1).",
    "es-restore-only-on-stop": "Your callback returns the best weights only after an early "
    "stop: Keras 3 restores them at the end of training even when it did not stop early.",
    "es-compare-previous": "Your callback compares each value with the previous epoch's value: "
    "Keras compares it with the best value so far.",
    "es-min-delta-ignored": "Your callback ignores min_delta: Keras counts an epoch as an "
    "improvement only if it beats the best by more than min_delta.",
    "es-baseline-ignored": "Your callback ignores baseline: Keras resets wait only for "
    "improvements that also beat the baseline.",
    "es-baseline-as-best": "Your callback starts best at the baseline (old tf.keras): Keras 3 "
    "starts best at None, so the first monitored epoch always improves.",
    "es-start-ignored": "Your callback monitors the warm-up epochs: Keras ignores every epoch "
    "before start_from_epoch.",
    "es-auto-min": "Your callback minimises an accuracy: mode='auto' maximises metrics whose "
    "name contains 'acc' (and 'auc', 'precision', 'recall').",
}


def _case(item, name, call, expect, group, params, mistakes=None, **extra):
    return Case(
        item, name, call, expect, group=group, params=params, mistakes=mistakes or {}, **extra
    )


def _attach(expected, candidates, exact=False):
    """Keep the wrong outputs that really differ from the expected one."""
    return {k: v for k, v in candidates.items() if not matches(v, expected, exact)}


def _nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)


def _raises(item, label, args, kwargs, program="call"):
    return _case(
        item,
        f"invalid: {label}",
        Call(program, item, args, kwargs),
        Raises("ValueError"),
        "hidden",
        dict(kwargs, label=label),
        check_mutation=False,
    )


# ---------------------------------------------------------------- dropout


def _dropout_mask_case(ref, rng, group, shape, rate, training=True, float_mask=False):
    x = _nonzero(rng, shape)
    mask = rng.random(shape) >= rate
    mask[(0,) * len(shape)] = False  # at least one dropped and one kept unit
    mask[(-1,) * len(shape)] = True
    arg = mask.astype(np.float64) if float_mask else mask
    kwargs = {"training": training, "mask": arg}
    expected = ref.regularization.dropout(x, rate, **kwargs)
    wrong = {
        "dropout-unscaled": x * mask,
        "dropout-keep-probability": x * mask / rate,
        "dropout-mask-inverted": x * ~mask / (1 - rate),
        "dropout-scaled-down": x * mask * (1 - rate),
    }
    if not training:
        wrong = {"dropout-at-inference": x * mask / (1 - rate)}
    kind = "float 0/1 mask" if float_mask else "mask"
    return _case(
        "regularization.dropout",
        f"{kind}, rate={rate}, training={training}, x {shape}",
        Call("call", "regularization.dropout", (x, rate), kwargs),
        Close(expected),
        group,
        {"rate": rate, "training": training, "x": shape},
        _attach(expected, wrong),
    )


def _dropout_statistics(x, rate):
    n = x.size
    sigma = np.sqrt(rate * (1 - rate) / n)

    def check(out):
        if not isinstance(out, np.ndarray) or out.shape != x.shape:
            return f"expected an np.ndarray of shape {x.shape}."
        out = out.astype(np.float64)
        scaled = x / (1 - rate)
        tol = 1e-5 * np.abs(scaled).max() + 1e-5 * np.abs(scaled)
        kept = np.abs(out - scaled) <= tol
        dropped = out == 0
        if not np.all(kept | dropped):
            if np.all((np.abs(out - x) <= tol) | dropped):
                return "the kept units are not scaled: each must be x / (1 - rate)."
            return "every output must be either 0 (dropped) or x / (1 - rate) (kept)."
        frac = kept.mean()
        if abs(frac - (1 - rate)) > 4 * sigma:
            hint = (
                " (about `rate` of the units are kept: rate is the drop probability)"
                if abs(frac - rate) <= 4 * sigma
                else ""
            )
            return (
                f"{frac:.3f} of the units are kept; with rate={rate} about {1 - rate:.3f} "
                f"should be{hint}."
            )
        return None

    return Property(
        check, "every output is 0 or x/(1-rate); the kept fraction is within 4 sigma of 1-rate"
    )


def _dropout_rng_case(rng, group, shape, rate):
    x = _nonzero(rng, shape)
    seed = int(rng.integers(2**31))
    call = Call("call", "regularization.dropout", (x, rate), {"training": True, "rng": Rng(seed)})
    return _case(
        "regularization.dropout",
        f"random draw, rate={rate}, x {shape}",
        call,
        _dropout_statistics(x, rate),
        group,
        {"rate": rate, "x": shape},
        oracle="property",
    )


def gen_dropout(ref, rng, group):
    if group == "public":
        return [
            _dropout_mask_case(ref, rng, group, (4, 6), 0.5),
            _dropout_mask_case(ref, rng, group, (2, 3, 4), 0.25),
            _dropout_mask_case(ref, rng, group, (3, 5), 0.3, training=False),
            _dropout_rng_case(rng, group, (40, 50), 0.3),
        ]
    rates = [float(r) for r in rng.choice([0.1, 0.2, 0.25, 0.4, 0.6, 0.75, 0.8], 4, replace=False)]
    x = _nonzero(rng, (3, 7))
    x0 = _nonzero(rng, (2, 4, 3))
    identity = [
        _case(
            "regularization.dropout",
            "training=False, rng given, x (3, 7)",
            Call(
                "call",
                "regularization.dropout",
                (x, rates[0]),
                {"training": False, "rng": Rng(int(rng.integers(2**31)))},
            ),
            Close(x.copy()),
            group,
            {"rate": rates[0], "training": False},
        ),
        _case(
            "regularization.dropout",
            "rate=0.0, training=True, x (2, 4, 3)",
            Call(
                "call",
                "regularization.dropout",
                (x0, 0.0),
                {"training": True, "rng": Rng(int(rng.integers(2**31)))},
            ),
            Close(x0.copy()),
            group,
            {"rate": 0.0, "training": True},
        ),
    ]
    return [
        _dropout_mask_case(ref, rng, group, (5, 8), rates[0]),
        _dropout_mask_case(ref, rng, group, (2, 4, 4, 3), rates[1]),
        _dropout_mask_case(ref, rng, group, (17,), rates[2]),
        _dropout_mask_case(ref, rng, group, (3, 6), rates[3], float_mask=True),
        _dropout_mask_case(ref, rng, group, (4, 5), rates[1], training=False),
        *identity,
        _dropout_rng_case(rng, group, (50, 40), rates[0]),
        _dropout_rng_case(rng, group, (20, 10, 8), rates[3]),
        _raises("regularization.dropout", "rate=1.0", (x, 1.0), {"training": True}),
        _raises(
            "regularization.dropout",
            "mask of shape (3, 6) for x (3, 7)",
            (x, 0.5),
            {"training": True, "mask": np.ones((3, 6), dtype=bool)},
        ),
    ]


# ---------------------------------------------------------------- L2


def _l2_case(rng, group, shapes, l2, as_tuple=False, single=False):
    arrays = [rng.normal(0.0, 1.0, s) for s in shapes]
    weights = arrays[0] if single else (tuple(arrays) if as_tuple else arrays)
    lam = 0.01 if l2 is None else l2
    sq = [float(np.sum(a * a)) for a in arrays]
    total = lam * sum(sq)
    wrong = {
        "l2-half": 0.5 * total,
        "l2-mean": lam * float(np.mean(np.concatenate([a.ravel() ** 2 for a in arrays]))),
        "l2-first-array-only": lam * sq[0],
        "l2-norm-not-squared": lam * float(np.sqrt(sum(sq))),
    }
    kind = "one array" if single else f"{'tuple' if as_tuple else 'list'} of {len(arrays)}"
    kwargs = {} if l2 is None else {"l2": l2}
    return _case(
        "regularization.l2_penalty",
        f"{kind} {shapes}, l2={lam}",
        Call("call", "regularization.l2_penalty", (weights,), kwargs),
        Close(total),
        group,
        {"shapes": shapes, "l2": lam},
        _attach(total, wrong),
    )


def gen_l2_penalty(ref, rng, group):
    if group == "public":
        return [
            _l2_case(rng, group, [(3, 4)], None, single=True),
            _l2_case(rng, group, [(3, 3, 1, 4), (4,), (5, 2)], 0.001),
            _l2_case(rng, group, [(6,), (2, 2)], 0.1),
        ]
    l2s = [float(v) for v in rng.choice([1e-4, 5e-3, 0.02, 0.3, 2.0], 4, replace=False)]
    return [
        _l2_case(rng, group, [(3, 3, 2, 4)], l2s[0], single=True),
        _l2_case(rng, group, [(3, 3, 2, 4), (4,), (8, 3), (3,)], l2s[1]),
        _l2_case(rng, group, [(5,), (2, 7)], l2s[2], as_tuple=True),
        _l2_case(rng, group, [(4, 4)], l2s[3]),
        _l2_case(rng, group, [(2, 3), (3, 2)], None),
        _l2_case(rng, group, [(7,)], 0.0, single=True),
        _l2_case(rng, group, [(1,), (2, 2, 2)], l2s[0]),
    ]


def _l2_grad_case(rng, group, shape, l2):
    w = rng.normal(0.0, 1.0, shape)
    kwargs = {} if l2 is None else {"l2": l2}
    lam = 0.01 if l2 is None else l2
    expected = 2.0 * lam * w
    wrong = {"l2-grad-half": lam * w, "l2-grad-sign": -2.0 * lam * w}
    return _case(
        "regularization.l2_grad",
        f"w {shape}, l2={lam}",
        Call("call", "regularization.l2_grad", (w,), kwargs),
        Close(expected),
        group,
        {"w": shape, "l2": lam},
        _attach(expected, wrong),
    )


def gen_l2_grad(ref, rng, group):
    if group == "public":
        return [
            _l2_grad_case(rng, group, (3, 4), None),
            _l2_grad_case(rng, group, (3, 3, 1, 2), 0.001),
            _l2_grad_case(rng, group, (5,), 0.5),
        ]
    l2s = [float(v) for v in rng.choice([1e-4, 5e-3, 0.02, 0.3, 2.0], 4, replace=False)]
    shapes = [(4,), (3, 5), (2, 3, 3, 2), (1, 1)]
    return [_l2_grad_case(rng, group, s, l2) for s, l2 in zip(shapes, l2s, strict=True)] + [
        _l2_grad_case(rng, group, (6, 2), None),
        _l2_grad_case(rng, group, (3, 3, 4), 0.0),
        _l2_grad_case(
            rng, group, (int(rng.integers(2, 9)),), float(plan_of(rng).uniform(0.01, 1.0))
        ),
    ]


# ---------------------------------------------------------------- EarlyStopping


def _auto_mode(monitor):
    name = monitor.removeprefix("val_")
    return "min" if name.endswith(("loss", "mse", "mae")) else "max"


def es_simulate(values, monitor, kw, flaw=None):
    """Keras's EarlyStopping driven like the worker's ``run_early_stopping``, or a ``flaw``."""
    mon = kw.get("monitor", "val_loss")
    md = 0.0 if flaw == "es-min-delta-ignored" else abs(kw.get("min_delta", 0.0))
    patience = kw.get("patience", 0)
    mode = kw.get("mode", "auto")
    if mode == "auto":
        mode = "min" if flaw == "es-auto-min" else _auto_mode(mon)
    base = None if flaw == "es-baseline-ignored" else kw.get("baseline")
    restore = kw.get("restore_best_weights", False)
    start = 0 if flaw == "es-start-ignored" else kw.get("start_from_epoch", 0)
    sign = 1.0 if mode == "min" else -1.0

    def improves(cur, ref):
        if ref is None:
            return True
        if flaw == "es-ties-improve":
            return sign * (cur + sign * md) <= sign * ref
        return sign * (cur + sign * md) < sign * ref

    wait, best_epoch, stopped, kept, prev = 0, 0, 0, None, None
    best = kw.get("baseline") if flaw == "es-baseline-as-best" else None
    epochs_run = 0
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        if mon != monitor or epoch < start:
            continue
        if restore and kept is None:
            kept = epoch + 1.0
        wait += 1
        against = prev if flaw == "es-compare-previous" else best
        prev = value
        if improves(value, against):
            best, best_epoch = value, epoch
            kept = epoch + 1.0 if restore else kept
            if base is None or improves(value, base):
                wait = 0
            continue
        if (wait > patience if flaw == "es-patience-late" else wait >= patience) and epoch > 0:
            stopped = epoch
            break
    restored = kept if restore else None
    if flaw == "es-restore-only-on-stop" and stopped == 0:
        restored = None
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": stopped,
        "best": None if best is None else float(best),
        "best_epoch": best_epoch,
        "wait": wait,
        "restored": restored,
    }


def run_early_stopping(cls, values, monitor, kwargs):
    """The reference driven by the worker's own ``run_early_stopping``."""
    return worker_early_stopping(cls, (list(values), monitor), dict(kwargs))


def _walk(rng, pattern, start, up=False):
    """Values on a 0.01 grid: relative to the best so far, 'd' improves by 1-4 cells, 'B' by
    4-6, 's' by 1, 't' ties, 'w' is 1-4 cells worse. ``up``: a metric to maximise."""
    best = cur = round(start * 100)
    ints = [cur]
    for ch in pattern:
        step = {
            "d": -int(rng.integers(1, 5)),
            "B": -int(rng.integers(4, 7)),
            "s": -1,
            "t": 0,
            "w": int(rng.integers(1, 5)),
        }[ch]
        cur = best + step
        best = min(best, cur)
        ints.append(cur)
    if up:
        ints = [2 * ints[0] - v for v in ints]
    return [v / 100 for v in ints]


def _es_case(ref, group, values, kwargs, monitor="val_loss"):
    expected = run_early_stopping(ref.regularization.EarlyStopping, values, monitor, kwargs)
    flaws = [k for k in MISTAKES if k.startswith("es-")]
    wrong = {f: es_simulate(values, monitor, kwargs, f) for f in flaws}
    label = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "defaults"
    call = Call(
        "early_stopping", "regularization.EarlyStopping", (list(values), monitor), dict(kwargs)
    )
    return _case(
        "regularization.EarlyStopping",
        f"{label}; {len(values)} epochs of {monitor}",
        call,
        Close(expected),
        group,
        dict(kwargs, values=values, logged=monitor),
        _attach(expected, wrong),
        check_mutation=False,
    )


def gen_early_stopping(ref, rng, group):
    if group == "public":
        return [
            _es_case(
                ref, group, [1.0, 0.8, 0.7, 0.72, 0.75, 0.71, 0.69, 0.7, 0.73], {"patience": 2}
            ),
            _es_case(ref, group, [1.0, 0.9, 0.9, 0.9, 0.85, 0.8], {"patience": 1}),
            _es_case(
                ref,
                group,
                [0.5, 0.6, 0.7, 0.69, 0.72, 0.75, 0.74],
                {"monitor": "val_accuracy", "patience": 2, "restore_best_weights": True},
                monitor="val_accuracy",
            ),
        ]
    p = int(rng.integers(0, 4))
    q = max(p, 1)
    a = int(rng.integers(1, 4))
    loss = lambda pattern: _walk(rng, pattern, float(rng.uniform(0.6, 0.95)))  # noqa: E731
    score = lambda pattern: _walk(rng, pattern, float(rng.uniform(0.3, 0.5)), up=True)  # noqa: E731
    base_seq = loss("ddddd" + "wd" + "wwww")
    k = int(rng.integers(5, 9))  # 8: a baseline that is never reached
    baseline = round((base_seq[k] if k < 8 else min(base_seq) - 0.02) - 0.0025, 4)
    start = int(rng.integers(2, 4))
    warm = [round(0.3 - 0.01 * i, 2) for i in range(start)]
    return [
        _es_case(ref, group, loss("d" * a + "w" * (q - 1) + "d" + "w" * (q + 2)), {"patience": p}),
        _es_case(ref, group, loss("d" * a + "td" + "t" * q + "ww"), {"patience": q}),
        _es_case(
            ref,
            group,
            loss("BB" + "ss" + "w" * 4 + "dd"),
            {"patience": 2, "min_delta": float(rng.choice([0.025, 0.035]))},
        ),
        _es_case(
            ref,
            group,
            score("d" * a + "wtd" + "w" * 4),
            {
                "monitor": "val_accuracy",
                "patience": int(rng.integers(1, 3)),
                "restore_best_weights": True,
            },
            monitor="val_accuracy",
        ),
        _es_case(ref, group, base_seq, {"patience": int(rng.integers(2, 4)), "baseline": baseline}),
        _es_case(ref, group, loss("ddwdddwddd"), {"patience": 3, "restore_best_weights": True}),
        _es_case(
            ref, group, loss("d" * a + "wd" + "www"), {"patience": 1, "restore_best_weights": True}
        ),
        _es_case(
            ref,
            group,
            warm + loss("dwdwww"),
            {"patience": 2, "restore_best_weights": True, "start_from_epoch": start},
        ),
        _es_case(
            ref,
            group,
            score("ddwd" + "w" * (q + 2)),
            {"monitor": "score", "mode": "max", "patience": p},
            monitor="score",
        ),
        _es_case(
            ref,
            group,
            loss("ddwd"),
            {"monitor": "val_loss", "restore_best_weights": True},
            monitor="loss",
        ),
        _raises(
            "regularization.EarlyStopping",
            "mode='minimum'",
            ([0.5, 0.4], "val_loss"),
            {"mode": "minimum"},
            program="early_stopping",
        ),
        _raises(
            "regularization.EarlyStopping",
            "patience=-1",
            ([0.5, 0.4], "val_loss"),
            {"patience": -1},
            program="early_stopping",
        ),
    ]


GENERATORS = {
    "regularization.dropout": gen_dropout,
    "regularization.l2_penalty": gen_l2_penalty,
    "regularization.l2_grad": gen_l2_grad,
    "regularization.EarlyStopping": gen_early_stopping,
}


def _es_bank_mistakes(case):
    """Mistake outputs for a Keras-bank EarlyStopping case (the bank itself stores none)."""
    values, monitor = case.call.args
    flaws = [k for k in MISTAKES if k.startswith("es-")]
    wrong = {f: es_simulate(list(values), monitor, dict(case.call.kwargs), f) for f in flaws}
    return _attach(case.expect.value, wrong)


# item -> fn(bank case) -> {mistake id: wrong output}, applied by the engine to the Keras bank.
BANK_MISTAKES = {"regularization.EarlyStopping": _es_bank_mistakes}
