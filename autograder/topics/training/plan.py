"""Hidden suite for cnn/training.py: mini-batches, categorical cross-entropy, Flatten, Dense."""

from __future__ import annotations

import math

import numpy as np

from ...cases import Call, Case, Close, Property, Raises, Rng
from ...compare import matches

MISTAKES = {
    "minibatch-drop-last": "Your batches leave out the last, partial batch: Keras's fit runs "
    "ceil(n/batch_size) steps, the last one smaller.",
    "minibatch-extra-empty-batch": "Your list ends with an empty batch when batch_size divides "
    "n_samples: there are exactly ceil(n/batch_size) batches.",
    "cce-no-clip": "Your loss is not clipped (it is infinite where p = 0 for the true class): "
    "Keras clips the probabilities to [1e-7, 1 - 1e-7], so the loss is at most 16.118.",
    "cce-no-renormalise": "Your loss uses the probabilities as given: Keras first divides each "
    "row of y_pred by its sum.",
    "cce-mean-over-batch": "Your loss is the mean over the batch: "
    "keras.losses.categorical_crossentropy returns one loss per sample, shape (N,).",
    "cce-binary-formula": "Your loss adds (1-y)*log(1-p) terms (binary cross-entropy): the "
    "categorical cross-entropy is -sum(y*log(p)) over the classes.",
    "cce-softmax-on-probabilities": "Your loss applies a softmax to y_pred although "
    "from_logits=False: y_pred already holds probabilities.",
    "flatten-channels-first": "Your output is flattened in channels-first order (C, H, W): "
    "Keras's Flatten keeps channels-last C order, the channel index changing fastest.",
    "flatten-fortran-order": "Your output is flattened in Fortran order: Keras's Flatten is "
    "x.reshape(N, -1) in C order.",
    "flatten-whole-batch": "Your output flattens the batch axis too: Flatten keeps it, "
    "(N, ...) -> (N, prod).",
    "dense-transposed-kernel": "Your output matches x @ kernel.T: Keras's Dense kernel has shape "
    "(in, units) and computes x @ kernel + bias.",
    "dense-bias-ignored": "Your output leaves out the bias: Keras's Dense computes "
    "x @ kernel + bias.",
}


def _attach(expected, candidates, exact=False):
    """Keep the wrong outputs that really differ from the expected one."""
    return {k: v for k, v in candidates.items() if not matches(v, expected, exact)}


def _call(item, args, kwargs=None):
    return Call("call", item, tuple(args), dict(kwargs or {}))


def _raises(item, label, args, kwargs=None):
    return Case(
        item,
        f"invalid: {label}",
        _call(item, args, kwargs),
        Raises("ValueError"),
        params={"label": label},
        check_mutation=False,
    )


# ---------------------------------------------------------------- minibatch_indices


def _batches_case(ref, group, n, b):
    item = "training.minibatch_indices"
    expected = ref.training.minibatch_indices(n, b, shuffle=False)
    order = np.arange(n)
    k = -(-n // b)
    wrong = {
        "minibatch-drop-last": [order[i * b : (i + 1) * b] for i in range(n // b)],
        "minibatch-extra-empty-batch": [order[i * b : (i + 1) * b] for i in range(n // b + 1)],
    }
    return Case(
        item,
        f"n_samples={n}, batch_size={b}, shuffle=False ({k} batches)",
        _call(item, (n, b), {"shuffle": False}),
        Close(expected, exact=True),
        group=group,
        params={"n_samples": n, "batch_size": b, "shuffle": False},
        mistakes=_attach(expected, wrong, exact=True),
    )


def _shuffle_check(n, b):
    k = -(-n // b)
    sizes = [b] * (k - 1) + ([n - (k - 1) * b] if k else [])

    def check(out):
        if not isinstance(out, (list, tuple)):
            return "expected a list of 1-D integer arrays, one per batch."
        if len(out) != k:
            return f"returned {len(out)} batches; expected ceil({n}/{b}) = {k}."
        for i, (batch, size) in enumerate(zip(out, sizes, strict=True)):
            if not isinstance(batch, np.ndarray) or batch.ndim != 1 or batch.dtype.kind not in "iu":
                return f"batch {i} is not a 1-D integer np.ndarray."
            if batch.size != size:
                return f"batch {i} has {batch.size} indices; expected {size}."
        order = np.concatenate(out) if out else np.zeros(0, dtype=int)
        if not np.array_equal(np.sort(order), np.arange(n)):
            return "the batches are not a permutation: every index must appear exactly once."
        if n >= 8 and np.array_equal(order, np.arange(n)):
            return "the indices are in order although shuffle=True."
        return None

    return Property(
        check,
        "ceil(n/b) batches of b indices (last partial) forming a shuffled permutation of range(n)",
    )


def _shuffle_case(rng, group, n, b):
    item = "training.minibatch_indices"
    call = _call(item, (n, b), {"shuffle": True, "rng": Rng(int(rng.integers(2**31)))})
    return Case(
        item,
        f"n_samples={n}, batch_size={b}, shuffle=True",
        call,
        _shuffle_check(n, b),
        group=group,
        oracle="property",
        params={"n_samples": n, "batch_size": b, "shuffle": True},
    )


def gen_minibatch_indices(ref, rng, group):
    if group == "public":
        return [
            _batches_case(ref, group, 10, 4),
            _batches_case(ref, group, 12, 4),
            _batches_case(ref, group, 3, 5),
            _shuffle_case(rng, group, 25, 8),
        ]
    b = int(rng.integers(2, 7))
    return [
        _batches_case(ref, group, b * int(rng.integers(2, 6)) + int(rng.integers(1, b)), b),
        _batches_case(ref, group, b * int(rng.integers(2, 6)), b),
        _batches_case(ref, group, int(rng.integers(2, 9)), 1),
        _batches_case(ref, group, int(rng.integers(1, 6)), int(rng.integers(6, 40))),
        _batches_case(ref, group, 0, b),
        _batches_case(ref, group, int(rng.integers(30, 100)), int(rng.integers(7, 16))),
        _shuffle_case(rng, group, int(rng.integers(20, 60)), int(rng.integers(3, 11))),
        _shuffle_case(rng, group, int(rng.integers(10, 20)), 1),
        _raises("training.minibatch_indices", "batch_size=0", (10, 0)),
    ]


# ---------------------------------------------------------------- categorical_crossentropy


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cce_wrong(y, p):
    eps = 1e-7
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p / p.sum(axis=-1, keepdims=True)
        qc = np.clip(q, eps, 1 - eps)
        right = -np.sum(y * np.log(qc), axis=-1)
        return {
            "cce-no-clip": -np.sum(y * np.log(q), axis=-1),  # NaN where p = y = 0, as students get
            "cce-no-renormalise": -np.sum(y * np.log(np.clip(p, eps, 1 - eps)), axis=-1),
            "cce-mean-over-batch": np.asarray(np.mean(right)),
            "cce-binary-formula": -np.sum(y * np.log(qc) + (1 - y) * np.log(1 - qc), axis=-1),
            "cce-softmax-on-probabilities": -np.sum(y * np.log(_softmax(p)), axis=-1),
        }


def _labels(rng, shape, soft=False):
    if soft:
        return _softmax(rng.normal(0.0, 1.5, shape))
    k = shape[-1]
    return np.eye(k)[rng.integers(0, k, shape[:-1])]


def _cce_case(ref, rng, group, shape, kind, soft=False):
    item = "training.categorical_crossentropy"
    y = _labels(rng, shape, soft)
    kwargs = {}
    if kind == "logits":
        scale = float(rng.choice([2.0, 30.0]))
        p = rng.normal(0.0, scale, shape)
        kwargs = {"from_logits": True}
        if scale > 2:  # planned: the first sample's true class far below its largest logit
            # (so clipping softmax(logits) shows in every student's case, never by chance)
            flat_y, flat_p = y.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])
            true = int(np.argmax(flat_y[0]))
            flat_p[0, true] = np.delete(flat_p[0], true).max() - 40.0
    else:
        p = _softmax(rng.normal(0.0, 2.0, shape))
        if kind in ("unnormalised", "saturated"):
            p = p * rng.uniform(0.3, 3.0, shape[:-1] + (1,))
        if kind == "saturated":  # p = 0 for the true class in the first sample, p = 1 in another
            flat_y, flat_p = y.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])
            true = np.argmax(flat_y, axis=-1)
            flat_p[0, true[0]] = 0.0
            flat_p[-1] = 0.0
            flat_p[-1, true[-1]] = 1.0
    expected = ref.training.categorical_crossentropy(y, p, **kwargs)
    wrong = {} if kind == "logits" else _cce_wrong(y, p)
    if kind == "logits":
        wrong = {"cce-mean-over-batch": np.asarray(np.mean(expected))}
    labels = "soft labels" if soft else "one-hot"
    return Case(
        item,
        f"{kind} y_pred {shape}, {labels}",
        _call(item, (y, p), kwargs),
        Close(expected),
        group=group,
        params={"shape": shape, "y_pred": kind, "labels": labels, **kwargs},
        mistakes=_attach(expected, wrong),
    )


def gen_categorical_crossentropy(ref, rng, group):
    if group == "public":
        return [
            _cce_case(ref, rng, group, (4, 5), "probabilities"),
            _cce_case(ref, rng, group, (3, 4), "saturated"),
            _cce_case(ref, rng, group, (4, 3), "logits"),
        ]
    n, k = int(rng.integers(3, 9)), int(rng.integers(3, 11))
    return [
        _cce_case(ref, rng, group, (n, k), "probabilities"),
        _cce_case(ref, rng, group, (n, k), "unnormalised"),
        _cce_case(ref, rng, group, (n + 1, k), "saturated"),
        _cce_case(ref, rng, group, (n, k), "probabilities", soft=True),
        _cce_case(ref, rng, group, (n, 2), "unnormalised"),
        _cce_case(ref, rng, group, (n, k), "logits"),
        _cce_case(ref, rng, group, (n, k), "logits", soft=True),
        _cce_case(ref, rng, group, (2, 3, k), "saturated"),
    ]


# ---------------------------------------------------------------- flatten, dense


def _flatten_case(ref, rng, group, shape):
    item = "training.flatten"
    x = rng.normal(size=shape)
    n, m = shape[0], math.prod(shape[1:])
    expected = ref.training.flatten(x)
    wrong = {"flatten-channels-first": np.moveaxis(x, -1, 1).reshape(n, m)} if x.ndim >= 3 else {}
    wrong["flatten-fortran-order"] = x.reshape(n, m, order="F")
    wrong["flatten-whole-batch"] = x.reshape(-1)
    return Case(
        item,
        f"x {shape}",
        _call(item, (x,)),
        Close(expected),
        group=group,
        params={"x": shape},
        mistakes=_attach(expected, wrong),
    )


def gen_flatten(ref, rng, group):
    if group == "public":
        return [_flatten_case(ref, rng, group, s) for s in [(2, 3, 4, 5), (3, 4, 4, 2), (5,)]]
    r = lambda lo, hi: int(rng.integers(lo, hi))  # noqa: E731
    shapes = [
        (r(1, 4), r(2, 6), r(2, 6), r(2, 5)),
        (r(2, 4), 5, 3, r(2, 4)),
        (r(1, 4), r(3, 7), r(2, 5)),
        (r(2, 5), r(2, 9)),
        (r(2, 9),),
        (0, 3, 4, 2),
        (2, r(2, 4), r(2, 4), r(2, 4), 2),
        (1, 1, 1, r(2, 6)),
    ]
    return [_flatten_case(ref, rng, group, s) for s in shapes]


def _dense_case(ref, rng, group, xshape, units, bias=True):
    item = "training.dense"
    x = rng.normal(size=xshape)
    w = rng.normal(0.0, 1.0 / math.sqrt(xshape[-1]), (xshape[-1], units))
    b = rng.normal(0.0, 0.5, units) if bias else None
    args = (x, w, b) if bias else (x, w)
    expected = ref.training.dense(*args)
    wrong = {"dense-bias-ignored": x @ w} if bias else {}
    if units == xshape[-1]:
        wrong["dense-transposed-kernel"] = x @ w.T + (b if bias else 0.0)
    return Case(
        item,
        f"x {xshape}, kernel {w.shape}, {'bias' if bias else 'no bias'}",
        _call(item, args),
        Close(expected),
        group=group,
        params={"x": xshape, "kernel": w.shape, "bias": bias},
        mistakes=_attach(expected, wrong),
    )


def gen_dense(ref, rng, group):
    if group == "public":
        return [
            _dense_case(ref, rng, group, (4, 3), 5),
            _dense_case(ref, rng, group, (3, 4), 4),
            _dense_case(ref, rng, group, (2, 3, 4), 2, bias=False),
        ]
    r = lambda lo, hi: int(rng.integers(lo, hi))  # noqa: E731
    k = r(3, 9)
    return [
        _dense_case(ref, rng, group, (r(1, 6), k), r(2, 11)),
        _dense_case(ref, rng, group, (r(1, 6), k), k),
        _dense_case(ref, rng, group, (r(2, 6), k), k, bias=False),
        _dense_case(ref, rng, group, (r(1, 6), r(8, 40)), 10),
        _dense_case(ref, rng, group, (2, r(2, 5), k), r(2, 6)),
        _dense_case(ref, rng, group, (k,), r(2, 6)),
        _dense_case(ref, rng, group, (r(2, 5), 1), r(1, 4)),
        _raises(
            "training.dense",
            f"x (2, {k + 1}), kernel ({k}, 3)",
            (rng.normal(size=(2, k + 1)), rng.normal(size=(k, 3))),
        ),
        _raises(
            "training.dense",
            "bias (4,) for kernel (3, 3)",
            (rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), rng.normal(size=4)),
        ),
    ]


GENERATORS = {
    "training.minibatch_indices": gen_minibatch_indices,
    "training.categorical_crossentropy": gen_categorical_crossentropy,
    "training.flatten": gen_flatten,
    "training.dense": gen_dense,
}
