"""Reference minibatch_indices, categorical_crossentropy, flatten and dense vs live Keras."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close_keras

pytestmark = pytest.mark.keras


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# ----------------------------------------------------------------------------- minibatches
@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (32, 8), (7, 10), (33, 16)])
def test_minibatches_are_the_steps_keras_fit_runs(sol, keras, n, batch_size):
    seen: list[list[int]] = []

    class Record(keras.layers.Layer):
        def call(self, x, training=None):
            if training:
                seen.append([int(v) for v in np.asarray(x)[:, 0]])
            return x

    model = keras.Sequential([keras.Input((1,)), Record(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    model.fit(
        x, np.zeros((n, 1), np.float32), batch_size=batch_size, epochs=1, shuffle=False, verbose=0
    )
    ours = sol.training.minibatch_indices(n, batch_size, shuffle=False)
    assert [b.tolist() for b in ours] == seen
    shuffled = sol.training.minibatch_indices(n, batch_size, rng=np.random.default_rng(0))
    assert [len(b) for b in shuffled] == [len(b) for b in seen]


# ----------------------------------------------------------------------------- cross-entropy
def probabilities(rng, n, k):
    p = rng.uniform(size=(n, k)) ** 3
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_cce_on_probabilities_matches_keras(sol, keras, seed):
    rng = np.random.default_rng(seed)
    n, k = 64, 10
    y = np.eye(k)[rng.integers(0, k, n)]
    y[:4] = probabilities(rng, 4, k)  # some soft labels
    p = probabilities(rng, n, k)
    p[4] = np.eye(k)[np.argmax(y[4])]  # p(true) = 1
    p[5] = np.roll(np.eye(k)[np.argmax(y[5])], 1)  # p(true) = 0 -> clipped to 1e-7
    p[6:10] *= rng.uniform(0.2, 5.0, size=(4, 1))  # unnormalised rows
    y, p = f32(y), f32(p)
    theirs = keras.losses.categorical_crossentropy(y.astype(np.float32), p.astype(np.float32))
    ours = sol.training.categorical_crossentropy(y, p)
    assert ours.shape == (n,)
    assert_close_keras(ours, theirs, "categorical_crossentropy(probabilities)")
    assert ours[5] == pytest.approx(-np.log(1e-7), rel=1e-6)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
def test_cce_from_logits_matches_keras(sol, keras, scale):
    rng = np.random.default_rng(int(scale))
    n, k = 32, 7
    y = f32(np.eye(k)[rng.integers(0, k, n)])
    z = f32(rng.normal(size=(n, k)) * scale)
    theirs = keras.losses.categorical_crossentropy(
        y.astype(np.float32), z.astype(np.float32), from_logits=True
    )
    ours = sol.training.categorical_crossentropy(y, z, from_logits=True)
    assert np.isfinite(ours).all()
    assert_close_keras(ours, theirs, f"categorical_crossentropy(logits * {scale})")


# ----------------------------------------------------------------------------- flatten / dense
@pytest.mark.parametrize("shape", [(2, 5, 5, 64), (3, 4, 7), (4, 1, 1, 3), (5, 2, 3, 4, 2)])
def test_flatten_matches_keras_bitwise(sol, keras, shape):
    x = f32(np.random.default_rng(0).normal(size=shape))
    theirs = np.asarray(keras.layers.Flatten()(x.astype(np.float32)), dtype=np.float64)
    np.testing.assert_array_equal(sol.training.flatten(x), theirs)


@pytest.mark.parametrize(
    ("shape", "units", "use_bias"),
    [((8, 20), 5, True), ((4, 3, 6), 2, True), ((2, 3, 4, 5), 7, False)],
)
def test_dense_matches_keras(sol, keras, shape, units, use_bias):
    rng = np.random.default_rng(units)
    x = f32(rng.normal(size=shape))
    kernel = f32(rng.normal(size=(shape[-1], units)))
    layer = keras.layers.Dense(units, use_bias=use_bias)
    layer.build(shape)
    weights = [kernel]
    if use_bias:
        weights.append(f32(rng.normal(size=units)))
    layer.set_weights([w.astype(np.float32) for w in weights])
    theirs = layer(x.astype(np.float32))
    ours = sol.training.dense(x, *weights)
    assert_close_keras(ours, theirs, f"dense {shape} -> {units}")
