"""Public tests for cnn/regularization.py: inverted dropout, the L2 penalty and EarlyStopping."""

import math

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import regularization as reg


# ----------------------------------------------------------------------------- dropout
@pytest.mark.item("regularization.dropout")
def test_dropout_is_the_identity_unless_training():
    x = np.arange(12.0).reshape(3, 4)
    y = reg.dropout(x, 0.5)
    np.testing.assert_array_equal(y, x, err_msg="training=False (the default): return x unchanged")
    y = reg.dropout(x, 0.5, training=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y, x, err_msg="no units are dropped at test time")


@pytest.mark.item("regularization.dropout")
def test_dropout_with_the_lectures_mask_scales_the_kept_units():
    x = np.array([1.3, 0.4, 0.5, 1.5, 3.2, 0.9])
    keep = np.array([True, False, False, True, True, False])  # the lecture's example
    y = reg.dropout(x, 0.5, training=True, mask=keep)
    assert_allclose(
        y,
        [2.6, 0, 0, 3.0, 6.4, 0],
        err_msg="inverted dropout (Keras): kept units are divided by (1 - rate); the lecture's "
        "example [1.3, 0, 0, 1.5, 3.2, 0] leaves out this scaling",
    )
    y = reg.dropout(x, 0.2, training=True, mask=keep.astype(int))
    assert_allclose(y, np.where(keep, x / 0.8, 0.0), err_msg="a 0/1 mask means mask != 0")


@pytest.mark.item("regularization.dropout")
def test_dropout_random_draw_statistics():
    rate, n = 0.3, 20_000
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=n)  # no zeros
    y = reg.dropout(x, rate, training=True, rng=np.random.default_rng(2))
    assert y.shape == x.shape
    kept = y != 0
    assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-12, err_msg="kept: x/(1-rate)")
    sigma = math.sqrt(rate * (1 - rate) / n)
    frac = kept.mean()
    assert abs(frac - (1 - rate)) < 4 * sigma, (
        f"kept fraction {frac:.4f}, expected about 1 - rate = {1 - rate}: `rate` is the DROP "
        "probability (keep a unit when a uniform sample is >= rate)"
    )
    assert abs(y.mean() / x.mean() - 1) < 0.02, "inverted dropout preserves the mean"


@pytest.mark.item("regularization.dropout")
def test_dropout_is_reproducible_from_the_rng():
    x = np.ones((5, 6))
    y1 = reg.dropout(x, 0.5, training=True, rng=np.random.default_rng(7))
    y2 = reg.dropout(x, 0.5, training=True, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(y1, y2, err_msg="draw the mask from the given rng only")
    assert (y1 == 0).any() and (y1 == 2).any()


@pytest.mark.item("regularization.dropout")
def test_dropout_does_not_modify_its_input():
    x = np.linspace(1, 2, 10)
    before = x.copy()
    reg.dropout(x, 0.5, training=True, rng=np.random.default_rng(0))
    assert np.array_equal(x, before), "dropout must return a new array, not zero x in place"


# ----------------------------------------------------------------------------- L2
@pytest.mark.item("regularization.l2_penalty")
def test_l2_penalty_has_no_one_half():
    w = np.array([1.0, -2.0, 3.0])
    p = reg.l2_penalty(w)
    assert isinstance(p, float), "l2_penalty returns a Python float"
    assert p == pytest.approx(0.01 * 14), "Keras L2: l2 * sum(w**2), default l2=0.01, no 1/2"
    p = reg.l2_penalty([w, np.array([[0.5, 0.5]])], l2=0.1)
    assert p == pytest.approx(0.1 * (14 + 0.5)), "a list of arrays: sum over all of them"


@pytest.mark.item("regularization.l2_grad")
def test_l2_grad_is_two_l2_w():
    w = np.array([[1.0, -2.0], [0.0, 4.0]])
    assert_allclose(reg.l2_grad(w), 0.02 * w, err_msg="d/dw l2*sum(w**2) = 2*l2*w")
    assert_allclose(reg.l2_grad(w, l2=0.5), w)
    h = 1e-6
    e = np.zeros_like(w)
    e[1, 1] = h
    fd = (reg.l2_penalty(w + e, 0.3) - reg.l2_penalty(w - e, 0.3)) / (2 * h)
    assert reg.l2_grad(w, 0.3)[1, 1] == pytest.approx(fd, rel=1e-6), (
        "l2_grad is the gradient of l2_penalty"
    )


# ----------------------------------------------------------------------------- EarlyStopping
def drive(es, values, key="val_loss", epochs=None):
    """Run `es` like Keras fit (epoch e has weights [e + 1.0]); return (epochs run, restored)."""
    es.on_train_begin()
    epochs = len(values) if epochs is None else epochs
    run = 0
    for epoch in range(epochs):
        run += 1
        if es.on_epoch_end(epoch, {key: values[epoch], "loss": 1.0}, [np.array([epoch + 1.0])]):
            break
    restored = es.on_train_end()
    return run, None if restored is None else float(restored[0][0])


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_plain_patience():
    es = reg.EarlyStopping(patience=2)
    run, _ = drive(es, [1, 0.8, 0.7, 0.72, 0.75, 0.71, 0.69, 0.6])
    assert run == 5 and es.stopped_epoch == 4, (
        "patience=2: stop at the 2nd consecutive epoch without improvement (epoch index 4, "
        f"5 epochs run); got {run} epochs run, stopped_epoch={es.stopped_epoch}"
    )
    assert es.best == pytest.approx(0.7) and es.best_epoch == 2


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_patience_0_behaves_like_1():
    for patience in (0, 1):
        es = reg.EarlyStopping(patience=patience)
        run, _ = drive(es, [1, 0.9, 0.95, 0.8, 0.7])
        assert run == 3, (
            f"patience={patience}: Keras increments `wait` BEFORE testing `wait >= patience`, so "
            f"0 and 1 both stop at the first non-improving epoch (3 epochs); got {run}"
        )


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_ties_are_not_improvements():
    es = reg.EarlyStopping(patience=2)
    run, _ = drive(es, [1, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert run == 4, f"an equal value is not an improvement (strict <): 4 epochs run, got {run}"
    assert es.best_epoch == 1


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_min_delta_from_the_last_best():
    es = reg.EarlyStopping(patience=2, min_delta=0.005)
    run, _ = drive(es, [1, 0.999, 0.998, 0.997, 0.996])
    assert run == 3, (
        "min_delta: improve only if value + min_delta < best, best being the last ACCEPTED value; "
        f"3 epochs run, got {run}"
    )
    assert es.best == 1


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_restores_the_best_weights_even_without_a_stop():
    values = [1, 0.9, 0.85, 0.8, 0.82, 0.81, 0.7, 0.75, 0.74, 0.73, 0.72, 0.71]
    es = reg.EarlyStopping(patience=10, restore_best_weights=True)
    run, restored = drive(es, values)
    assert run == 12
    assert restored == 7.0, (
        "restore_best_weights: on_train_end returns the best epoch's weights (epoch index 6 -> "
        f"weights [7.]) even though training ran all 12 epochs; got {restored}"
    )
    es = reg.EarlyStopping(patience=10)
    assert drive(es, values)[1] is None, "without restore_best_weights on_train_end returns None"


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_baseline_never_reached():
    es = reg.EarlyStopping(patience=2, baseline=0.75)
    run, _ = drive(es, [1, 0.95, 0.9, 0.9, 0.85, 0.8])
    assert run == 4, (
        "baseline: improvements that do not beat the baseline do not reset `wait`; the run stops "
        f"at the first non-improving epoch once wait >= patience (4 epochs); got {run}"
    )


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_start_from_epoch():
    es = reg.EarlyStopping(start_from_epoch=3, restore_best_weights=True)
    run, restored = drive(es, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert run == 5 and restored == 4.0, (
        "epochs < start_from_epoch are ignored entirely: the first monitored epoch (index 3, "
        f"weights [4.]) becomes the best; got {run} epochs, restored {restored}"
    )


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_mode_auto_maximises_accuracy():
    es = reg.EarlyStopping(monitor="val_accuracy", patience=1)
    run, _ = drive(es, [0.5, 0.6, 0.55, 0.7], key="val_accuracy")
    assert run == 3, f"mode='auto' maximises a monitor containing 'acc'; got {run} epochs"


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_stores_copies_of_the_weights():
    es = reg.EarlyStopping(restore_best_weights=True, patience=5)
    es.on_train_begin()
    w = [np.array([1.0, 2.0])]
    es.on_epoch_end(0, {"val_loss": 0.5}, w)
    w[0] += 100.0  # training goes on and changes the arrays
    es.on_epoch_end(1, {"val_loss": 0.9}, w)
    restored = es.on_train_end()
    np.testing.assert_array_equal(
        restored[0], [1.0, 2.0], err_msg="store copies (np.copy) of the weights"
    )


@pytest.mark.item("regularization.EarlyStopping")
def test_early_stopping_missing_monitor_does_nothing():
    es = reg.EarlyStopping(patience=0)
    es.on_train_begin()
    assert es.on_epoch_end(0, {"val_loss": 1.0}) is False
    assert es.on_epoch_end(1, {"loss": 5.0}) is False, "a missing monitored key does nothing"
    assert es.wait == 0 and es.best == 1.0
