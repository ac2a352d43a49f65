"""Public tests for part 2 of cnn/model.py: the lecture model's loss and gradients, and training.

They use the digits data shipped with the handout (``cnn.data.load_digits28``, given) on a few
images only, so they run in a few seconds with a vectorised implementation.
"""

import numpy as np
import pytest
from cnn import data, gradcheck, model, optimizers


@pytest.fixture(scope="module")
def digits():
    return data.load_digits28()


def _weights(seed):
    rng = np.random.default_rng(seed)
    weights = data.lecture_model_init(rng)
    for i in (1, 3, 5):  # small non-zero biases: no ReLU input sits exactly at its kink
        weights[i] = rng.normal(0, 0.05, size=weights[i].shape)
    return weights


@pytest.mark.item("model.lecture_model_loss_and_grads")
def test_data_and_initial_weights_are_as_documented(digits):
    x_train, y_train, x_test, y_test = digits
    assert x_train.shape == (1437, 28, 28, 1) and x_test.shape == (360, 28, 28, 1)
    assert y_train.shape == (1437, 10) and (y_train.sum(axis=1) == 1).all()
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    weights = data.lecture_model_init(np.random.default_rng(0))
    assert [w.shape for w in weights] == [tuple(s) for s in model.LECTURE_WEIGHT_SHAPES]
    loss, grads = model.lecture_model_loss_and_grads(x_train[:4], y_train[:4], weights)
    assert isinstance(loss, float) and 1.5 < loss < 3.5, "about log(10) = 2.3 at the start"
    assert [g.shape for g in grads] == [w.shape for w in weights]


@pytest.mark.item("model.lecture_model_loss_and_grads")
def test_loss_and_grads_pass_a_gradient_check(digits):
    x, y = digits[0][:3], digits[1][:3]
    weights = _weights(1)
    loss, grads = model.lecture_model_loss_and_grads(x, y, weights, l2=0.01)
    for i in (5,):  # the dense bias: 10 entries, 20 calls

        def f(b, i=i):
            w = list(weights)
            w[i] = b
            return model.lecture_model_loss_and_grads(x, y, w, l2=0.01)[0]

        err = gradcheck.relative_error(grads[i], gradcheck.numerical_gradient(f, weights[i]))
        assert err < 1e-5, f"grads[{i}] vs finite differences: relative error {err:.2e}"
    # a few entries of the first conv kernel (each costs two calls)
    k1 = weights[0]
    for index in [(0, 0, 0, 3), (1, 2, 0, 17), (2, 1, 0, 30), (2, 2, 0, 8)]:
        h = 1e-5
        plus, minus = k1.copy(), k1.copy()
        plus[index] += h
        minus[index] -= h
        f_plus = model.lecture_model_loss_and_grads(x, y, [plus, *weights[1:]], l2=0.01)[0]
        f_minus = model.lecture_model_loss_and_grads(x, y, [minus, *weights[1:]], l2=0.01)[0]
        numeric = (f_plus - f_minus) / (2 * h)
        assert grads[0][index] == pytest.approx(numeric, rel=1e-4, abs=1e-8), index


@pytest.mark.item("model.lecture_model_loss_and_grads")
def test_l2_and_dropout_mask(digits):
    x, y = digits[0][:2], digits[1][:2]
    weights = _weights(2)
    loss, grads = model.lecture_model_loss_and_grads(x, y, weights)
    loss_l2, grads_l2 = model.lecture_model_loss_and_grads(x, y, weights, l2=0.1)
    penalty = 0.1 * sum(float(np.sum(weights[i] ** 2)) for i in (0, 2, 4))
    assert loss_l2 == pytest.approx(loss + penalty), "l2 * sum(w**2) over the 3 kernels only"
    np.testing.assert_allclose(grads_l2[4], grads[4] + 0.2 * weights[4])
    np.testing.assert_allclose(grads_l2[5], grads[5], err_msg="biases are not regularised")
    keep_all = np.ones((2, 1600), dtype=bool)
    _, grads_t = model.lecture_model_loss_and_grads(x, y, weights, training=True, mask=keep_all)
    # keeping every unit doubles the dense layer's input (1 / (1 - 0.5)): its kernel's gradient
    # is that of a forward pass with the features doubled; at least it must differ from eval
    assert not np.allclose(grads_t[4], grads[4])
    drop_all = np.zeros((2, 1600), dtype=bool)
    _, grads_0 = model.lecture_model_loss_and_grads(x, y, weights, training=True, mask=drop_all)
    np.testing.assert_allclose(grads_0[4], 0.0, err_msg="every unit dropped: no dense gradient")
    np.testing.assert_allclose(grads_0[0], 0.0, err_msg="... and nothing reaches the convs")


@pytest.mark.item("model.train_lecture_model")
def test_a_tiny_training_run_lowers_the_loss(digits):
    x, y = digits[0][:96], digits[1][:96]
    weights = _weights(3)
    before = [w.copy() for w in weights]
    trained, history = model.train_lecture_model(
        x,
        y,
        weights,
        optimizers.Adam(learning_rate=3e-3),
        epochs=4,
        batch_size=32,
        rng=np.random.default_rng(0),
        validation_data=(digits[2][:50], digits[3][:50]),
    )
    for w, b in zip(weights, before, strict=True):
        np.testing.assert_array_equal(w, b, err_msg="the given weights must not change")
    assert set(history) == {"loss", "val_loss", "val_accuracy"}
    losses = history["loss"]
    assert len(losses) == 4 and all(isinstance(v, float) for v in losses)
    print("loss per epoch:", [round(v, 3) for v in losses])
    assert losses[-1] < losses[0] - 0.25, f"the loss curve must go down: {losses}"
    assert 0.0 <= min(history["val_accuracy"]) and max(history["val_accuracy"]) <= 1.0
    assert [w.shape for w in trained] == [w.shape for w in weights]
