"""Public tests for cnn/model.py: the lecture's CNN built from your own functions.

The expected probabilities are computed by a short, independent numpy forward pass below.
"""

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import model
from numpy.lib.stride_tricks import sliding_window_view

SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)]


def random_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.3, size=s) for s in SHAPES]


def reference_forward(x, w):
    """Valid 3x3 conv (cross-correlation) + relu, 2x2 max pool (floor), twice; flatten; softmax."""
    h = x
    for k, b in ((w[0], w[1]), (w[2], w[3])):
        win = sliding_window_view(h, (3, 3), axis=(1, 2))  # (N, H-2, W-2, C, 3, 3)
        h = np.maximum(np.einsum("nhwcij,ijcf->nhwf", win, k) + b, 0)
        n, hh, ww, c = h.shape
        h = (
            h[:, : hh // 2 * 2, : ww // 2 * 2]
            .reshape(n, hh // 2, 2, ww // 2, 2, c)
            .max(axis=(2, 4))
        )
    z = h.reshape(len(h), -1) @ w[4] + w[5]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.item("model.lecture_model_forward")
def test_parameter_count_is_34826():
    total = sum(int(np.prod(s)) for s in SHAPES)
    assert total == 34_826
    assert [tuple(s) for s in model.LECTURE_WEIGHT_SHAPES] == SHAPES
    x = np.random.default_rng(1).uniform(size=(1, 28, 28, 1))
    assert model.lecture_model_forward(x, random_weights()).shape == (1, 10)


@pytest.mark.item("model.lecture_model_forward")
def test_forward_matches_an_independent_computation():
    x = np.random.default_rng(2).uniform(size=(3, 28, 28, 1))
    w = random_weights()
    p = model.lecture_model_forward(x, w)
    assert isinstance(p, np.ndarray) and p.shape == (3, 10), "(N, 28, 28, 1) -> (N, 10)"
    assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5, err_msg="softmax rows sum to 1")
    assert_allclose(
        p,
        reference_forward(x, w),
        rtol=1e-5,  # float32 answers are fine (Keras computes in float32)
        atol=1e-7,
        err_msg="conv(valid) -> relu -> maxpool(2) -> conv -> relu -> maxpool(2) -> flatten "
        "(C order) -> dropout (identity at inference) -> dense -> softmax",
    )


@pytest.mark.item("model.lecture_model_forward")
def test_layer_shapes_26_13_11_5():
    from cnn import activations, conv, pooling

    w = random_weights()
    h = activations.relu(conv.conv2d(np.zeros((2, 28, 28, 1)), w[0], w[1]))
    assert h.shape == (2, 26, 26, 32)
    h = pooling.max_pool2d(h, 2)
    assert h.shape == (2, 13, 13, 32)
    h = conv.conv2d(h, w[2], w[3])
    assert h.shape == (2, 11, 11, 64)
    h = pooling.max_pool2d(h, 2)
    assert h.shape == (2, 5, 5, 64), "11 // 2 = 5: pooling floors, the last row/column is dropped"


@pytest.mark.item("model.lecture_model_forward")
def test_training_mode_applies_dropout_reproducibly():
    x = np.random.default_rng(3).uniform(size=(2, 28, 28, 1))
    w = random_weights()
    p_eval = model.lecture_model_forward(x, w)
    p1 = model.lecture_model_forward(x, w, training=True, rng=np.random.default_rng(5))
    p2 = model.lecture_model_forward(x, w, training=True, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(p1, p2, err_msg="training=True draws the dropout mask from rng")
    assert_allclose(p1.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(p1, p_eval), "training=True applies Dropout(0.5) before the dense layer"


@pytest.mark.item("model.lecture_model_forward")
def test_wrong_weights_are_rejected():
    x = np.zeros((1, 28, 28, 1))
    w = random_weights()
    model.lecture_model_forward(x, w)  # the right weights work
    with pytest.raises(ValueError, match="weights"):
        model.lecture_model_forward(x, w[:5])
    with pytest.raises(ValueError, match="weights"):
        model.lecture_model_forward(x, [w[0], w[1], w[2], w[3], w[4].T, w[5]])
