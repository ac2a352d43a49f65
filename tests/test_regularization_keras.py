"""Reference dropout, L2 and EarlyStopping vs live Keras (Dropout layer, regularizers.L2, fit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize(
    ("rate", "shape", "seed"), [(0.1, (8, 50), 1), (0.5, (4, 6, 6, 3), 2), (0.8, (1000,), 3)]
)
def test_dropout_mask_path_matches_keras(sol, keras, rate, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)  # no zeros
    x = x.astype(np.float32).astype(np.float64)
    layer = keras.layers.Dropout(rate, seed=seed)
    y_k = np.asarray(layer(x.astype(np.float32), training=True))
    mask = y_k != 0
    assert 0 < mask.mean() < 1
    y = sol.regularization.dropout(x, rate, training=True, mask=mask)
    assert_close_keras(y, y_k, f"dropout(rate={rate}) with Keras's mask")
    # inference: both are the identity
    y_inf = np.asarray(layer(x.astype(np.float32), training=False))
    np.testing.assert_array_equal(sol.regularization.dropout(x, rate), x)
    np.testing.assert_array_equal(y_inf, x.astype(np.float32))


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.7])
def test_dropout_rng_path_statistics_like_keras(sol, keras, rate):
    n = 20_000
    x = np.random.default_rng(0).uniform(1.0, 3.0, size=n).astype(np.float32).astype(np.float64)
    sigma = math.sqrt(rate * (1 - rate) / n)
    y_k = np.asarray(keras.layers.Dropout(rate, seed=11)(x.astype(np.float32), training=True))
    assert abs((y_k != 0).mean() - (1 - rate)) < 4 * sigma  # Keras passes the same test
    ys = [
        sol.regularization.dropout(x, rate, training=True, rng=np.random.default_rng(100 + s))
        for s in range(5)
    ]
    for y in ys:
        kept = y != 0
        assert abs(kept.mean() - (1 - rate)) < 4 * sigma
        np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-12)
    mean = np.mean(ys, axis=0)
    assert abs(mean.mean() / x.mean() - 1) < 0.01  # E[y] = x
    assert not np.array_equal(ys[0], ys[1])


# ----------------------------------------------------------------------------- L2
@pytest.mark.parametrize("l2", [0.01, 1e-3, 0.5])
def test_l2_matches_keras_regularizer(sol, keras, l2):
    import tensorflow as tf

    rng = np.random.default_rng(int(l2 * 1000))
    ws = [
        rng.normal(size=s).astype(np.float32).astype(np.float64)
        for s in [(3, 3, 2, 4), (4,), (7, 5)]
    ]
    reg = keras.regularizers.L2(l2)
    total_k = 0.0
    for i, w in enumerate(ws):
        v = tf.Variable(w.astype(np.float32))
        with tf.GradientTape() as tape:
            p = reg(v)
        total_k += float(p)
        assert sol.regularization.l2_penalty(w, l2) == pytest.approx(float(p), rel=1e-5)
        assert_close_keras(sol.regularization.l2_grad(w, l2), tape.gradient(p, v), f"l2_grad {i}")
    assert sol.regularization.l2_penalty(ws, l2) == pytest.approx(total_k, rel=1e-5)
    default = keras.regularizers.L2()
    assert float(default(ws[2].astype(np.float32))) == pytest.approx(
        sol.regularization.l2_penalty(ws[2]), rel=1e-5
    )


# ----------------------------------------------------------------------------- EarlyStopping
def keras_fit_with_es(keras, values, key, epochs, **es_kwargs):
    """Real fit of a 1-weight model; a callback before ES injects `values`, stamps w = epoch+1."""

    class Inject(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs[key] = values[epoch]
            self.model.set_weights([np.full((1, 1), epoch + 1.0, dtype=np.float32)])

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=["accuracy"])
    es = keras.callbacks.EarlyStopping(monitor=key, **es_kwargs)
    x = np.zeros((4, 1), np.float32)
    hist = model.fit(x, x, epochs=epochs, batch_size=4, verbose=0, callbacks=[Inject(), es])
    return {
        "epochs_run": len(hist.epoch),
        "stopped_epoch": es.stopped_epoch,
        "best": None if es.best is None else float(es.best),
        "best_epoch": es.best_epoch,
        "final_weight": float(model.get_weights()[0][0, 0]),
    }


def ours_with_es(sol, values, key, epochs, **es_kwargs):
    es = sol.regularization.EarlyStopping(monitor=key, **es_kwargs)
    es.on_train_begin()
    weights, run = None, 0
    for epoch in range(epochs):
        run += 1
        weights = [np.full((1, 1), epoch + 1.0)]
        if es.on_epoch_end(epoch, {"loss": 0.0, key: values[epoch]}, weights):
            break
    restored = es.on_train_end()
    final = restored if restored is not None else weights
    return {
        "epochs_run": run,
        "stopped_epoch": es.stopped_epoch,
        "best": es.best,
        "best_epoch": es.best_epoch,
        "final_weight": float(final[0][0, 0]),
    }


RISE = [1.0, 0.8, 0.7, 0.72, 0.75, 0.71, 0.69, 0.6, 0.65, 0.7]
ES_CASES = [
    ("plain p=2", RISE, "val_loss", {"patience": 2}),
    ("p=0 == p=1 (p=0)", [1.0, 0.9, 0.95, 0.8, 0.7, 0.6], "val_loss", {"patience": 0}),
    ("p=0 == p=1 (p=1)", [1.0, 0.9, 0.95, 0.8, 0.7, 0.6], "val_loss", {"patience": 1}),
    ("ties", [1.0, 0.9, 0.9, 0.9, 0.9, 0.9], "val_loss", {"patience": 2}),
    (
        "min_delta",
        [1.0, 0.999, 0.998, 0.997, 0.996, 0.9],
        "val_loss",
        {"patience": 2, "min_delta": 0.005},
    ),
    ("baseline", [1.0, 0.95, 0.9, 0.9, 0.85, 0.8], "val_loss", {"patience": 2, "baseline": 0.75}),
    ("restore + stop", RISE, "val_loss", {"patience": 2, "restore_best_weights": True}),
    (
        "restore, no stop",
        [1.0, 0.9, 0.85, 0.8, 0.82, 0.81, 0.7, 0.75, 0.74, 0.73, 0.72, 0.71],
        "val_loss",
        {"patience": 10, "restore_best_weights": True},
    ),
    (
        "start_from_epoch",
        [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        "val_loss",
        {"start_from_epoch": 3, "restore_best_weights": True},
    ),
    (
        "auto max accuracy",
        [0.5, 0.6, 0.55, 0.7, 0.7, 0.65, 0.6],
        "val_accuracy",
        {"patience": 2, "restore_best_weights": True},
    ),
    (
        "max + min_delta + baseline",
        [0.5, 0.6, 0.62, 0.7, 0.71, 0.9, 0.6, 0.6],
        "val_accuracy",
        {"mode": "max", "patience": 2, "min_delta": 0.05, "baseline": 0.65},
    ),
]


@pytest.mark.parametrize(
    ("name", "values", "key", "kwargs"), ES_CASES, ids=[c[0] for c in ES_CASES]
)
def test_early_stopping_matches_keras_fit(sol, keras, name, values, key, kwargs):
    epochs = len(values)
    theirs = keras_fit_with_es(keras, values, key, epochs, **kwargs)
    ours = ours_with_es(sol, values, key, epochs, **kwargs)
    assert ours["best"] == pytest.approx(theirs["best"], rel=1e-6), (name, ours, theirs)
    ours["best"] = theirs["best"]
    assert ours == theirs, f"{name}: ours {ours} != Keras {theirs}"
