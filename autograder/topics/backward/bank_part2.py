"""Part 2's Keras bank for cnn/backward.py: what is asked, and how TensorFlow answers it.

``specs()`` is pure numpy (one seeded generator, float32-representable float64 inputs, so the
list is the same on every machine). ``compute(K, spec)`` is the live answer: ``tf.GradientTape``
on the Keras layer itself (``Conv1D``, ``Conv2D``, ``MaxPooling2D``, ``AveragePooling2D``,
``Dense``, ``Dropout``, ``CategoricalCrossentropy(from_logits=True)``) with
``output_gradients=dy``, on the CPU with TF32 off. The layers are built with
``dtype="float64"``: still Keras's own layers and TF's own gradient kernels, but without
float32's rounding in the truth (the stored values are then rounded to float32, the forward
bank's precision, at most 6e-8 relative). TensorFlow is only imported by the caller
(``oracle.keras.Keras``); this module imports none.

Max-pooling ties (measured, TF 2.21 CPU, float32 and float64 alike): a window's whole gradient
goes to its FIRST maximum in row-major order; overlapping windows add; a 'same' padding cell
never receives gradient. The tie cases below are small integers, so TF's rule decides them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle.specs import Draw as _Draw
from ...oracle.specs import Spec, f32

ITEMS = (
    "backward.conv1d_backward",
    "backward.conv2d_backward",
    "backward.max_pool2d_backward",
    "backward.avg_pool2d_backward",
    "backward.dense_backward",
    "backward.dropout_backward",
    "backward.softmax_crossentropy_backward",
)


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, tuple) else (v, v)


def out_length(n: int, k: int, s: int, padding: str, d: int = 1) -> int:
    """The forward output length (Keras's rule): 'same' ceil(n / s), 'valid' the full windows."""
    if padding == "same":
        return -(-n // s)
    return (n - (k - 1) * d - 1) // s + 1


def _conv(specs: list[Spec], draw: _Draw) -> None:
    for n, length, c_in, k, c_out, s, pad, d in [
        (2, 9, 2, 3, 3, 1, "valid", 1),
        (1, 10, 3, 3, 2, 2, "same", 1),  # even length, stride 2: pads (0, 1)
        (2, 11, 2, 3, 2, 1, "valid", 2),  # dilation
        (2, 10, 1, 4, 2, 3, "same", 1),  # stride 3, even kernel 'same'
        (1, 8, 2, 2, 3, 1, "same", 1),  # uneven 'same': the extra cell after
    ]:
        x = draw.normal((n, length, c_in))
        kernel = draw.normal((k, c_in, c_out), 1 / np.sqrt(k * c_in))
        dy = draw.normal((n, out_length(length, k, s, pad, d), c_out))
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "backward.conv1d_backward",
                f"x {x.shape}, kernel {kernel.shape}, stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (dy, x, kernel),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, **kw},
            )
        )
    for n, h, w, c_in, ks, c_out, s, pad, d in [
        (2, 7, 7, 2, (3, 3), 3, 1, "valid", 1),
        (1, 8, 8, 2, (3, 3), 2, 2, "same", 1),  # even size, stride 2: pads (0, 1)
        (2, 9, 6, 1, (3, 2), 3, (2, 1), "same", 1),  # non-square kernel, unequal strides
        (1, 10, 9, 2, (3, 3), 2, 1, "valid", 2),  # dilation
        (1, 9, 10, 1, (4, 4), 2, 1, "same", (1, 2)),  # even kernel 'same', dilation (1, 2)
        (2, 8, 7, 2, (2, 3), 2, 3, "valid", 1),  # stride 3: rows and columns no window reads
    ]:
        x = draw.normal((n, h, w, c_in))
        kernel = draw.normal((*ks, c_in, c_out), 1 / np.sqrt(ks[0] * ks[1] * c_in))
        (sh, sw), (dh, dw) = _pair(s), _pair(d)
        out = (out_length(h, ks[0], sh, pad, dh), out_length(w, ks[1], sw, pad, dw))
        dy = draw.normal((n, *out, c_out))
        kw = {"stride": s, "padding": pad, "dilation": d}
        specs.append(
            Spec(
                "backward.conv2d_backward",
                f"x {x.shape}, kernel {kernel.shape}, stride={s}, padding={pad!r}, dilation={d}",
                "call",
                (dy, x, kernel),
                kw,
                {"x.shape": x.shape, "kernel.shape": kernel.shape, **kw},
            )
        )


def _ties(draw: _Draw, shape) -> np.ndarray:
    """Small integers: most windows hold their maximum more than once."""
    return f32(draw.rng.integers(-1, 2, size=shape))


def _pooling(specs: list[Spec], draw: _Draw) -> None:
    cases = [  # (mode, x shape, pool, stride, padding, ties)
        ("max", (2, 6, 6, 2), "default", None, "valid", False),
        ("max", (1, 9, 7, 2), (3, 3), (2, 2), "same", False),
        ("max", (2, 6, 10, 1), (2, 3), (1, 2), "valid", False),
        ("max", (1, 7, 7, 2), 3, 1, "same", False),  # heavily overlapping windows
        ("max", (2, 6, 6, 2), 2, None, "valid", True),  # ties, non-overlapping
        ("max", (1, 7, 6, 2), 3, 1, "valid", True),  # ties, overlapping windows
        ("max", (2, 5, 5, 1), 2, 1, "same", True),  # ties, overlapping, 'same' padding
        ("avg", (2, 6, 6, 2), "default", None, "valid", False),
        ("avg", (1, 9, 7, 2), (3, 3), (2, 2), "same", False),
        ("avg", (2, 6, 10, 1), (2, 3), (1, 2), "valid", False),
        ("avg", (1, 7, 7, 2), 3, 1, "same", False),  # overlapping, real cells only at borders
        ("avg", (2, 6, 7, 1), 2, 1, "same", False),  # uneven 'same'
    ]
    for mode, shape, pool, stride, pad, ties in cases:
        x = _ties(draw, shape) if ties else draw.normal(shape)
        p = (2, 2) if pool == "default" else _pair(pool)
        s = p if stride is None else _pair(stride)
        out = tuple(out_length(shape[1 + i], p[i], s[i], pad) for i in range(2))
        dy = draw.normal((shape[0], *out, shape[3]))
        kw = {} if pool == "default" else {"pool_size": pool, "stride": stride, "padding": pad}
        label = f"x {shape}, " + (
            "default pool_size, stride and padding"
            if pool == "default"
            else f"pool_size={pool}, stride={stride}, padding={pad!r}"
        )
        specs.append(
            Spec(
                f"backward.{mode}_pool2d_backward",
                ("tied small integers, " if ties else "") + label,
                "call",
                (dy, x),
                kw,
                {"x.shape": shape, **kw, "ties": ties},
            )
        )


def _dense(specs: list[Spec], draw: _Draw) -> None:
    for lead, fin, units in [((3,), 5, 4), ((2, 3), 5, 4), ((1,), 6, 3), ((2, 2, 3), 4, 2)]:
        x = draw.normal((*lead, fin))
        kernel = draw.normal((fin, units), 1 / np.sqrt(fin))
        dy = draw.normal((*lead, units))
        specs.append(
            Spec(
                "backward.dense_backward",
                f"x {x.shape}, kernel {kernel.shape}",
                "call",
                (dy, x, kernel),
                {},
                {"x.shape": x.shape, "kernel.shape": kernel.shape},
            )
        )


def _dropout(specs: list[Spec], draw: _Draw) -> None:
    for shape, rate, seed in [((4, 6), 0.5, 21), ((2, 3, 5), 0.2, 22), ((3, 8), 0.75, 23)]:
        dy = draw.normal(shape)
        specs.append(
            Spec(
                "backward.dropout_backward",
                f"dy {shape}, rate={rate}, Keras's own mask",
                "call",
                (dy, None, rate),  # the mask (args[1]) is made by Keras's Dropout at build time
                {},
                {"dy.shape": shape, "rate": rate},
                {"seed": seed, "made_args": [1]},
            )
        )


def _softmax_ce(specs: list[Spec], draw: _Draw) -> None:
    def onehot(n, k):
        return f32(np.eye(k)[draw.rng.integers(0, k, n)])

    soft = draw.uniform((3, 4), 0.1, 1.0)
    soft = f32(soft / soft.sum(axis=1, keepdims=True))
    for label, y, logits in [
        ("one-hot labels", onehot(4, 5), draw.normal((4, 5), 2.0)),
        ("one-hot labels, batch 1", onehot(1, 10), draw.normal((1, 10), 2.0)),
        ("normalised soft labels", soft, draw.normal((3, 4), 2.0)),
        ("one-hot labels, large logits", onehot(5, 6), draw.normal((5, 6), 25.0)),
    ]:
        specs.append(
            Spec(
                "backward.softmax_crossentropy_backward",
                f"{label}, logits {logits.shape}",
                "call",
                (y, logits),
                {},
                {"logits.shape": logits.shape, "labels": label},
            )
        )


def specs(draw: _Draw) -> list[Spec]:
    """The backward items' bank specs (pure numpy, deterministic from ``draw``)."""
    out: list[Spec] = []
    _conv(out, draw)
    _pooling(out, draw)
    _dense(out, draw)
    _dropout(out, draw)
    _softmax_ce(out, draw)
    return out


# ----------------------------------------------------------------------------------------------
# TensorFlow's answers (K is oracle.keras.Keras: TensorFlow imported, CPU, TF32 off)
# ----------------------------------------------------------------------------------------------
F64 = "float64"


def tape(K, layer, x: np.ndarray, dy: np.ndarray, weights=None) -> list[np.ndarray]:
    """``[dx, *d(trainable weights)]`` of ``layer`` at ``x`` for the output gradient ``dy``."""
    tf = K.tf
    xv = tf.constant(np.asarray(x, dtype=np.float64))
    layer(xv)
    if weights is not None:
        layer.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    with tf.GradientTape() as g:
        g.watch(xv)
        y = layer(xv)
    if tuple(y.shape) != tuple(dy.shape):
        raise RuntimeError(f"{layer.name}: output {tuple(y.shape)}, dy {dy.shape}")
    grads = g.gradient(
        y, [xv, *layer.trainable_weights], output_gradients=tf.constant(np.asarray(dy, F64))
    )
    return [np.zeros(x.shape) if t is None else np.asarray(t.numpy(), np.float64) for t in grads]


def compute(K, spec: Spec) -> Any:
    """TF's answer to a backward spec (the dropout case also gets Keras's mask as args[1])."""
    L, tf = K.keras.layers, K.tf
    name = spec.item.split(".")[1]
    kw = spec.kwargs
    if name in ("conv1d_backward", "conv2d_backward"):
        dy, x, kernel = spec.args
        cls = L.Conv1D if name == "conv1d_backward" else L.Conv2D
        layer = cls(
            kernel.shape[-1],
            kernel.shape[:-2],
            strides=kw["stride"],
            padding=kw["padding"],
            dilation_rate=kw["dilation"],
            dtype=F64,
        )
        dx, dk, db = tape(K, layer, x, dy, [kernel, np.zeros(kernel.shape[-1])])
        return (dx, dk, db)
    if name in ("max_pool2d_backward", "avg_pool2d_backward"):
        dy, x = spec.args
        cls = L.MaxPooling2D if name.startswith("max") else L.AveragePooling2D
        if "pool_size" in kw:
            layer = cls(kw["pool_size"], strides=kw["stride"], padding=kw["padding"], dtype=F64)
        else:
            # the contract's defaults: pool 2, stride = pool, 'valid' (MaxPooling2D's own
            # defaults; AveragePooling2D has no default pool_size)
            layer = cls((2, 2), dtype=F64)
        return tape(K, layer, x, dy)[0]
    if name == "dense_backward":
        dy, x, kernel = spec.args
        layer = L.Dense(kernel.shape[1], dtype=F64)
        dx, dk, db = tape(K, layer, x, dy, [kernel, np.zeros(kernel.shape[1])])
        return (dx, dk, db)
    if name == "dropout_backward":
        dy, _, rate = spec.args
        layer = L.Dropout(rate, seed=spec.keras["seed"], dtype=F64)
        ones = tf.constant(np.ones(dy.shape))
        with tf.GradientTape() as g:
            g.watch(ones)
            y = layer(ones, training=True)
        dx = g.gradient(y, ones, output_gradients=tf.constant(np.asarray(dy, F64))).numpy()
        mask = y.numpy() != 0  # Keras's own mask: the units its Dropout kept
        spec.args = (dy, mask, rate)
        return np.asarray(dx, dtype=np.float64)
    if name == "softmax_crossentropy_backward":
        y, logits = spec.args
        zv = tf.constant(np.asarray(logits, F64))
        loss_fn = K.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=F64)
        with tf.GradientTape() as g:
            g.watch(zv)
            loss = loss_fn(tf.constant(np.asarray(y, F64)), zv)
        return np.asarray(g.gradient(loss, zv).numpy(), dtype=np.float64)
    raise KeyError(spec.item)
