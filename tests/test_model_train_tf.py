"""lecture_model_loss_and_grads against tf.GradientTape on the lecture's Keras model, and
train_lecture_model against Keras ``model.fit(..., shuffle=False)`` with the same optimizer."""

from __future__ import annotations

import numpy as np
import pytest
from _part2 import WORST, assert_matches, load_part2
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def p2():
    return load_part2()


@pytest.fixture(scope="module")
def tf(keras):
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


@pytest.fixture(scope="module", autouse=True)
def _report_worst():
    yield
    if WORST:
        print("\nworst scaled error vs TF:", {k: f"{v:.2e}" for k, v in sorted(WORST.items())})


def lecture_model(keras, l2=0.0, rate=0.5, dtype=None):
    """The lecture's Sequential model, ``kernel_regularizer=L2(l2)`` on the conv and dense."""
    layers = keras.layers
    reg = {"kernel_regularizer": keras.regularizers.L2(l2)} if l2 else {}
    kw = {"dtype": dtype} if dtype else {}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), **kw),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu", **reg, **kw),
            layers.MaxPooling2D(pool_size=(2, 2), **kw),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu", **reg, **kw),
            layers.MaxPooling2D(pool_size=(2, 2), **kw),
            layers.Flatten(**kw),
            layers.Dropout(rate, **kw),
            layers.Dense(10, activation="softmax", **reg, **kw),
        ]
    )


def _weights(p2, seed):
    """Glorot kernels from cnn.data, small random biases (so no ReLU sits exactly at 0)."""
    rng = np.random.default_rng(seed)
    weights = p2.data.lecture_model_init(rng)
    for i in (1, 3, 5):
        weights[i] = rng.normal(0, 0.05, size=weights[i].shape)
    return weights


def _batch(p2, n, seed):
    x, y, _, _ = p2.data.load_digits28()
    idx = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
    return x[idx], y[idx]


# The Keras bank (topics/model/bank_part2.py) holds three more, fixed cases, re-checked against live
# Keras by test_oracle's verify test: batch 2, 3 with a mask, 2 with L2 0.01.
@pytest.mark.parametrize("batch,training,l2", [(1, False, 0.0), (6, True, 0.003)])
def test_loss_and_grads_match_gradient_tape(p2, keras, tf, batch, training, l2):
    weights = _weights(p2, batch)
    x, y = _batch(p2, batch, batch)
    mask = np.random.default_rng(7).random((batch, 1600)) >= 0.5
    model = lecture_model(keras, l2=l2, dtype="float64")
    model.set_weights(weights)
    with tf.GradientTape() as tape:
        h = tf.constant(x)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                if training:  # the same fixed mask, scaled 1 / (1 - rate)
                    h = h * tf.constant(mask.astype(np.float64)) / 0.5
            else:
                h = layer(h)
        loss = keras.losses.CategoricalCrossentropy(dtype="float64")(tf.constant(y), h)
        loss = loss + tf.add_n(model.losses) if l2 else loss
    expected = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    ours, grads = p2.model.lecture_model_loss_and_grads(
        x, y, weights, training=training, mask=mask if training else None, l2=l2
    )
    assert isinstance(ours, float)
    # Keras keeps the L2 factor as a float32 (0.01 -> 0.0099999998): 1e-7, not 1e-9, with L2
    assert ours == pytest.approx(float(loss), rel=1e-7 if l2 else 1e-9)
    assert len(grads) == 6
    names = ["k1", "b1", "k2", "b2", "k3", "b3"]
    for name, g, e in zip(names, grads, expected, strict=True):
        assert_matches(f"lecture_model_loss_and_grads.{name}", g, e, 1e-8, f"N={batch}")


def test_loss_is_the_unclipped_logit_loss_that_keras_evaluate_reports(p2, keras):
    """Keras takes the softmax layer's logits: confident wrong answers cost more than 16.12."""
    weights = _weights(p2, 3)
    weights[4] = weights[4] * 400.0  # huge logits: softmax probabilities of 0 and 1
    x, y = _batch(p2, 8, 3)
    model = lecture_model(keras)
    model.set_weights(weights)
    model.compile(loss="categorical_crossentropy")
    reported = model.evaluate(x.astype(np.float32), y.astype(np.float32), verbose=0)
    ours, _ = p2.model.lecture_model_loss_and_grads(x, y, weights)
    probs = p2.model.lecture_model_forward(x, weights)
    clipped = float(np.mean(p2.training.categorical_crossentropy(y, probs)))
    assert reported > 20.0 and clipped < reported * 0.9  # the case separates the two losses
    assert ours == pytest.approx(reported, rel=1e-4)


def test_train_matches_keras_fit_unshuffled_with_l2_and_validation(p2, keras):
    """Adam with L2 and validation data, a partial last batch: the weights after 2 epochs, the
    loss (batches weighted by size), val_loss (L2 included, as Keras reports it) and
    val_accuracy. SGD with momentum and Adam without L2: the bank's two fit cases."""
    l2 = 0.01
    weights = [w.astype(np.float32).astype(np.float64) for w in _weights(p2, 11)]
    x, y = _batch(p2, 40, 11)  # batches of 16, 16 and 8: the last one partial
    x_val, y_val = _batch(p2, 20, 13)
    model = lecture_model(keras, l2=l2, rate=0.0)  # training=False in numpy: no dropout
    model.set_weights(weights)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    f32 = np.float32
    hist = model.fit(
        x.astype(f32),
        y.astype(f32),
        epochs=2,
        batch_size=16,
        shuffle=False,
        verbose=0,
        validation_data=(x_val.astype(f32), y_val.astype(f32)),
    ).history
    before = [w.copy() for w in weights]
    trained, history = p2.model.train_lecture_model(
        x,
        y,
        weights,
        p2.optimizers.Adam(learning_rate=1e-3),
        epochs=2,
        batch_size=16,
        shuffle=False,
        training=False,
        l2=l2,
        validation_data=(x_val, y_val),
    )
    for w, b in zip(weights, before, strict=True):
        np.testing.assert_array_equal(w, b)  # the given weights are not modified
    assert set(history) == {"loss", "val_loss", "val_accuracy"}
    assert all(isinstance(v, float) for k in history for v in history[k])
    assert history["loss"] == pytest.approx(hist["loss"], rel=1e-5)  # batch-size weighted mean
    assert history["val_loss"] == pytest.approx(hist["val_loss"], rel=1e-4)
    assert history["val_accuracy"] == pytest.approx(hist["val_accuracy"], abs=1e-6)
    for i, (ours, theirs) in enumerate(zip(trained, model.get_weights(), strict=True)):
        assert_close_keras(ours, theirs, f"adam l2={l2} weights[{i}] after fit")
        WORST["train_lecture_model.adam"] = max(
            WORST.get("train_lecture_model.adam", 0.0),
            float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))),
        )
