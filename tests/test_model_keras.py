"""lecture_model_forward vs model.predict of the lecture's exact Keras Sequential model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


def lecture_model(keras):
    """The model of the lecture's slide, verbatim (input_shape (28, 28, 1), 10 classes)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def built(keras):
    keras.utils.set_random_seed(0)
    model = lecture_model(keras)
    rng = np.random.default_rng(0)
    weights = model.get_weights()
    for i in (1, 3, 5):  # random non-zero biases
        weights[i] = rng.normal(0, 0.1, size=weights[i].shape).astype(np.float32)
    model.set_weights(weights)
    return model, [np.asarray(w, dtype=np.float64) for w in model.get_weights()]


def test_model_shapes_and_parameter_count(sol, built):
    model, weights = built
    assert model.count_params() == 34_826
    assert [w.shape for w in weights] == [tuple(s) for s in sol.model.LECTURE_WEIGHT_SHAPES]
    assert [tuple(layer.output.shape[1:]) for layer in model.layers[:5]] == [
        (26, 26, 32),
        (13, 13, 32),
        (11, 11, 64),
        (5, 5, 64),
        (1600,),
    ]


@pytest.mark.parametrize(("batch", "seed"), [(8, 1), (16, 2)])
def test_forward_matches_model_predict(sol, built, batch, seed):
    model, weights = built
    x = np.random.default_rng(seed).uniform(size=(batch, 28, 28, 1)).astype(np.float32)
    theirs = model.predict(x, batch_size=batch, verbose=0)
    ours = sol.model.lecture_model_forward(x.astype(np.float64), weights)
    assert_close_keras(ours, theirs, f"lecture model, batch {batch}")
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, rtol=1e-12)


def test_training_mode_is_not_inference(sol, built):
    _, weights = built
    x = np.random.default_rng(3).uniform(size=(4, 28, 28, 1))
    p_inf = sol.model.lecture_model_forward(x, weights)
    p_train = sol.model.lecture_model_forward(
        x, weights, training=True, rng=np.random.default_rng(0)
    )
    assert not np.allclose(p_inf, p_train)
    np.testing.assert_allclose(p_train.sum(axis=1), 1.0, rtol=1e-12)
