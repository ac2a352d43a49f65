"""cnn/backward.py reference solutions against tf.GradientTape on live Keras layers (CPU).

The layers run in float64 (``dtype="float64"``: still Keras's own layers and TF's own gradient
kernels), so the comparison is tight (scaled error <= 1e-9) and ties in max pooling are exact;
a few cases also run in Keras's default float32 with the float32 tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from _part2 import WORST, assert_matches, load_part2
from conftest import assert_close_keras

pytestmark = pytest.mark.keras

TOL = 1e-9


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


def _tape(tf, layer, x, dy, weights=None):
    """``[dx, *d(weights)]`` of ``layer`` at ``x`` for the output gradient ``dy``."""
    layer(x)
    if weights is not None:
        layer.set_weights(weights)
    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xv)
        y = layer(xv)
    assert tuple(y.shape) == dy.shape
    grads = tape.gradient(y, [xv, *layer.trainable_weights], output_gradients=tf.constant(dy))
    return [np.zeros(x.shape) if g is None else g.numpy() for g in grads]


def _conv2d_cases():
    rng = np.random.default_rng(2)
    cases = []
    for h, w in [(5, 5), (6, 6), (7, 8), (8, 5), (9, 7)]:
        for _ in range(3):
            k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
            if rng.random() < 0.7:
                s, d = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), 1
            else:
                s, d = 1, (int(rng.integers(1, 3)), 2)
            padding = str(rng.choice(["valid", "same"]))
            dd = (d, d) if isinstance(d, int) else d
            if any((kk - 1) * di + 1 > n for kk, di, n in zip(k, dd, (h, w), strict=True)):
                padding = "same"
            cases.append((h, w, k, s, d, padding, int(rng.choice([1, 3]))))
    cases += [(4, 4, (4, 4), 1, 1, "valid", 2), (6, 6, (3, 3), 2, 1, "same", 1)]  # k == n; even
    return cases


@pytest.mark.parametrize("h,w,k,s,d,padding,batch", _conv2d_cases())
def test_conv2d_backward_matches_gradient_tape(p2, keras, tf, h, w, k, s, d, padding, batch):
    rng = np.random.default_rng(h * 100 + w * 10 + batch)
    x = rng.normal(size=(batch, h, w, 2))
    kernel = rng.normal(size=(*k, 2, 3))
    bias = rng.normal(size=3)
    layer = keras.layers.Conv2D(3, k, strides=s, padding=padding, dilation_rate=d, dtype="float64")
    y = p2.conv.conv2d(x, kernel, bias, stride=s, padding=padding, dilation=d)
    dy = rng.normal(size=y.shape)
    dx, dk, db = _tape(tf, layer, x, dy, [kernel, bias])
    got = p2.backward.conv2d_backward(dy, x, kernel, stride=s, padding=padding, dilation=d)
    what = f"h={h} w={w} k={k} s={s} d={d} {padding} N={batch}"
    for name, ours, theirs in zip(("dx", "dkernel", "dbias"), got, (dx, dk, db), strict=True):
        assert_matches(f"conv2d_backward.{name}", ours, theirs, TOL, what)


def _conv1d_cases():
    rng = np.random.default_rng(1)
    cases = []
    for n in (5, 6, 7, 8, 11):
        for _ in range(3):
            k = int(rng.integers(1, 5))
            s, d = (
                (int(rng.integers(1, 4)), 1) if rng.random() < 0.7 else (1, int(rng.integers(2, 4)))
            )
            padding = str(rng.choice(["valid", "same"]))
            if (k - 1) * d + 1 > n:
                padding = "same"
            cases.append((n, k, s, d, padding, int(rng.choice([1, 2]))))
    return cases


@pytest.mark.parametrize("n,k,s,d,padding,batch", _conv1d_cases())
def test_conv1d_backward_matches_gradient_tape(p2, keras, tf, n, k, s, d, padding, batch):
    rng = np.random.default_rng(n * 100 + k * 10 + s)
    x = rng.normal(size=(batch, n, 3))
    kernel = rng.normal(size=(k, 3, 2))
    bias = rng.normal(size=2)
    layer = keras.layers.Conv1D(2, k, strides=s, padding=padding, dilation_rate=d, dtype="float64")
    y = p2.conv.conv1d(x, kernel, bias, stride=s, padding=padding, dilation=d)
    dy = rng.normal(size=y.shape)
    expected = _tape(tf, layer, x, dy, [kernel, bias])
    got = p2.backward.conv1d_backward(dy, x, kernel, stride=s, padding=padding, dilation=d)
    what = f"n={n} k={k} s={s} d={d} {padding} N={batch}"
    for name, ours, theirs in zip(("dx", "dkernel", "dbias"), got, expected, strict=True):
        assert_matches(f"conv1d_backward.{name}", ours, theirs, TOL, what)


def _pool_cases():
    rng = np.random.default_rng(3)
    sizes = [1, 2, 3, (2, 3), 4]
    strides = [None, 1, 2, 3, (1, 2)]
    cases = []
    for h, w in [(4, 4), (5, 5), (6, 7), (7, 6), (9, 8)]:
        for _ in range(3):
            p = sizes[int(rng.integers(0, len(sizes)))]
            s = strides[int(rng.integers(0, len(strides)))]
            pp = (p, p) if isinstance(p, int) else p
            padding = str(rng.choice(["valid", "same"]))
            if pp[0] > h or pp[1] > w:
                padding = "same"
            cases.append((h, w, p, s, padding))
    cases += [(13, 13, 2, None, "valid"), (11, 11, 2, None, "valid"), (5, 5, 3, 1, "same")]
    return cases


def test_the_random_cases_cover_every_feature():
    """Fewer random cases than before, still every stride 1-3, dilation, both paddings, odd and
    even sizes and kernels, batch 1 and larger, pools of 1-4 and overlapping windows."""
    conv2 = _conv2d_cases()
    assert {1, 2, 3} <= {v for c in conv2 for v in np.ravel(c[3])}
    assert any(np.max(c[4]) > 1 for c in conv2) and {c[5] for c in conv2} == {"valid", "same"}
    assert {1, 3} <= {c[6] for c in conv2} and {c[0] % 2 for c in conv2} == {0, 1}
    assert {k % 2 for c in conv2 for k in c[2]} == {0, 1}
    conv1 = _conv1d_cases()
    assert {1, 2, 3} <= {c[2] for c in conv1} and any(c[3] > 1 for c in conv1)
    assert {c[4] for c in conv1} == {"valid", "same"} and {c[5] for c in conv1} == {1, 2}
    pools = _pool_cases()
    assert {c[4] for c in pools} == {"valid", "same"}
    overlapping = [c for c in pools if c[3] is not None and np.min(c[3]) < np.max(c[2])]
    assert overlapping and {1, 2, 3, 4} <= {v for c in pools for v in np.ravel(c[2])}


@pytest.mark.parametrize("h,w,p,s,padding", _pool_cases())
def test_max_pool2d_backward_matches_gradient_tape(p2, keras, tf, h, w, p, s, padding):
    """Distinct values, then small integers (most windows hold their maximum more than once),
    through the same Keras layer."""
    rng = np.random.default_rng(h * 10 + w)
    layer = keras.layers.MaxPooling2D(p, strides=s, padding=padding, dtype="float64")
    for ties in (False, True):
        x = (
            rng.integers(-1, 2, size=(2, h, w, 3)).astype(float)
            if ties
            else rng.normal(size=(2, h, w, 3))
        )
        y = p2.pooling.max_pool2d(x, p, stride=s, padding=padding)
        dy = rng.normal(size=y.shape)
        (dx,) = _tape(tf, layer, x, dy)
        got = p2.backward.max_pool2d_backward(dy, x, p, stride=s, padding=padding)
        what = f"h={h} w={w} p={p} s={s} {padding} ties={ties}"
        assert_matches("max_pool2d_backward", got, dx, TOL, what)


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order(p2, keras, tf):
    """The contract's example, and every placement of a tie in a 2x2 and a 3x3 window."""
    for size in (2, 3):
        cells = size * size
        for first in range(cells):
            for second in range(first + 1, cells):
                x = np.zeros((1, size, size, 1))
                x.flat[first] = x.flat[second] = 5.0
                layer = keras.layers.MaxPooling2D(size, dtype="float64")
                (dx,) = _tape(tf, layer, x, np.ones((1, 1, 1, 1)))
                expected = np.zeros(cells)
                expected[first] = 1.0
                np.testing.assert_array_equal(dx.ravel(), expected)  # TF: the first one
                got = p2.backward.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, size)
                np.testing.assert_array_equal(got.ravel(), expected)
    x = np.array([[1.0, 3.0], [3.0, 0.0]]).reshape(1, 2, 2, 1)
    got = p2.backward.max_pool2d_backward(np.ones((1, 1, 1, 1)), x)
    np.testing.assert_array_equal(got.reshape(2, 2), [[0, 1], [0, 0]])


@pytest.mark.parametrize("h,w,p,s,padding", _pool_cases())
def test_avg_pool2d_backward_matches_gradient_tape(p2, keras, tf, h, w, p, s, padding):
    rng = np.random.default_rng(h * 10 + w + 1)
    x = rng.normal(size=(2, h, w, 3))
    layer = keras.layers.AveragePooling2D(p, strides=s, padding=padding, dtype="float64")
    y = p2.pooling.avg_pool2d(x, p, stride=s, padding=padding)
    dy = rng.normal(size=y.shape)
    (dx,) = _tape(tf, layer, x, dy)
    got = p2.backward.avg_pool2d_backward(dy, x, p, stride=s, padding=padding)
    assert_matches("avg_pool2d_backward", got, dx, TOL, f"h={h} w={w} p={p} s={s} {padding}")


@pytest.mark.parametrize("shape", [(1, 5), (7, 5), (2, 3, 5), (2, 2, 3, 5)])
def test_dense_backward_matches_gradient_tape(p2, keras, tf, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape)
    kernel, bias = rng.normal(size=(5, 4)), rng.normal(size=4)
    dy = rng.normal(size=(*shape[:-1], 4))
    expected = _tape(tf, keras.layers.Dense(4, dtype="float64"), x, dy, [kernel, bias])
    got = p2.backward.dense_backward(dy, x, kernel)
    for name, ours, theirs in zip(("dx", "dkernel", "dbias"), got, expected, strict=True):
        assert_matches(f"dense_backward.{name}", ours, theirs, TOL, str(shape))


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9])
def test_dropout_backward_matches_gradient_tape(p2, tf, rate):
    rng = np.random.default_rng(int(rate * 100))
    x, dy = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 5))
    mask = rng.random(x.shape) >= rate
    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xv)
        y = xv * tf.constant(mask.astype(np.float64)) / (1.0 - rate)
    expected = tape.gradient(y, xv, output_gradients=tf.constant(dy)).numpy()
    assert_matches("dropout_backward", p2.backward.dropout_backward(dy, mask, rate), expected, TOL)
    # a 0/1 float mask means the same
    got = p2.backward.dropout_backward(dy, mask.astype(float), rate)
    assert_matches("dropout_backward", got, expected, TOL)


@pytest.mark.parametrize("labels", ["one-hot", "soft", "extreme"])
@pytest.mark.parametrize("batch", [1, 6])
def test_softmax_crossentropy_backward_matches_gradient_tape(p2, keras, tf, labels, batch):
    rng = np.random.default_rng(batch)
    logits = rng.normal(scale=3.0, size=(batch, 10))
    if labels == "extreme":
        logits[:, 0] += 60.0  # a softmax that underflows: the fused gradient stays finite
    y = np.eye(10)[rng.integers(0, 10, size=batch)]
    if labels == "soft":
        y = rng.random((batch, 10))  # soft labels, unnormalised: TF still returns softmax - y
    zv = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(zv)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")(
            tf.constant(y), zv
        )
    expected = tape.gradient(loss, zv).numpy()
    got = p2.backward.softmax_crossentropy_backward(y, logits)
    assert np.isfinite(got).all()
    assert_matches("softmax_crossentropy_backward", got, expected, TOL, f"{labels} N={batch}")


def test_float32_layers_agree_within_the_float32_tolerance(p2, keras, tf):
    """Keras's default dtype: the same gradients within keras-semantics §12's tolerance."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 9, 8, 2))
    kernel, bias = rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4)
    y = p2.conv.conv2d(x, kernel, bias, stride=2, padding="same")
    dy = rng.normal(size=y.shape)
    layer = keras.layers.Conv2D(4, 3, strides=2, padding="same")
    expected = _tape(tf, layer, x.astype(np.float32), dy.astype(np.float32), [kernel, bias])
    got = p2.backward.conv2d_backward(dy, x, kernel, stride=2, padding="same")
    for ours, theirs in zip(got, expected, strict=True):
        assert_close_keras(ours, theirs, "conv2d_backward float32")
    y = p2.pooling.max_pool2d(x, 3, stride=2, padding="same")
    dy = rng.normal(size=y.shape)
    layer = keras.layers.MaxPooling2D(3, strides=2, padding="same")
    (dx,) = _tape(tf, layer, x.astype(np.float32), dy.astype(np.float32))
    got = p2.backward.max_pool2d_backward(dy, x.astype(np.float32), 3, stride=2, padding="same")
    assert_close_keras(got, dx, "max_pool2d_backward float32")
