"""Hidden suite for cnn/model.py: the lecture's CNN forward pass, end to end.

Batches of 1-2 images keep a loop-based student conv2d within a few seconds. Weights are
Glorot-uniform (like a freshly built Keras model) with non-zero biases. ``training=True`` is
random (dropout), so it is checked as a Property: (N, 10) probabilities whose rows sum to 1 and
that differ from the inference output.
"""

from __future__ import annotations

import numpy as np

from ...cases import Call, Case, Close, Property, Raises, Rng
from ...compare import matches

ITEM = "model.lecture_model_forward"
SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))

MISTAKES = {
    "model-flatten-channels-first": "Your probabilities match a model that flattens in "
    "channels-first order: Keras's Flatten keeps channels-last order (H, W, C), which the "
    "Dense kernel of model.get_weights() expects.",
    "model-dropout-scaled-at-inference": "Your probabilities match a model that multiplies the "
    "features by 0.5 at inference (non-inverted dropout): Keras's Dropout is the identity at "
    "inference.",
    "model-no-relu": "Your probabilities match a model without the ReLU after the "
    "convolutions: both Conv2D layers use activation='relu'.",
    "model-no-softmax": "Your output matches the Dense layer's logits: the last layer applies a "
    "softmax, so every row is a probability distribution.",
    "model-kernel-flipped": "Your probabilities match a model whose convolutions flip the "
    "kernels: Keras's Conv2D computes cross-correlation.",
    "model-average-pooling": "Your probabilities match a model with average pooling: the "
    "lecture's model uses MaxPooling2D(2).",
}


def _weights(rng, scale=1.0, bias=0.1):
    """Glorot-uniform kernels (times ``scale``) and N(0, bias) biases, like model.get_weights()."""
    out = []
    for shape in SHAPES:
        if len(shape) == 1:
            out.append(rng.normal(0.0, bias, shape))
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = scale * np.sqrt(6.0 / (fan_in + fan_out))
        out.append(rng.uniform(-limit, limit, shape))
    return out


def _forward(ref, x, w, flip=False, relu=True, pool="max", flatten="last", keep=1.0, softmax=True):
    """The lecture's model with one thing changed (a student's mistake)."""
    k1, b1, k2, b2, k3, b3 = w
    if flip:
        k1, k2 = k1[::-1, ::-1], k2[::-1, ::-1]
    act = ref.activations.relu if relu else (lambda h: h)
    pooling = ref.pooling.max_pool2d if pool == "max" else ref.pooling.avg_pool2d
    h = pooling(act(ref.conv.conv2d(x, k1, b1)), 2)
    h = pooling(act(ref.conv.conv2d(h, k2, b2)), 2)
    h = np.moveaxis(h, -1, 1).reshape(len(x), -1) if flatten == "first" else h.reshape(len(x), -1)
    z = ref.training.dense(h * keep, k3, b3)
    return ref.activations.softmax(z) if softmax else z


def _wrong(ref, x, w):
    return {
        "model-flatten-channels-first": _forward(ref, x, w, flatten="first"),
        "model-dropout-scaled-at-inference": _forward(ref, x, w, keep=0.5),
        "model-no-relu": _forward(ref, x, w, relu=False),
        "model-no-softmax": _forward(ref, x, w, softmax=False),
        "model-kernel-flipped": _forward(ref, x, w, flip=True),
        "model-average-pooling": _forward(ref, x, w, pool="avg"),
    }


def _images(rng, n, kind="uniform"):
    if kind == "blank":
        return np.zeros((n, 28, 28, 1))
    x = rng.uniform(0.0, 1.0, (n, 28, 28, 1))
    if kind == "binary":
        x = (x > 0.7).astype(np.float64)
    return x


def _case(ref, rng, group, n, kind="uniform", scale=1.0, bias=0.1, explicit=False):
    x, w = _images(rng, n, kind), _weights(rng, scale, bias)
    kwargs = {"training": False} if explicit else {}
    expected = ref.model.lecture_model_forward(x, w)
    mistakes = {k: v for k, v in _wrong(ref, x, w).items() if not matches(v, expected)}
    label = f"x {x.shape} ({kind}), Glorot weights x{scale:g}, biases ~N(0, {bias:g})"
    return Case(
        ITEM,
        label,
        Call("call", ITEM, (x, w), kwargs),
        Close(expected),
        group=group,
        params={"x": x.shape, "images": kind, "weight_scale": scale, "bias_std": bias, **kwargs},
        mistakes=mistakes,
    )


def _training_check(inference):
    n = inference.shape[0]

    def check(out):
        if not isinstance(out, np.ndarray) or out.shape != (n, 10):
            return f"expected an np.ndarray of shape ({n}, 10)."
        out = out.astype(np.float64)
        if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1 + 1e-6:
            return "the outputs must be probabilities in [0, 1]."
        if not np.allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-5):
            return "every row must sum to 1 (softmax output)."
        if matches(out, inference):
            return "with training=True, dropout must change the output (it equals inference)."
        return None

    return Property(check, "(N, 10) probabilities, rows summing to 1, changed by dropout")


def _training_case(ref, rng, group, n):
    x, w = _images(rng, n), _weights(rng)
    inference = ref.model.lecture_model_forward(x, w)
    call = Call("call", ITEM, (x, w), {"training": True, "rng": Rng(int(rng.integers(2**31)))})
    return Case(
        ITEM,
        f"training=True (dropout on), x {x.shape}",
        call,
        _training_check(inference),
        group=group,
        oracle="property",
        params={"x": x.shape, "training": True},
    )


def _raises(label, x, w):
    return Case(
        ITEM,
        f"invalid: {label}",
        Call("call", ITEM, (x, w)),
        Raises("ValueError"),
        params={"label": label},
        check_mutation=False,
    )


def gen_lecture_model_forward(ref, rng, group):
    if group == "public":
        return [
            _case(ref, rng, group, 1),
            _case(ref, rng, group, 2),
            _training_case(ref, rng, group, 2),
        ]
    w = _weights(rng)
    bad = list(w)
    bad[2] = rng.normal(size=(3, 3, 32, 32))
    return [
        _case(ref, rng, group, int(rng.integers(1, 3))),
        _case(ref, rng, group, 2, kind="binary", bias=0.2),
        _case(ref, rng, group, 1, scale=float(rng.choice([2.0, 3.0])), explicit=True),
        _case(ref, rng, group, 2, scale=0.5, bias=0.3),
        _case(ref, rng, group, 1, kind="blank", bias=0.5),
        _training_case(ref, rng, group, int(rng.integers(1, 3))),
        _raises("5 weight arrays", _images(rng, 1), w[:5]),
        _raises("conv2 kernel (3, 3, 32, 32)", _images(rng, 1), bad),
    ]


GENERATORS = {ITEM: gen_lecture_model_forward}
