"""Public tests for cnn/training.py: mini-batches, categorical cross-entropy, flatten, dense."""

import math

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import training as tr


# ----------------------------------------------------------------------------- minibatch_indices
@pytest.mark.item("training.minibatch_indices")
def test_minibatches_in_order_with_a_partial_last_batch():
    batches = tr.minibatch_indices(10, 3, shuffle=False)
    assert isinstance(batches, list) and all(isinstance(b, np.ndarray) for b in batches)
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]], (
        "ceil(10/3) = 4 steps like Keras fit; the last batch holds the remaining 10 % 3 = 1 index"
    )


@pytest.mark.item("training.minibatch_indices")
@pytest.mark.parametrize(("n", "b"), [(32, 8), (33, 8), (7, 10), (1, 1)])
def test_minibatches_cover_every_index_once(n, b):
    batches = tr.minibatch_indices(n, b, rng=np.random.default_rng(0))
    assert len(batches) == math.ceil(n / b), "one batch per step: ceil(n_samples / batch_size)"
    assert all(len(x) == b for x in batches[:-1]), "only the last batch may be smaller"
    assert sorted(np.concatenate(batches).tolist()) == list(range(n)), "each index exactly once"


@pytest.mark.item("training.minibatch_indices")
def test_minibatches_shuffle_is_reproducible_from_rng():
    a = tr.minibatch_indices(50, 16, rng=np.random.default_rng(3))
    b = tr.minibatch_indices(50, 16, rng=np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), "use only the given rng"
    assert np.concatenate(a).tolist() != list(range(50)), "shuffle=True must shuffle"
    assert tr.minibatch_indices(0, 4) == [], "no samples, no batches"


# ----------------------------------------------------------------------------- cross-entropy
@pytest.mark.item("training.categorical_crossentropy")
def test_cce_on_probabilities_by_hand():
    y = np.array([[0, 1, 0], [1, 0, 0]], dtype=float)
    p = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    loss = tr.categorical_crossentropy(y, p)
    assert loss.shape == (2,), "one loss per sample, shape (N,)"
    assert_allclose(loss, [-math.log(0.7), -math.log(0.5)], rtol=1e-6)


@pytest.mark.item("training.categorical_crossentropy")
def test_cce_renormalises_and_clips_like_keras():
    y = np.array([[0, 0, 1.0], [0, 1.0, 0]])
    p = np.array([[0.2, 0.2, 0.2], [1.0, 0.0, 0.0]])
    loss = tr.categorical_crossentropy(y, p)
    assert loss[0] == pytest.approx(math.log(3)), (
        "Keras renormalises p by sum(p): [.2,.2,.2] -> 1/3 each"
    )
    assert loss[1] == pytest.approx(-math.log(1e-7)), (
        "Keras clips p to [1e-7, 1 - 1e-7]: p(true) = 0 costs -log(1e-7) = 16.118, not inf"
    )


@pytest.mark.item("training.categorical_crossentropy")
def test_cce_from_logits_is_stable():
    y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    z = np.array([[2.0, 1.0, 0.0], [1000.0, 0.0, -1000.0]])
    loss = tr.categorical_crossentropy(y, z, from_logits=True)
    expected0 = -(2.0 - math.log(math.exp(2) + math.exp(1) + 1))
    assert loss[0] == pytest.approx(expected0), "from_logits: -sum(y * log_softmax(z))"
    assert loss[1] == pytest.approx(2000.0), (
        "a stable log-softmax gives 2000 here (no clipping with logits); exp(1000) overflows"
    )


# ----------------------------------------------------------------------------- flatten / dense
@pytest.mark.item("training.flatten")
def test_flatten_is_c_order_channels_last():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)  # (N, H, W, C)
    f = tr.flatten(x)
    assert f.shape == (2, 60)
    n, i, j, c = 1, 2, 1, 3
    assert f[n, (i * 4 + j) * 5 + c] == x[n, i, j, c], (
        "Keras Flatten (channels-last) uses C order over (H, W, C): the channel changes fastest"
    )
    assert tr.flatten(np.arange(4.0)).shape == (4, 1), "a 1-D input (N,) becomes (N, 1)"


@pytest.mark.item("training.dense")
def test_dense_by_hand_and_on_any_rank():
    x = np.array([[1.0, 2.0]])
    k = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]])  # (in=2, units=3)
    b = np.array([0.1, 0.2, 0.3])
    assert_allclose(tr.dense(x, k, b), [[2.1, 4.2, 1.3]], err_msg="y = x @ kernel + bias")
    assert_allclose(tr.dense(x, k), [[2.0, 4.0, 1.0]], err_msg="bias=None: no bias")
    x3 = np.random.default_rng(0).normal(size=(4, 5, 2))
    y3 = tr.dense(x3, k, b)
    assert y3.shape == (4, 5, 3), "Dense acts on the last axis of an input of any rank"
    assert_allclose(y3[2, 3], x3[2, 3] @ k + b, rtol=1e-12)
