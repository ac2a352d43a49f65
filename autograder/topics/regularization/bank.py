"""The Keras bank of topic `regularization`: its cases (``add_specs``: pure numpy, drawn from
the bank's one seeded stream) and how real Keras answers them (``compute``: TensorFlow only
through ``K``, i.e. only under ``grade oracle build/verify``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.keras import Keras
from ...oracle.specs import Draw, Spec, shape_text

# The items this bank has cases for.
ITEMS = (
    "regularization.dropout",
    "regularization.l2_penalty",
    "regularization.l2_grad",
    "regularization.EarlyStopping",
)
ES_FIT_BATCH_SIZE = 4  # the dummy fit that drives EarlyStopping: 4 samples, one step per epoch
# Inputs the build adds to a spec's kwargs (made by Keras, e.g. Dropout's mask).
KERAS_MADE_INPUTS = {"regularization.dropout": ("mask",)}
# What the provenance records about the batch sizes Keras used.
BATCH_SIZES = {"regularization.EarlyStopping": ES_FIT_BATCH_SIZE}


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


def add_specs(specs: list[Spec], draw: Draw) -> None:
    """Append this topic's bank cases to ``specs``, drawing from the bank's one stream."""
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
            [shape_text(w) for w in weights] if isinstance(weights, list) else shape_text(weights)
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
                f"w {shape_text(w)}" + ("" if l2 is None else f", l2={l2}"),
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


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to one of this topic's specs (may add Keras-made inputs to its kwargs)."""
    tf, keras = K.tf, K.keras
    name = spec.item.split(".")[1]
    if name == "dropout":
        x, rate = spec.args
        training = spec.kwargs["training"]
        if not training:
            return K.run_layer(keras.layers.Dropout(rate), x, training=False)
        layer = keras.layers.Dropout(rate, seed=spec.keras["seed"])
        y = K.run_layer(layer, x, training=True)
        spec.kwargs["mask"] = y != 0  # Keras's own mask (x has no zeros)
        return y
    if name in ("l2_penalty", "l2_grad"):
        reg = keras.regularizers.L2(**spec.kwargs)
        if name == "l2_penalty":
            ws = spec.args[0] if isinstance(spec.args[0], list) else [spec.args[0]]
            return float(K.out(tf.add_n([reg(K.f32(w)) for w in ws])))
        w = K.f32(spec.args[0])
        with tf.GradientTape() as tape:
            tape.watch(w)
            penalty = reg(w)
        return K.out(tape.gradient(penalty, w))
    if name == "EarlyStopping":
        return _early_stopping(K, spec)
    raise KeyError(spec.item)


def _early_stopping(K: Keras, spec: Spec) -> dict:
    """A real ``model.fit``; a callback before EarlyStopping injects the scripted metric and
    stamps the weights with ``epoch + 1``, so the restored weights tell which epoch won."""
    keras = K.keras
    values, monitor = spec.args

    class Script(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            logs[monitor] = values[epoch]
            self.model.set_weights([np.full((1, 2), epoch + 1.0, dtype=np.float32)])

    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=["accuracy"])
    script = Script()
    es = keras.callbacks.EarlyStopping(**spec.kwargs)
    model.fit(
        np.zeros((ES_FIT_BATCH_SIZE, 1), np.float32),
        np.zeros((ES_FIT_BATCH_SIZE, 2), np.float32),
        batch_size=ES_FIT_BATCH_SIZE,
        epochs=len(values),
        shuffle=False,
        verbose=0,
        callbacks=[script, es],
    )
    restored = None
    if es.restore_best_weights and es.best_weights is not None:
        restored = float(model.get_weights()[0].ravel()[0])
    return {
        "epochs_run": int(script.epochs),
        "stopped_epoch": int(es.stopped_epoch),
        "best": None if es.best is None else float(es.best),
        "best_epoch": int(es.best_epoch),
        "wait": int(es.wait),
        "restored": restored,
    }
