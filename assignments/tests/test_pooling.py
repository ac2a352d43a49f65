"""Public tests for cnn/pooling.py: max / average pooling in 1-D and 2-D, global pooling.

Run them with ``pytest tests/test_pooling.py`` from your handout folder. Expected values come
from small hand-worked examples and from the slow loop ``_loop_pool2d`` below.
"""

import inspect

import numpy as np
import pytest
from _judge import assert_allclose
from cnn import pooling

# The classic 4x4 example: 2x2 windows, stride 2.
GRID = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)


def _image(a):
    return a.reshape(1, *a.shape, 1)


def _loop_pool2d(x, pool, stride, reduce):
    """'valid' pooling, one window at a time."""
    (ph, pw), (sh, sw) = pool, stride
    n, h, w, c = x.shape
    h_out, w_out = (h - ph) // sh + 1, (w - pw) // sw + 1
    y = np.zeros((n, h_out, w_out, c))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :]
            y[:, i, j, :] = reduce(window, axis=(1, 2))
    return y


# A first small step: one window of one channel (pool2d_one_window, your own helper)


@pytest.mark.item("pooling.max_pool2d", "pooling.avg_pool2d")
def test_one_window_max_and_average():
    window = np.array([[1.0, -2.0], [3.0, 0.5]])
    got = pooling.pool2d_one_window(window)
    assert type(got) is float, f"return a Python float (float(...)), not {type(got).__name__}"
    assert got == pytest.approx(3.0), f"max of [[1, -2], [3, 0.5]] is 3, you returned {got:g}"
    got = pooling.pool2d_one_window(window, mode="avg")
    assert got == pytest.approx(0.625), f"mean of [[1, -2], [3, 0.5]] is 0.625, got {got:g}"
    padded = np.array([[-np.inf, -5.0], [-np.inf, -7.0]])  # a 'same' window: -inf padding
    got = pooling.pool2d_one_window(padded)
    assert got == pytest.approx(-5.0), f"-inf padding never wins a max: -5 expected, got {got:g}"


@pytest.mark.item("pooling.max_pool2d")
def test_max_pool2d_hand_example():
    y = pooling.max_pool2d(_image(GRID))
    assert y.shape == (1, 2, 2, 1), "default pool_size=2 with stride=None (= pool_size): 4 -> 2"
    np.testing.assert_array_equal(y[0, :, :, 0], [[6, 8], [3, 4]])


@pytest.mark.item("pooling.avg_pool2d")
def test_avg_pool2d_hand_example():
    y = pooling.avg_pool2d(_image(GRID), 2)
    assert_allclose(y[0, :, :, 0], [[3.25, 5.25], [2.0, 2.0]])


@pytest.mark.item("pooling.max_pool2d")
def test_pooling_works_per_channel():
    x = np.stack([GRID, -GRID, 10 * GRID], axis=-1)[None]  # (1, 4, 4, 3)
    y = pooling.max_pool2d(x)
    assert y.shape == (1, 2, 2, 3), "pooling keeps the channels"
    np.testing.assert_array_equal(y[0, :, :, 1], [[-1, -2], [-1, 0]])
    np.testing.assert_array_equal(y[0, :, :, 2], 10 * np.array([[6, 8], [3, 4]]))


@pytest.mark.item("pooling.max_pool2d")
def test_valid_pooling_drops_the_trailing_row_and_column():
    x = np.random.default_rng(0).normal(size=(2, 11, 13, 3))
    y = pooling.max_pool2d(x)
    assert y.shape == (2, 5, 6, 3), (
        "'valid' pooling uses floor((n - p)/s) + 1: 11 -> 5 and 13 -> 6 (the lecture model's "
        "11x11 -> 5x5); the last row/column is dropped"
    )
    np.testing.assert_array_equal(y, _loop_pool2d(x, (2, 2), (2, 2), np.max))


@pytest.mark.item("pooling.avg_pool2d", "pooling.max_pool2d")
@pytest.mark.parametrize(
    "pool,stride", [(3, None), ((2, 3), None), (3, 1), ((2, 3), (1, 2)), (1, None)]
)
def test_pool2d_matches_the_loop(pool, stride):
    x = np.random.default_rng(1).normal(size=(2, 7, 8, 2))
    p = pool if isinstance(pool, tuple) else (pool, pool)
    s = p if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    assert_allclose(
        pooling.max_pool2d(x, pool, stride=stride),
        _loop_pool2d(x, p, s, np.max),
        err_msg=f"max_pool2d pool {pool} stride {stride} (None means stride = pool_size)",
    )
    assert_allclose(
        pooling.avg_pool2d(x, pool, stride=stride),
        _loop_pool2d(x, p, s, np.mean),
        atol=1e-12,
        err_msg=f"avg_pool2d pool {pool} stride {stride} (None means stride = pool_size)",
    )


@pytest.mark.item("pooling.max_pool1d", "pooling.max_pool2d")
def test_same_max_pooling_pads_with_minus_infinity():
    x = np.array([-1.0, -2.0, -3.0]).reshape(1, 3, 1)
    y = pooling.max_pool1d(x, 2, padding="same")
    np.testing.assert_array_equal(
        y[0, :, 0],
        [-1.0, -3.0],
        err_msg="'same' max pooling pads with -inf: the padded cell after -3 must never win "
        "(zero padding would give 0)",
    )
    x2 = -1.0 - np.arange(25.0).reshape(1, 5, 5, 1)
    y2 = pooling.max_pool2d(x2, 2, padding="same")
    assert y2.shape == (1, 3, 3, 1), "'same': ceil(5 / 2) = 3"
    assert (y2 < 0).all(), "'same' max pooling of negative numbers stays negative (pad -inf)"
    assert y2[0, 2, 2, 0] == -25.0, "the extra cell goes bottom/right: last window = x[4, 4]"


@pytest.mark.item("pooling.avg_pool1d", "pooling.avg_pool2d")
def test_same_avg_pooling_divides_by_the_real_cells():
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    y = pooling.avg_pool1d(x, 3, stride=1, padding="same")
    assert_allclose(
        y[0, :, 0],
        [1.5, 2.0, 2.5],
        err_msg="'same' average pooling divides by the number of REAL cells in the window "
        "(padding is not counted): first window (pad, 1, 2) -> 3/2",
    )
    x2 = np.arange(9.0).reshape(1, 3, 3, 1)
    y2 = pooling.avg_pool2d(x2, 3, stride=1, padding="same")
    assert y2[0, 0, 0, 0] == pytest.approx(2.0), "corner = (0 + 1 + 3 + 4) / 4, not 8 / 9"
    ones = pooling.avg_pool2d(np.ones((1, 5, 5, 1)), 3, stride=2, padding="same")
    assert_allclose(ones, 1.0, err_msg="the average of ones is 1, even at the border")


@pytest.mark.item("pooling.avg_pool1d", "pooling.max_pool1d")
def test_pool1d_hand_examples():
    x = np.array([3.0, 1, 4, 1, 5, 9, 2]).reshape(1, 7, 1)
    np.testing.assert_array_equal(pooling.max_pool1d(x)[0, :, 0], [3, 4, 9])
    np.testing.assert_array_equal(pooling.max_pool1d(x, 3, stride=2)[0, :, 0], [4, 5, 9])
    assert_allclose(pooling.avg_pool1d(x, 2)[0, :, 0], [2, 2.5, 7])
    np.testing.assert_array_equal(
        pooling.max_pool1d(x, padding="same")[0, :, 0], [3, 4, 9, 2], err_msg="ceil(7/2) = 4"
    )


@pytest.mark.item("pooling.avg_pool1d", "pooling.avg_pool2d", "pooling.max_pool2d", given=True)
def test_average_pooling_has_no_default_pool_size_like_keras():
    for func in (pooling.avg_pool1d, pooling.avg_pool2d):
        default = inspect.signature(func).parameters["pool_size"].default
        assert default is inspect.Parameter.empty, "Keras's AveragePooling has no default size"
    assert inspect.signature(pooling.max_pool2d).parameters["pool_size"].default == 2


@pytest.mark.item("pooling.avg_pool2d", "pooling.max_pool2d")
def test_max_pool_is_at_least_avg_pool():
    x = np.random.default_rng(2).normal(size=(3, 6, 7, 2))
    for padding in ("valid", "same"):
        big = pooling.max_pool2d(x, 3, stride=2, padding=padding)
        small = pooling.avg_pool2d(x, 3, stride=2, padding=padding)
        assert big.shape == small.shape
        assert (big >= small - 1e-12).all(), "the max of a window is never below its mean"


@pytest.mark.item("pooling.global_max_pool2d")
def test_global_max_pooling():
    x = np.random.default_rng(3).normal(size=(2, 4, 5, 3))
    gmax = pooling.global_max_pool2d(x)
    assert gmax.shape == (2, 3), "(N, H, W, C) -> (N, C)"
    for n in range(2):
        for c in range(3):
            assert gmax[n, c] == max(x[n, :, :, c].ravel()), "maximum over all positions"


@pytest.mark.item("pooling.global_avg_pool2d")
def test_global_average_pooling():
    x = np.random.default_rng(3).normal(size=(2, 4, 5, 3))
    gavg = pooling.global_avg_pool2d(x)
    assert gavg.shape == (2, 3), "(N, H, W, C) -> (N, C)"
    for n in range(2):
        for c in range(3):
            assert gavg[n, c] == pytest.approx(sum(x[n, :, :, c].ravel()) / 20)


@pytest.mark.item("pooling.avg_pool2d", "pooling.max_pool2d")
def test_pooling_does_not_modify_its_input():
    x = np.random.default_rng(4).normal(size=(1, 5, 5, 2))
    copy = x.copy()
    pooling.max_pool2d(x, 2, padding="same")
    pooling.avg_pool2d(x, 2, padding="same")
    np.testing.assert_array_equal(x, copy, err_msg="never write into the caller's array")


@pytest.mark.item("pooling.avg_pool2d", "pooling.max_pool2d", given=True)
def test_invalid_arguments_raise_value_error():
    x = np.zeros((1, 4, 4, 1))
    with pytest.raises(ValueError, match="padding"):
        pooling.max_pool2d(x, 2, padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        pooling.avg_pool2d(x, 0)
    with pytest.raises(ValueError):
        pooling.max_pool2d(x, 5)  # a 'valid' window larger than the input
