"""cnn/shapes.py reference solutions against live Keras: sizes, 'same' split, counts, fields."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.keras


def _conv1d_grid():
    """Every small Conv1D configuration Keras accepts: n 1..13, k 1..5, s 1..3, d 1..3."""
    for n in range(1, 14):
        for k in range(1, 6):
            for s in range(1, 4):
                for d in range(1, 4):
                    if s > 1 and d > 1:
                        continue
                    for padding in ("valid", "same"):
                        if padding == "valid" and (k - 1) * d + 1 > n:
                            continue
                        yield n, k, s, d, padding


def test_conv_output_length_matches_conv1d_compute_output_shape(sol, keras):
    checked = 0
    for n, k, s, d, padding in _conv1d_grid():
        layer = keras.layers.Conv1D(1, k, strides=s, padding=padding, dilation_rate=d)
        expected = layer.compute_output_shape((1, n, 1))[1]
        got = sol.shapes.conv_output_length(n, k, stride=s, padding=padding, dilation=d)
        assert got == expected, f"n={n} k={k} s={s} d={d} {padding}: {got} != Keras {expected}"
        checked += 1
    assert checked > 500


@pytest.mark.parametrize("seed", range(3))
def test_conv_output_length_per_axis_matches_conv2d(sol, keras, seed):
    """Non-square kernels, strides and dilations: each axis uses its own numbers."""
    rng = np.random.default_rng(seed)
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(1, 16, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        padding = str(rng.choice(["valid", "same"]))
        if rng.random() < 0.5:
            strides, dilation = tuple(int(v) for v in rng.integers(1, 4, size=2)), (1, 1)
        else:
            strides, dilation = (1, 1), tuple(int(v) for v in rng.integers(1, 4, size=2))
        if padding == "valid" and (
            (kh - 1) * dilation[0] + 1 > h or (kw - 1) * dilation[1] + 1 > w
        ):
            padding = "same"
        layer = keras.layers.Conv2D(
            1, (kh, kw), strides=strides, padding=padding, dilation_rate=dilation
        )
        expected = layer.compute_output_shape((1, h, w, 1))[1:3]
        got = tuple(
            sol.shapes.conv_output_length(n, k, stride=s, padding=padding, dilation=d)
            for n, k, s, d in zip((h, w), (kh, kw), strides, dilation, strict=True)
        )
        assert got == tuple(expected), (h, w, kh, kw, strides, dilation, padding)


def test_valid_kernel_larger_than_input_raises_like_keras(sol, keras):
    for n, k, d in [(2, 3, 1), (4, 3, 2), (1, 2, 1)]:
        with pytest.raises(ValueError):
            keras.layers.Conv1D(1, k, dilation_rate=d).compute_output_shape((1, n, 1))
        with pytest.raises(ValueError):
            sol.shapes.conv_output_length(n, k, dilation=d)


def test_stride_with_dilation_raises_like_keras(sol, keras):
    with pytest.raises(ValueError):
        keras.layers.Conv1D(1, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError):
        sol.shapes.conv_output_length(10, 3, stride=2, dilation=2)
    with pytest.raises(ValueError):
        sol.shapes.same_padding(10, 3, stride=2, dilation=2)


def test_pool_output_length_matches_pooling_compute_output_shape(sol, keras):
    checked = 0
    for n in range(1, 14):
        for p in range(1, 5):
            for stride in (None, 1, 2, 3):
                for padding in ("valid", "same"):
                    if padding == "valid" and p > n:
                        continue
                    expected = []
                    for cls in (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D):
                        layer = cls(p, strides=stride, padding=padding)
                        expected.append(layer.compute_output_shape((1, n, 1))[1])
                    got = sol.shapes.pool_output_length(n, p, stride=stride, padding=padding)
                    assert expected[0] == expected[1]
                    assert got == expected[0], (n, p, stride, padding, got, expected[0])
                    checked += 1
    assert checked > 300


def _same_padding_probe(keras, n, k, s, d):
    """(before, after) that Keras's Conv1D 'same' really uses, read off one-hot probes.

    Sample j of the batch is the one-hot input e_j; tap a of the kernel weighs 2**a. A non-zero
    output y[j, i] = 2**a says that tap a of window i reads x[j], i.e. padded index
    i*s + a*d == before + j. Returns None when no window reads any real cell (then Keras's
    output does not depend on x and the split is unobservable). The padding after is the number
    of cells the last window reaches beyond the input.
    """
    x = np.eye(n).reshape(n, n, 1)
    layer = keras.layers.Conv1D(1, k, strides=s, padding="same", dilation_rate=d, use_bias=False)
    layer(x)
    layer.set_weights([(2.0 ** np.arange(k)).reshape(k, 1, 1)])
    y = keras.ops.convert_to_numpy(layer(x))[:, :, 0]
    befores = {i * s + int(np.log2(y[j, i])) * d - j for j, i in zip(*np.nonzero(y), strict=True)}
    if not befores:
        return None
    assert len(befores) == 1, f"inconsistent probe {befores}"
    (before,) = befores
    k_eff = (k - 1) * d + 1
    after = max((y.shape[1] - 1) * s + k_eff - before - n, 0)
    return before, after


def test_same_padding_matches_keras_one_hot_probe(sol, keras):
    rng = np.random.default_rng(7)
    cases = [(28, 3, 2, 1), (6, 4, 1, 1), (8, 3, 2, 1), (10, 4, 3, 1), (7, 3, 1, 2), (5, 2, 1, 1)]
    cases += [
        (int(rng.integers(1, 16)), int(rng.integers(1, 6)), int(s), 1)
        for s in rng.integers(1, 4, size=40)
    ]
    cases += [(int(rng.integers(1, 16)), int(rng.integers(1, 5)), 1, int(d)) for d in (2, 3) * 6]
    odd_totals = probed = 0
    for n, k, s, d in cases:
        expected = _same_padding_probe(keras, n, k, s, d)
        if expected is None:
            continue
        got = sol.shapes.same_padding(n, k, stride=s, dilation=d)
        assert got == expected, f"n={n} k={k} s={s} d={d}: {got} != Keras {expected}"
        odd_totals += (expected[1] - expected[0]) == 1
        probed += 1
    assert probed >= len(cases) - 3, "most probes must see the input"
    assert odd_totals >= 5, "the probe cases must include odd totals (extra cell after)"


@pytest.mark.parametrize("seed", range(2))
def test_conv_param_count_matches_count_params(sol, keras, seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(15):
        c_in, filters = (int(v) for v in rng.integers(1, 9, size=2))
        use_bias = bool(rng.random() < 0.7)
        k1 = int(rng.integers(1, 6))
        layer = keras.layers.Conv1D(filters, k1, use_bias=use_bias)
        layer.build((None, 10, c_in))
        assert sol.shapes.conv_param_count((k1,), c_in, filters, use_bias) == layer.count_params()
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        layer = keras.layers.Conv2D(filters, (kh, kw), use_bias=use_bias)
        layer.build((None, 10, 10, c_in))
        got = sol.shapes.conv_param_count((kh, kw), c_in, filters, use_bias)
        assert got == layer.count_params()
        layer = keras.layers.Conv2D(filters, kh, use_bias=use_bias)  # int: square kernel
        layer.build((None, 10, 10, c_in))
        assert sol.shapes.conv_param_count(kh, c_in, filters, use_bias) == layer.count_params()


def test_dense_param_count_matches_count_params(sol, keras):
    rng = np.random.default_rng(3)
    for _ in range(15):
        n_in, units = (int(v) for v in rng.integers(1, 2000, size=2))
        use_bias = bool(rng.random() < 0.7)
        layer = keras.layers.Dense(units, use_bias=use_bias)
        layer.build((None, n_in))
        assert sol.shapes.dense_param_count(n_in, units, use_bias) == layer.count_params()


def test_lecture_model_shapes_and_param_count(sol, keras):
    layers = keras.layers
    model = keras.Sequential(
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
    n = 28
    sizes = []
    for layer in model.layers[:4]:
        if isinstance(layer, layers.Conv2D):
            n = sol.shapes.conv_output_length(n, 3)
        else:
            n = sol.shapes.pool_output_length(n, 2)
        sizes.append(n)
        assert layer.output.shape[1:3] == (n, n)
    assert sizes == [26, 13, 11, 5]
    counts = [
        sol.shapes.conv_param_count(3, 1, 32),
        sol.shapes.conv_param_count(3, 32, 64),
        sol.shapes.dense_param_count(5 * 5 * 64, 10),
    ]
    keras_counts = [model.layers[i].count_params() for i in (0, 2, 6)]
    assert counts == keras_counts == [320, 18496, 16010]
    assert sum(counts) == model.count_params() == 34826


def _keras_receptive_field(keras, stack, length):
    """Support of d(output[0]) / d(input) in an all-ones Conv1D / AveragePooling1D stack."""
    import tensorflow as tf

    layers = []
    for kind, k, s in stack:
        if kind == "conv":
            layers.append(
                keras.layers.Conv1D(1, k, strides=s, use_bias=False, kernel_initializer="ones")
            )
        else:
            layers.append(keras.layers.AveragePooling1D(k, strides=s))
    model = keras.Sequential([keras.Input(shape=(length, 1)), *layers])
    x = tf.Variable(np.random.default_rng(0).random((1, length, 1)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        y = model(x)
        target = y[0, 0, 0]
    grad = tape.gradient(target, x).numpy()[0, :, 0]
    support = np.flatnonzero(grad)
    assert support[0] == 0 and np.all(np.diff(support) == 1), "support must be contiguous"
    return len(support)


def test_receptive_field_matches_keras_gradient_support(sol, keras):
    rng = np.random.default_rng(11)
    stacks = [
        [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2)],  # the lecture model
        [("conv", 1, 1)],
        [("conv", 5, 1)],
        [("pool", 3, 3), ("conv", 2, 2)],
    ]
    for _ in range(8):
        stack = []
        for _ in range(int(rng.integers(1, 5))):
            s = int(rng.integers(1, 4))
            k = int(rng.integers(s, s + 3))  # kernel >= stride: no gaps
            stack.append((str(rng.choice(["conv", "pool"])), k, s))
        stacks.append(stack)
    for stack in stacks:
        rf = sol.shapes.receptive_field([(k, s) for _, k, s in stack])
        length = rf + int(rng.integers(0, 6))
        assert rf == _keras_receptive_field(keras, stack, length), stack
    assert sol.shapes.receptive_field([]) == 1
