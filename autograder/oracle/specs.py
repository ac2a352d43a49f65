"""The fixed list of Keras-bank cases: what is asked, never what Keras answers.

Pure numpy (no TensorFlow): every input is drawn from one seeded generator, so the list is the
same on every machine. Float inputs are float64 arrays whose values are float32-representable
(cast through float32), so Keras (which computes in float32) and a float64 numpy solution see
exactly the same numbers. ``autograder.oracle.build`` computes the expected value of every spec
with real Keras; ``autograder.oracle.bank`` turns the stored result into hidden cases.

Sizes are kept small (conv N <= 2, H, W <= 12) so that loop-based student code stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEED = 20241127

# Every item of the contract (docs: /work/shared/reference/exercise-api.md), in teaching order.
ITEMS = (
    "shapes.conv_output_length",
    "shapes.same_padding",
    "shapes.pool_output_length",
    "shapes.conv_param_count",
    "shapes.dense_param_count",
    "shapes.receptive_field",
    "conv.pad2d",
    "conv.conv1d",
    "conv.conv2d",
    "pooling.max_pool1d",
    "pooling.avg_pool1d",
    "pooling.max_pool2d",
    "pooling.avg_pool2d",
    "pooling.global_max_pool2d",
    "pooling.global_avg_pool2d",
    "activations.sigmoid",
    "activations.tanh",
    "activations.relu",
    "activations.leaky_relu",
    "activations.softmax",
    "activations.sigmoid_grad",
    "activations.tanh_grad",
    "activations.relu_grad",
    "activations.leaky_relu_grad",
    "optimizers.SGD",
    "optimizers.Adagrad",
    "optimizers.RMSprop",
    "optimizers.Adam",
    "regularization.dropout",
    "regularization.l2_penalty",
    "regularization.l2_grad",
    "regularization.EarlyStopping",
    "training.minibatch_indices",
    "training.categorical_crossentropy",
    "training.flatten",
    "training.dense",
    "model.lecture_model_forward",
)

LECTURE_WEIGHT_SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))
PREDICT_BATCH_SIZE = 32  # model.predict's default, recorded in the provenance


@dataclass
class Spec:
    """One bank case before Keras has answered it.

    ``args``/``kwargs`` are what the student's function receives (the build may add Keras-made
    inputs, e.g. the dropout mask); ``keras`` holds build-only details (dropout seed, layer
    kinds of a receptive-field stack) that are never passed to the student.
    """

    item: str
    name: str
    program: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    keras: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.item


def f32(a: Any) -> np.ndarray:
    """float64 array with float32-representable values."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


class _Draw:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, scale: float = 1.0) -> np.ndarray:
        return f32(self.rng.normal(size=shape) * scale)

    def uniform(self, shape, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return f32(self.rng.uniform(low, high, size=shape))

    def away_from_zero(self, shape, low: float = 0.1, high: float = 2.0) -> np.ndarray:
        mag = self.rng.uniform(low, high, size=shape)
        sign = np.where(self.rng.random(size=shape) < 0.5, -1.0, 1.0)
        return f32(mag * sign)

    def with_zeros(self, shape, scale: float = 2.0) -> np.ndarray:
        x = self.rng.normal(size=shape) * scale
        x[self.rng.random(size=shape) < 0.2] = 0.0
        x.flat[0] = 0.0
        return f32(x)


def _shape_text(a: np.ndarray) -> str:
    return str(tuple(int(d) for d in a.shape))


def _shapes(specs: list[Spec]) -> None:
    for n, k, s, p, d in [
        (7, 3, 1, "valid", 1),
        (12, 4, 2, "same", 1),
        (11, 3, 1, "valid", 2),
        (10, 5, 3, "valid", 1),
        (9, 2, 1, "same", 3),
    ]:
        kw = {"stride": s, "padding": p, "dilation": d}
        specs.append(
            Spec(
                "shapes.conv_output_length",
                f"n={n}, k={k}, stride={s}, padding={p!r}, dilation={d}",
                "call",
                (n, k),
                kw,
                {"input_length": n, "kernel_size": k, **kw},
            )
        )
    for n, k, s, d in [(28, 3, 2, 1), (6, 4, 1, 1), (10, 4, 3, 1), (7, 3, 1, 2), (5, 2, 1, 1)]:
        kw = {"stride": s, "dilation": d}
        specs.append(
            Spec(
                "shapes.same_padding",
                f"n={n}, k={k}, stride={s}, dilation={d}",
                "call",
                (n, k),
                kw,
                {"input_length": n, "kernel_size": k, **kw},
            )
        )
    for n, p, s, pad in [
        (7, 2, None, "valid"),
        (9, 3, 2, "same"),
        (10, 3, None, "same"),
        (12, 4, 3, "valid"),
        (5, 2, 1, "valid"),
    ]:
        kw = {"stride": s, "padding": pad}
        specs.append(
            Spec(
                "shapes.pool_output_length",
                f"n={n}, pool={p}, stride={s}, padding={pad!r}",
                "call",
                (n, p),
                kw,
                {"input_length": n, "pool_size": p, **kw},
            )
        )
    for k, c_in, filters, bias in [
        (3, 1, 32, True),
        ((5,), 3, 8, True),
        ((2, 4), 3, 6, False),
        (3, 32, 64, True),
    ]:
        specs.append(
            Spec(
                "shapes.conv_param_count",
                f"kernel_size={k}, in_channels={c_in}, filters={filters}, use_bias={bias}",
                "call",
                (k, c_in, filters),
                {"use_bias": bias},
                {"kernel_size": k, "in_channels": c_in, "filters": filters, "use_bias": bias},
            )
        )
    for n_in, units, bias in [(1600, 10, True), (7, 3, False), (128, 64, True)]:
        specs.append(
            Spec(
                "shapes.dense_param_count",
                f"in_features={n_in}, units={units}, use_bias={bias}",
                "call",
                (n_in, units),
                {"use_bias": bias},
                {"in_features": n_in, "units": units, "use_bias": bias},
            )
        )
    for stack in [
        [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2)],  # the lecture model
        [("conv", 5, 1)],
        [("pool", 3, 3), ("conv", 2, 2)],
        [("conv", 3, 2), ("conv", 3, 2), ("pool", 3, 1)],
    ]:
        layers = [(k, s) for _, k, s in stack]
        specs.append(
            Spec(
                "shapes.receptive_field",
                f"layers={layers}",
                "call",
                (layers,),
                {},
                {"layers": layers},
                {"kinds": [kind for kind, _, _ in stack]},
            )
        )


def _conv(specs: list[Spec], draw: _Draw) -> None:
    for shape, pads in [
        ((2, 5, 4, 3), ((1, 2), (0, 1))),
        ((1, 3, 3, 1), ((2, 2), (2, 2))),
        ((2, 4, 6, 2), ((0, 0), (3, 1))),
    ]:
        x = draw.normal(shape)
        specs.append(
            Spec(
                "conv.pad2d",
                f"x {shape}, pads={pads}",
                "call",
                (x, pads),
                {},
                {"x.shape": shape, "pads": pads},
            )
        )
    for n, length, c_in, k, c_out, s, pad, d, bias in [
        (2, 9, 3, 3, 4, 1, "valid", 1, True),
        (2, 10, 2, 4, 3, 2, "same", 1, True),
        (1, 11, 3, 3, 2, 1, "same", 2, False),
        (2, 8, 1, 5, 2, 3, "valid", 1, True),
    ]:
        x = draw.normal((n, length, c_in))
        kernel = draw.normal((k, c_in, c_out), 1 / np.sqrt(k * c_in))
        b = draw.normal((c_out,), 0.5) if bias else None
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "conv.conv1d",
                f"x {x.shape}, kernel {kernel.shape}, bias={bias}, "
                f"stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (x, kernel, b),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, "bias": bias, **kw},
            )
        )
    for n, h, w, c_in, ks, c_out, s, pad, d, bias in [
        (2, 7, 7, 3, (3, 3), 4, 1, "valid", 1, True),
        (2, 8, 8, 2, (3, 3), 3, 2, "same", 1, True),  # even size, stride 2: pads (0, 1)
        (1, 9, 6, 3, (3, 2), 4, (2, 1), "same", 1, True),
        (2, 10, 11, 2, (3, 3), 2, 1, "valid", 2, False),
        (1, 12, 12, 1, (4, 4), 2, 1, "same", (1, 2), True),  # even kernel 'same'
    ]:
        x = draw.normal((n, h, w, c_in))
        kernel = draw.normal((*ks, c_in, c_out), 1 / np.sqrt(ks[0] * ks[1] * c_in))
        b = draw.normal((c_out,), 0.5) if bias else None
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "conv.conv2d",
                f"x {x.shape}, kernel {kernel.shape}, bias={bias}, "
                f"stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (x, kernel, b),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, "bias": bias, **kw},
            )
        )


def _pooling(specs: list[Spec], draw: _Draw) -> None:
    def add(item, shape, pool, stride, pad, x=None):
        x = draw.normal(shape) if x is None else x
        kw = {} if stride == "default" else {"stride": stride, "padding": pad}
        args = (x,) if pool == "default" else (x, pool)
        label = f"x {shape}, pool_size={pool}" + (
            ", default stride and padding"
            if stride == "default"
            else f", stride={stride}, padding={pad!r}"
        )
        specs.append(
            Spec(item, label, "call", args, kw, {"x.shape": shape, "pool_size": pool, **kw})
        )

    add("pooling.max_pool1d", (2, 9, 3), 2, None, "valid")
    add("pooling.max_pool1d", (1, 10, 2), 3, 2, "same")
    add("pooling.max_pool1d", (2, 7, 1), 3, 1, "same")
    add("pooling.max_pool1d", (2, 8, 2), "default", "default", None)
    add("pooling.avg_pool1d", (2, 9, 3), 3, None, "valid")
    add("pooling.avg_pool1d", (1, 10, 2), 3, 2, "same")
    add("pooling.avg_pool1d", (2, 7, 2), 2, 1, "same")
    add("pooling.avg_pool1d", (1, 8, 1), 4, 3, "valid")
    add("pooling.max_pool2d", (2, 8, 8, 3), 2, None, "valid")
    add("pooling.max_pool2d", (1, 9, 7, 2), (3, 3), (2, 2), "same")
    add("pooling.max_pool2d", (2, 6, 10, 2), (2, 3), (1, 2), "valid")
    add("pooling.max_pool2d", (1, 7, 7, 1), 3, 1, "same")
    add("pooling.avg_pool2d", (2, 8, 8, 3), 2, None, "valid")
    add("pooling.avg_pool2d", (1, 9, 7, 2), (3, 3), (2, 2), "same")
    add("pooling.avg_pool2d", (2, 6, 10, 2), (2, 3), (1, 2), "valid")
    add(
        "pooling.avg_pool2d", (1, 5, 5, 1), 3, 1, "same", x=f32(np.arange(25.0).reshape(1, 5, 5, 1))
    )
    for item in ("pooling.global_max_pool2d", "pooling.global_avg_pool2d"):
        for shape in [(2, 5, 4, 3), (1, 7, 7, 1), (3, 2, 6, 4)]:
            x = draw.normal(shape)
            specs.append(Spec(item, f"x {shape}", "call", (x,), {}, {"x.shape": shape}))


def _activations(specs: list[Spec], draw: _Draw) -> None:
    inputs = [
        draw.with_zeros((7,), 3.0),
        draw.with_zeros((3, 4), 2.0),
        f32(np.concatenate([[-30.0, -5.0, 0.0, 5.0, 30.0], draw.normal((5,), 4.0)]).reshape(2, 5)),
    ]
    for base in ("sigmoid", "tanh", "relu"):
        for grad in ("", "_grad"):
            for x in inputs:
                specs.append(
                    Spec(
                        f"activations.{base}{grad}",
                        f"x {_shape_text(x)}",
                        "call",
                        (x,),
                        {},
                        {"x.shape": x.shape},
                    )
                )
    for grad in ("", "_grad"):
        for x, slope in zip(inputs, (None, 0.3, 0.01), strict=True):
            kw = {} if slope is None else {"negative_slope": slope}
            label = f"x {_shape_text(x)}" + ("" if slope is None else f", negative_slope={slope}")
            specs.append(
                Spec(
                    f"activations.leaky_relu{grad}",
                    label,
                    "call",
                    (x,),
                    kw,
                    {"x.shape": x.shape, **kw},
                )
            )
    for x, axis in [
        (draw.normal((4, 5), 2.0), None),
        (draw.normal((3, 4), 2.0), 0),
        (draw.normal((2, 3, 4), 2.0), 1),
        (f32([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1000.5]]), None),
    ]:
        kw = {} if axis is None else {"axis": axis}
        label = f"x {_shape_text(x)}" + ("" if axis is None else f", axis={axis}")
        specs.append(
            Spec("activations.softmax", label, "call", (x,), kw, {"x.shape": x.shape, **kw})
        )


def _optimizer_inputs(draw: _Draw, steps: int, scale: float):
    params = [draw.normal((3, 2)), f32([1.0, -2.0, 0.5])]
    grads = []
    for t in range(steps):
        gw = draw.normal((3, 2), scale)
        gb = draw.normal((3,), scale)
        gb[2] = 0.0 if t % 2 == 0 else f32(0.7 * scale)  # a coordinate with zero gradients
        grads.append([gw, gb])
    return params, grads


def _optimizers(specs: list[Spec], draw: _Draw) -> None:
    configs = {
        "SGD": [
            ({}, 5, 1.0),
            ({"learning_rate": 0.1, "momentum": 0.9}, 8, 1.0),
            ({"learning_rate": 0.05, "momentum": 0.5, "nesterov": True}, 6, 1.0),
        ],
        "Adagrad": [
            ({}, 6, 1e-3),
            ({"learning_rate": 0.1, "initial_accumulator_value": 0.5}, 8, 1.0),
            ({"learning_rate": 0.01, "epsilon": 1e-4}, 5, 0.1),
        ],
        "RMSprop": [
            ({}, 5, 1.0),
            ({"learning_rate": 0.01, "rho": 0.99}, 8, 0.1),
            ({"learning_rate": 0.01, "momentum": 0.9}, 6, 1.0),
            ({"learning_rate": 0.01, "centered": True}, 7, 1.0),
        ],
        "Adam": [
            ({}, 10, 1e-4),
            ({"learning_rate": 0.01}, 8, 1.0),
            ({"learning_rate": 0.01, "amsgrad": True}, 10, 1.0),
            ({"learning_rate": 0.005, "beta_1": 0.8, "beta_2": 0.99}, 6, 1e-6),
        ],
    }
    for name, cases in configs.items():
        for kw, steps, scale in cases:
            params, grads = _optimizer_inputs(draw, steps, scale)
            shown = ", ".join(f"{k}={v}" for k, v in kw.items()) or "defaults"
            specs.append(
                Spec(
                    f"optimizers.{name}",
                    f"{shown}, {steps} steps, |g| ~ {scale:g}",
                    "optimizer",
                    (params, grads),
                    kw,
                    {**kw, "steps": steps, "gradient scale": scale, "param shapes": [(3, 2), (3,)]},
                )
            )


_ES_CASES = [
    ([1.0, 0.8, 0.7, 0.72, 0.75, 0.71, 0.69, 0.68], "val_loss", {"patience": 2}),
    ([1.0, 0.9, 0.9, 0.9, 0.9, 0.9], "val_loss", {"patience": 2}),
    ([1.0, 0.999, 0.998, 0.997, 0.996, 0.99], "val_loss", {"patience": 2, "min_delta": 0.005}),
    (
        [1.0, 0.9, 0.8, 0.7, 0.75, 0.72, 0.71, 0.74],
        "val_loss",
        {"patience": 5, "restore_best_weights": True},
    ),
    ([1.0, 0.95, 0.9, 0.9, 0.88, 0.87, 0.86], "val_loss", {"patience": 3, "baseline": 0.75}),
    (
        [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0],
        "loss",
        {"patience": 2, "start_from_epoch": 3, "restore_best_weights": True},
    ),
    (
        [0.5, 0.6, 0.62, 0.61, 0.6, 0.63],
        "val_accuracy",
        {"patience": 2, "restore_best_weights": True},
    ),
    ([1.0, 0.9, 0.95, 0.8, 0.7], "val_loss", {"patience": 0}),
    (
        [2.0, 2.5, 2.4, 2.6, 2.45, 2.7],
        "val_score",
        {"patience": 1, "mode": "max", "min_delta": 0.05},
    ),
]


def _regularization(specs: list[Spec], draw: _Draw) -> None:
    for shape, rate, training, seed in [
        ((4, 6), 0.5, True, 11),
        ((2, 3, 5), 0.2, True, 12),
        ((3, 8), 0.75, True, 13),
        ((3, 5), 0.4, False, None),
    ]:
        x = draw.away_from_zero(shape)
        label = f"x {shape}, rate={rate}, training={training}" + (
            ", mask given (Keras's own)" if training else ""
        )
        specs.append(
            Spec(
                "regularization.dropout",
                label,
                "call",
                (x, rate),
                {"training": training},
                {"x.shape": shape, "rate": rate, "training": training},
                {"seed": seed} if training else {},
            )
        )
    for weights, l2 in [
        (draw.normal((3, 4)), None),
        ([draw.normal((3, 3)), draw.normal((4,))], 0.001),
        (draw.normal((2, 2, 2)), 0.5),
    ]:
        kw = {} if l2 is None else {"l2": l2}
        shapes = (
            [_shape_text(w) for w in weights] if isinstance(weights, list) else _shape_text(weights)
        )
        specs.append(
            Spec(
                "regularization.l2_penalty",
                f"weights {shapes}" + ("" if l2 is None else f", l2={l2}"),
                "call",
                (weights,),
                kw,
                {"weights": shapes, **kw},
            )
        )
    for w, l2 in [
        (draw.normal((3, 4)), None),
        (draw.normal((5,)), 0.001),
        (draw.normal((2, 2, 3)), 0.5),
    ]:
        kw = {} if l2 is None else {"l2": l2}
        specs.append(
            Spec(
                "regularization.l2_grad",
                f"w {_shape_text(w)}" + ("" if l2 is None else f", l2={l2}"),
                "call",
                (w,),
                kw,
                {"w.shape": w.shape, **kw},
            )
        )
    for values, monitor, kw in _ES_CASES:
        shown = ", ".join(f"{k}={v}" for k, v in kw.items())
        specs.append(
            Spec(
                "regularization.EarlyStopping",
                f"monitor={monitor!r}, {shown}, {len(values)} epochs",
                "early_stopping",
                (list(values), monitor),
                {"monitor": monitor, **kw},
                {"values": list(values), "monitor": monitor, **kw},
            )
        )


def _training(specs: list[Spec], draw: _Draw) -> None:
    for n, b in [(10, 3), (8, 4), (7, 7), (5, 10)]:
        specs.append(
            Spec(
                "training.minibatch_indices",
                f"n_samples={n}, batch_size={b}, shuffle=False",
                "call",
                (n, b),
                {"shuffle": False},
                {"n_samples": n, "batch_size": b, "shuffle": False},
            )
        )

    def probs(n, k):
        z = draw.normal((n, k), 2.0)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return f32(e / e.sum(axis=1, keepdims=True))

    onehot = f32(np.eye(5)[[0, 3, 1, 4]])
    saturated = f32([[0.0, 0.3, 0.7, 0.0], [0.2, 0.2, 0.2, 0.2], [1.0, 0.0, 0.0, 0.0]])
    soft = draw.uniform((3, 3), 0.0, 1.0)
    soft = f32(soft / soft.sum(axis=1, keepdims=True))
    cce = [
        ("one-hot labels, softmax probabilities", onehot, probs(4, 5), {}),
        ("unnormalised / zero / one probabilities", f32(np.eye(4)[[0, 1, 0]]), saturated, {}),
        ("soft labels", soft, probs(3, 3), {}),
        (
            "from_logits=True, large logits",
            f32(np.eye(6)[[5, 0, 2, 2]]),
            draw.normal((4, 6), 20.0),
            {"from_logits": True},
        ),
    ]
    for label, y, p, kw in cce:
        specs.append(
            Spec(
                "training.categorical_crossentropy",
                f"{label}, y {_shape_text(y)}",
                "call",
                (y, p),
                kw,
                {"y_true.shape": y.shape, **kw},
            )
        )
    for shape in [(2, 3, 4, 2), (3, 5), (2, 2, 2, 2, 3)]:
        x = draw.normal(shape)
        specs.append(Spec("training.flatten", f"x {shape}", "call", (x,), {}, {"x.shape": shape}))
    for xs, units, bias in [((4, 6), 3, True), ((2, 3, 5), 4, True), ((3, 7), 2, False)]:
        x = draw.normal(xs)
        kernel = draw.normal((xs[-1], units), 1 / np.sqrt(xs[-1]))
        b = draw.normal((units,), 0.5) if bias else None
        specs.append(
            Spec(
                "training.dense",
                f"x {xs}, kernel {kernel.shape}, bias={bias}",
                "call",
                (x, kernel, b),
                {},
                {"x.shape": xs, "kernel.shape": kernel.shape, "bias": bias},
            )
        )


def _lecture_weights(draw: _Draw, bias_scale: float) -> list[np.ndarray]:
    weights = []
    for shape in LECTURE_WEIGHT_SHAPES:
        if len(shape) == 1:
            weights.append(draw.normal(shape, bias_scale))
        else:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(np.prod(shape[:-2])) * shape[-1] if len(shape) == 4 else shape[-1]
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, like Keras's default
            weights.append(draw.uniform(shape, -limit, limit))
    return weights


def _model(specs: list[Spec], draw: _Draw) -> None:
    weights_a = _lecture_weights(draw, 0.05)
    weights_b = _lecture_weights(draw, 0.3)
    for label, n, weights in [
        ("weights A", 1, weights_a),
        ("weights A", 2, weights_a),
        ("weights B (larger biases)", 2, weights_b),
    ]:
        x = draw.uniform((n, 28, 28, 1))
        specs.append(
            Spec(
                "model.lecture_model_forward",
                f"x ({n}, 28, 28, 1), {label}",
                "call",
                (x, weights),
                {},
                {"x.shape": x.shape, "weights": label, "keras batch_size": PREDICT_BATCH_SIZE},
            )
        )


# Part 2 (config part "backward"): its own seed, items and bank file; the specs live in
# oracle/backward.py and oracle/model_part2.py.
PART2_SEED = 20261201
PARTS = ("forward", "backward")


def part_items(part: str = "forward") -> tuple[str, ...]:
    """The items a part's bank covers (part 2: no gradcheck items, they have no Keras twin)."""
    if part == "forward":
        return ITEMS
    from . import backward, model_part2

    return backward.ITEMS + model_part2.ITEMS


def bank_specs(part: str = "forward") -> list[Spec]:
    """A part's bank case specs, deterministic from its seed (pure numpy)."""
    if part == "backward":
        from . import backward, model_part2

        draw = _Draw(PART2_SEED)
        return backward.specs(draw) + model_part2.specs(draw)
    draw = _Draw(SEED)
    specs: list[Spec] = []
    _shapes(specs)
    _conv(specs, draw)
    _pooling(specs, draw)
    _activations(specs, draw)
    _optimizers(specs, draw)
    _regularization(specs, draw)
    _training(specs, draw)
    _model(specs, draw)
    unknown = {s.item for s in specs} - set(ITEMS)
    assert not unknown, f"specs for items outside the contract: {unknown}"
    return specs
