"""Compute the Keras bank with real Keras (``grade oracle build``) and re-check it (``verify``).

This is the only module of the kit that imports TensorFlow/Keras, and only inside functions.
The bank is built on the CPU: ``CUDA_VISIBLE_DEVICES=-1`` is set before TensorFlow is imported
and every computation runs under ``tf.device('/CPU:0')`` with TF32 disabled. On a GPU with the
framework defaults (TF32) float32 convolutions and matmuls are about 3e-4 off relative to the
largest output, 29x the float32 grading tolerance (keras-semantics.md §13), and such a bank would
fail correct students. CPU results are reproducible on one machine (§12), but not bitwise across
CPUs: oneDNN and Eigen choose kernels (and so summation orders) by the instruction set, and on
another x86-64 CPU convolutions, matmuls and softmax came out up to 4 float32 ulps apart. So
``verify_bank`` accepts a recomputed float value within ``REPRO_RTOL`` of the largest stored value
(a few float32 ulps, 10x inside the grading tolerance of §12) and reports how many cases were
bitwise equal; anything larger, and any difference in a non-float value, is a problem.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import backward as _backward
from . import model_part2 as _model_part2
from .bank import BANK_FILES, DATA_DIR, FORMAT, decode_value
from .specs import PART2_SEED, PARTS, PREDICT_BATCH_SIZE, SEED, Spec, bank_specs, part_items

ES_FIT_BATCH_SIZE = 4  # the dummy fit that drives EarlyStopping: 4 samples, one step per epoch
RECEPTIVE_FIELD_LENGTH = 40  # input length of the receptive-field probe stacks

# Inputs the build adds to a spec's kwargs (made by Keras, e.g. Dropout's mask).
KERAS_MADE_INPUTS = {"regularization.dropout": ("mask",)}


# ----------------------------------------------------------------------------------------------
# Keras, on the CPU
# ----------------------------------------------------------------------------------------------
class _Keras:
    """TensorFlow + Keras, imported on first use, forced onto the CPU with TF32 off."""

    def __init__(self) -> None:
        if "tensorflow" not in sys.modules:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                f"the bank is built with the TensorFlow backend, not "
                f"{keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)"
            )
        tf.config.experimental.enable_tensor_float_32_execution(False)
        keras.config.set_floatx("float32")
        keras.config.set_epsilon(1e-7)
        self.tf = tf
        self.keras = keras
        self.device = "/CPU:0"

    def f32(self, x: np.ndarray):
        return self.tf.constant(np.asarray(x, dtype=np.float32))

    @staticmethod
    def np64(t) -> np.ndarray:
        return np.asarray(t, dtype=np.float32).astype(np.float64)

    def out(self, t) -> np.ndarray:
        return self.np64(t.numpy() if hasattr(t, "numpy") else self.keras.ops.convert_to_numpy(t))

    def run_layer(self, layer, x: np.ndarray, weights=None, **call_kwargs) -> np.ndarray:
        xt = self.f32(x)
        if weights is not None:
            layer(xt)
            layer.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
        return self.out(layer(xt, **call_kwargs))

    def provenance(self) -> dict:
        tf, keras = self.tf, self.keras
        gpus = tf.config.list_logical_devices("GPU")
        return {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu": _cpu_model(),
            "device": "CPU",
            "device_name": self.device,
            "gpus_visible": [d.name for d in gpus],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "tf32_enabled": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
            "backend": keras.backend.backend(),
            "dtype": keras.config.floatx(),
            "floatx": keras.config.floatx(),
            "epsilon": keras.config.epsilon(),
            "batch_sizes": {
                "model.lecture_model_forward": PREDICT_BATCH_SIZE,
                "regularization.EarlyStopping": ES_FIT_BATCH_SIZE,
                "training.minibatch_indices": "the case's batch_size",
                "layers": "the whole input in one call",
            },
            "seed": SEED,
        }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------------------------
# One function per item: spec -> (args, kwargs, expected), all computed by Keras
# ----------------------------------------------------------------------------------------------
def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _shapes(K: _Keras, spec: Spec) -> Any:
    L = K.keras.layers
    a, kw = spec.args, spec.kwargs
    name = spec.item.split(".")[1]
    if name == "conv_output_length":
        n, k = a
        layer = L.Conv1D(
            1, k, strides=kw["stride"], padding=kw["padding"], dilation_rate=kw["dilation"]
        )
        return int(layer.compute_output_shape((1, n, 1))[1])
    if name == "same_padding":
        return _same_padding_probe(K, *a, kw["stride"], kw["dilation"])
    if name == "pool_output_length":
        n, p = a
        layer = L.MaxPooling1D(p, strides=kw["stride"], padding=kw["padding"])
        return int(layer.compute_output_shape((1, n, 1))[1])
    if name == "conv_param_count":
        k, c_in, filters = a
        if isinstance(k, tuple) and len(k) == 1:
            layer = L.Conv1D(filters, k, use_bias=kw["use_bias"])
            layer.build((None, 12, c_in))
        else:
            layer = L.Conv2D(filters, k, use_bias=kw["use_bias"])
            layer.build((None, 12, 12, c_in))
        return int(layer.count_params())
    if name == "dense_param_count":
        n_in, units = a
        layer = L.Dense(units, use_bias=kw["use_bias"])
        layer.build((None, n_in))
        return int(layer.count_params())
    if name == "receptive_field":
        return _receptive_field(K, a[0], spec.keras["kinds"])
    raise KeyError(spec.item)


def _same_padding_probe(K: _Keras, n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """(before, after) that Conv1D 'same' really uses, read off one-hot probes.

    Sample j is the one-hot input e_j; kernel tap a weighs 2**a. A non-zero output
    y[j, i] = 2**a says tap a of window i reads x[j]: i*s + a*d == before + j.
    """
    x = np.eye(n).reshape(n, n, 1)
    layer = K.keras.layers.Conv1D(1, k, strides=s, padding="same", dilation_rate=d, use_bias=False)
    y = K.run_layer(layer, x, [(2.0 ** np.arange(k)).reshape(k, 1, 1)])[:, :, 0]
    befores = {i * s + int(np.log2(y[j, i])) * d - j for j, i in zip(*np.nonzero(y), strict=True)}
    if len(befores) != 1:
        raise RuntimeError(f"same_padding probe n={n} k={k} s={s} d={d} is inconclusive: {befores}")
    (before,) = befores
    k_eff = (k - 1) * d + 1
    after = max((y.shape[1] - 1) * s + k_eff - before - n, 0)
    return (int(before), int(after))


def _receptive_field(K: _Keras, layers, kinds) -> int:
    """Support of d(output[0]) / d(input) in an all-ones Conv1D / AveragePooling1D stack."""
    tf, keras = K.tf, K.keras
    stack = []
    for (k, s), kind in zip(layers, kinds, strict=True):
        if kind == "conv":
            stack.append(
                keras.layers.Conv1D(1, k, strides=s, use_bias=False, kernel_initializer="ones")
            )
        else:
            stack.append(keras.layers.AveragePooling1D(k, strides=s))
    model = keras.Sequential([keras.Input(shape=(RECEPTIVE_FIELD_LENGTH, 1)), *stack])
    x = tf.Variable(
        np.random.default_rng(0).random((1, RECEPTIVE_FIELD_LENGTH, 1)), dtype=tf.float32
    )
    with tf.GradientTape() as tape:
        target = model(x)[0, 0, 0]
    grad = tape.gradient(target, x).numpy()[0, :, 0]
    support = np.flatnonzero(grad)
    if not (
        support[0] == 0
        and np.all(np.diff(support) == 1)
        and support[-1] < RECEPTIVE_FIELD_LENGTH - 1
    ):
        raise RuntimeError(
            f"receptive-field probe {layers}: support {support} is not a "
            "contiguous run starting at 0 inside the input"
        )
    return int(len(support))


def _conv(K: _Keras, spec: Spec) -> Any:
    L = K.keras.layers
    name = spec.item.split(".")[1]
    if name == "pad2d":
        x, pads = spec.args
        return K.run_layer(L.ZeroPadding2D(padding=pads), x)
    x, kernel, bias = spec.args
    kw = spec.kwargs
    cls = L.Conv1D if name == "conv1d" else L.Conv2D
    layer = cls(
        kernel.shape[-1],
        kernel.shape[:-2],
        strides=kw["stride"],
        padding=kw["padding"],
        dilation_rate=kw["dilation"],
        use_bias=bias is not None,
    )
    return K.run_layer(layer, x, [kernel] if bias is None else [kernel, bias])


def _pooling(K: _Keras, spec: Spec) -> Any:
    L = K.keras.layers
    name = spec.item.split(".")[1]
    classes = {
        "max_pool1d": L.MaxPooling1D,
        "avg_pool1d": L.AveragePooling1D,
        "max_pool2d": L.MaxPooling2D,
        "avg_pool2d": L.AveragePooling2D,
        "global_max_pool2d": L.GlobalMaxPooling2D,
        "global_avg_pool2d": L.GlobalAveragePooling2D,
    }
    x = spec.args[0]
    if name.startswith("global") or len(spec.args) == 1:
        layer = classes[name]()  # the Keras defaults (MaxPooling1D: pool 2, stride = pool)
    else:
        layer = classes[name](
            spec.args[1], strides=spec.kwargs["stride"], padding=spec.kwargs["padding"]
        )
    return K.run_layer(layer, x)


def _activations(K: _Keras, spec: Spec) -> Any:
    tf, act = K.tf, K.keras.activations
    name = spec.item.split(".")[1]
    base = name.removesuffix("_grad")
    if base == "leaky_relu":

        def fn(t):
            return act.leaky_relu(t, **spec.kwargs)  # no kwarg: Keras's own default (0.2)
    elif base == "softmax":

        def fn(t):
            return act.softmax(t, **spec.kwargs)
    else:
        fn = getattr(act, base)
    x = K.f32(spec.args[0])
    if not name.endswith("_grad"):
        return K.out(fn(x))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return K.out(tape.gradient(y, x))


def _optimizers(K: _Keras, spec: Spec) -> Any:
    keras = K.keras
    params, grads = spec.args
    opt = getattr(keras.optimizers, spec.item.split(".")[1])(**spec.kwargs)
    variables = [keras.Variable(np.asarray(p, dtype=np.float32)) for p in params]
    trajectory: list[list[np.ndarray]] = [[] for _ in params]
    iterations = []
    for step in grads:
        opt.apply_gradients(zip([K.f32(g) for g in step], variables, strict=True))
        for k, v in enumerate(variables):
            trajectory[k].append(K.out(v.value))
        iterations.append(int(opt.iterations.value.numpy()))  # not np.array(Variable): deprecated
    return {"params": [np.stack(t) for t in trajectory], "iterations": iterations}


def _regularization(K: _Keras, spec: Spec) -> Any:
    tf, keras = K.tf, K.keras
    name = spec.item.split(".")[1]
    if name == "dropout":
        x, rate = spec.args
        training = spec.kwargs["training"]
        if not training:
            return K.run_layer(keras.layers.Dropout(rate), x, training=False)
        layer = keras.layers.Dropout(rate, seed=spec.keras["seed"])
        y = K.run_layer(layer, x, training=True)
        spec.kwargs["mask"] = y != 0  # Keras's own mask (x has no zeros)
        return y
    if name in ("l2_penalty", "l2_grad"):
        reg = keras.regularizers.L2(**spec.kwargs)
        if name == "l2_penalty":
            ws = spec.args[0] if isinstance(spec.args[0], list) else [spec.args[0]]
            return float(K.out(tf.add_n([reg(K.f32(w)) for w in ws])))
        w = K.f32(spec.args[0])
        with tf.GradientTape() as tape:
            tape.watch(w)
            penalty = reg(w)
        return K.out(tape.gradient(penalty, w))
    if name == "EarlyStopping":
        return _early_stopping(K, spec)
    raise KeyError(spec.item)


def _early_stopping(K: _Keras, spec: Spec) -> dict:
    """A real ``model.fit``; a callback before EarlyStopping injects the scripted metric and
    stamps the weights with ``epoch + 1``, so the restored weights tell which epoch won."""
    keras = K.keras
    values, monitor = spec.args

    class Script(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            logs[monitor] = values[epoch]
            self.model.set_weights([np.full((1, 2), epoch + 1.0, dtype=np.float32)])

    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=["accuracy"])
    script = Script()
    es = keras.callbacks.EarlyStopping(**spec.kwargs)
    model.fit(
        np.zeros((ES_FIT_BATCH_SIZE, 1), np.float32),
        np.zeros((ES_FIT_BATCH_SIZE, 2), np.float32),
        batch_size=ES_FIT_BATCH_SIZE,
        epochs=len(values),
        shuffle=False,
        verbose=0,
        callbacks=[script, es],
    )
    restored = None
    if es.restore_best_weights and es.best_weights is not None:
        restored = float(model.get_weights()[0].ravel()[0])
    return {
        "epochs_run": int(script.epochs),
        "stopped_epoch": int(es.stopped_epoch),
        "best": None if es.best is None else float(es.best),
        "best_epoch": int(es.best_epoch),
        "wait": int(es.wait),
        "restored": restored,
    }


def _training(K: _Keras, spec: Spec) -> Any:
    keras = K.keras
    name = spec.item.split(".")[1]
    if name == "minibatch_indices":
        return _fit_batches(K, *spec.args)
    if name == "categorical_crossentropy":
        y, p = (np.asarray(a, dtype=np.float32) for a in spec.args)  # numpy: Keras clips
        return K.out(keras.losses.categorical_crossentropy(y, p, **spec.kwargs))
    if name == "flatten":
        return K.run_layer(keras.layers.Flatten(), spec.args[0])
    if name == "dense":
        x, kernel, bias = spec.args
        layer = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None)
        return K.run_layer(layer, x, [kernel] if bias is None else [kernel, bias])
    raise KeyError(spec.item)


def _fit_batches(K: _Keras, n: int, batch_size: int) -> list[np.ndarray]:
    """The sample indices of every step of one ``fit(shuffle=False)`` epoch."""
    keras = K.keras
    seen: list[np.ndarray] = []

    class Recorder(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x = data[0]
            seen.append(np.asarray(x)[:, 0].round().astype(np.int64))
            return {"steps": K.tf.constant(float(len(seen)))}

    model = Recorder()
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    model.fit(
        x, np.zeros((n, 1), np.float32), batch_size=batch_size, epochs=1, shuffle=False, verbose=0
    )
    return seen


def _model(K: _Keras, spec: Spec) -> Any:
    keras = K.keras
    L = keras.layers
    x, weights = spec.args
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    return K.np64(
        model.predict(np.asarray(x, dtype=np.float32), batch_size=PREDICT_BATCH_SIZE, verbose=0)
    )


_BY_MODULE = {
    "shapes": _shapes,
    "conv": _conv,
    "pooling": _pooling,
    "activations": _activations,
    "optimizers": _optimizers,
    "regularization": _regularization,
    "training": _training,
    "model": _model,
}


# Part 2's items: their own files (specs and TF's answers together).
_BY_ITEM = {item: _backward.compute for item in _backward.ITEMS} | {
    item: _model_part2.compute for item in _model_part2.ITEMS
}


def compute(K: _Keras, spec: Spec) -> Any:
    """Keras's answer to ``spec`` (may add Keras-made inputs to ``spec.kwargs``/``args``)."""
    with K.tf.device(K.device):
        if spec.item in _BY_ITEM:
            return _round32(_BY_ITEM[spec.item](K, spec))
        return _BY_MODULE[spec.item.split(".")[0]](K, spec)


def _round32(value: Any) -> Any:
    """Part 2's float64 answers rounded to float32 values (the forward bank's precision)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32).astype(np.float64)
    if isinstance(value, float):
        return float(np.float32(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_round32(v) for v in value)
    if isinstance(value, dict):
        return {k: _round32(v) for k, v in value.items()}
    return value


# ----------------------------------------------------------------------------------------------
# Storage: bank.json (structure) + bank.npz (every array, deduplicated, no pickles)
# ----------------------------------------------------------------------------------------------
class _Arrays:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.by_hash: dict[str, str] = {}

    def add(self, a: np.ndarray) -> str:
        a = np.ascontiguousarray(a)
        if a.dtype.kind == "f":
            a = a.astype(np.float64)
        digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
        if digest not in self.by_hash:
            key = f"a{len(self.arrays)}"
            self.arrays[key] = a
            self.by_hash[digest] = key
        return self.by_hash[digest]


def encode_value(value: Any, store: _Arrays) -> Any:
    """JSON form: arrays as {"$array": key}, tuples as {"$tuple": [...]}, dicts as
    {"$dict": [[key, value], ...]}; lists, numbers, strings, None as themselves."""
    if isinstance(value, np.ndarray):
        return {"$array": store.add(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v, store) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, store) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[str(k), encode_value(v, store)] for k, v in value.items()]}
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the bank")


def _plain(value: Any) -> Any:
    """Display form of ``params`` (tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _record(K: _Keras, spec: Spec, store: _Arrays) -> dict:
    expected = compute(K, spec)
    return {
        "item": spec.item,
        "name": spec.name,
        "program": spec.program,
        "target": spec.target,
        "args": encode_value(tuple(spec.args), store),
        "kwargs": encode_value(dict(spec.kwargs), store),
        "keras_inputs": list(KERAS_MADE_INPUTS.get(spec.item, ())),
        "keras_args": list(spec.keras.get("made_args", ())),
        "expected": encode_value(expected, store),
        "exact": spec.item == "training.minibatch_indices",
        "params": _plain(spec.params),
        "build": _plain(spec.keras),
    }


def _part_provenance(K: _Keras, part: str) -> dict:
    provenance = K.provenance()
    if part == "backward":
        provenance.update(
            {
                "dtype": "float64",
                "floatx": "float64",
                "precision": "every layer built with dtype='float64' (floatx float64 during "
                "model.fit, so the optimizers' variables are float64); answers stored rounded "
                "to float32, at most 6e-8 relative",
                "batch_sizes": {
                    "model.train_lecture_model": "the case's batch_size (model.fit, "
                    "shuffle=False, Dropout(0.0) for training=False)",
                    "layers": "the whole input in one call",
                },
                "gradients": "tf.GradientTape, output_gradients=dy (layers); the loss itself "
                "(softmax + cross-entropy, the lecture model)",
                "seed": PART2_SEED,
            }
        )
    return provenance


def build_bank(out_dir: Path | None = None, parts: tuple[str, ...] = PARTS) -> Path:
    """Compute every spec with real Keras (CPU, TF32 off) and write each part's bank file
    (forward: bank.json + bank.npz, backward: bank_backward.json + .npz).

    Returns the path of the last file written.
    """
    K = _Keras()
    out_dir = Path(out_dir) if out_dir is not None else DATA_DIR
    for part in parts:
        json_path = _build_part(K, out_dir, part)
    return json_path


def _build_part(K: _Keras, out_dir: Path, part: str) -> Path:
    started = time.perf_counter()
    store = _Arrays()
    specs = bank_specs(part)
    cases = [_record(K, spec, store) for spec in specs]
    counts = {item: sum(c["item"] == item for c in cases) for item in part_items(part)}
    provenance = _part_provenance(K, part)
    provenance.update(
        {
            "build_date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 1),
            "n_cases": len(cases),
            "cases_per_item": counts,
            "array_storage": "bank.npz, float arrays as float64 copies of Keras's float32 values",
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / BANK_FILES[part]
    npz_path = json_path.with_suffix(".npz")
    np.savez_compressed(npz_path, **store.arrays)  # plain numeric arrays: no pickles
    doc = {"format": FORMAT, "provenance": provenance, "cases": cases}
    json_path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return json_path


# ----------------------------------------------------------------------------------------------
# Verify: recompute with live Keras, compare within float32 rounding
# ----------------------------------------------------------------------------------------------
# A recomputed float may differ from the stored one by this much relative to the largest stored
# value: 8 float32 ulps (eps32 = 1.19e-7), a tenth of the grading tolerance's 1e-5.
REPRO_RTOL = 8 * float(np.finfo(np.float32).eps)


def _differences(
    got: Any, want: Any, where: str, out: list[str], rounding: list[float] | None = None
) -> None:
    """Append to ``out`` every difference between ``got`` and ``want`` beyond float32 rounding.

    Float differences within :data:`REPRO_RTOL` are not problems; their relative size is
    appended to ``rounding`` (when given) so the caller can say how close the reproduction was.
    """
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != want.shape or got.dtype != want.dtype:
            out.append(
                f"{where}: recomputed {type(got).__name__} "
                f"{getattr(got, 'shape', '')} {getattr(got, 'dtype', '')}, stored "
                f"{want.shape} {want.dtype}"
            )
        elif not np.array_equal(got, want, equal_nan=True):
            if want.dtype.kind == "f":
                if not np.array_equal(np.isnan(got), np.isnan(want)):
                    out.append(f"{where}: NaN in different places")
                    return
                diff = float(np.nanmax(np.abs(got - want)))
                scale = float(np.nanmax(np.abs(want))) if want.size else 0.0
                if diff <= REPRO_RTOL * max(scale, 1e-30):
                    if rounding is not None:
                        rounding.append(diff / max(scale, 1e-30))
                    return
                out.append(
                    f"{where}: max |diff| {diff:.3g} is more than float32 rounding "
                    f"({REPRO_RTOL:.2g} x max |stored| {scale:.3g})"
                )
            else:
                out.append(f"{where}: {int(np.sum(got != want))} of {want.size} values differ")
        return
    if isinstance(want, (list, tuple)):
        if type(got) is not type(want) or len(got) != len(want):
            out.append(f"{where}: recomputed {got!r:.80}, stored {want!r:.80}")
            return
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _differences(g, w, f"{where}[{i}]", out, rounding)
        return
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            out.append(
                f"{where}: recomputed keys {sorted(got) if isinstance(got, dict) else got},"
                f" stored {sorted(want)}"
            )
            return
        for k in want:
            _differences(got[k], want[k], f"{where}.{k}", out, rounding)
        return
    if isinstance(got, float) and isinstance(want, float) and got != want:
        if abs(got - want) <= REPRO_RTOL * max(abs(want), 1e-30):
            if rounding is not None:
                rounding.append(abs(got - want) / max(abs(want), 1e-30))
            return
    if type(got) is not type(want) or got != want:
        extra = ""
        if isinstance(got, float) and isinstance(want, float):
            extra = f" (diff {abs(got - want):.3g})"
        out.append(f"{where}: recomputed {got!r}, stored {want!r}{extra}")


def verify_bank(
    path: Path | None = None, rounding: list[float] | None = None, parts: tuple[str, ...] = PARTS
) -> list[str]:
    """Recompute every bank case of ``parts`` with live Keras; the problems found (empty: all
    reproduced). ``path``: a folder holding the parts' bank files (default: the kit's own).

    Checks that the stored inputs are still those of :func:`bank_specs` (bitwise), that Keras-made
    inputs (the dropout masks) and every expected value are reproduced within float32 rounding
    (:data:`REPRO_RTOL`), and that the bank was built on the CPU. When ``rounding`` is given, one
    entry per case that was not bitwise equal is appended: its largest relative difference.
    """
    K = _Keras()
    folder = DATA_DIR if path is None else Path(path)
    problems: list[str] = []
    for part in parts:
        problems += _verify_part(K, folder / BANK_FILES[part], part, rounding)
    return problems


def _verify_part(K: _Keras, path: Path, part: str, rounding: list[float] | None) -> list[str]:
    from .bank import _read

    doc, arrays = _read(path)
    problems: list[str] = []
    prov = doc.get("provenance", {})
    if prov.get("device") != "CPU" or prov.get("tf32_enabled") is not False:
        problems.append(
            f"provenance: built on {prov.get('device')!r} with TF32 "
            f"{prov.get('tf32_enabled')!r}; the bank must be built on the CPU"
        )
    specs = bank_specs(part)
    stored = doc["cases"]
    if len(specs) != len(stored):
        problems.append(
            f"the bank has {len(stored)} cases, bank_specs() gives {len(specs)}: rebuild it"
        )
    for i, (spec, case) in enumerate(zip(specs, stored, strict=False)):
        label = f"case {i} ({case['item']}: {case['name']})"
        if (spec.item, spec.name, spec.program) != (case["item"], case["name"], case["program"]):
            problems.append(f"{label}: bank_specs() now has {spec.item}: {spec.name}; rebuild")
            continue
        kwargs = decode_value(case["kwargs"], arrays)
        made = {k: kwargs.pop(k) for k in case.get("keras_inputs", []) if k in kwargs}
        args = list(decode_value(case["args"], arrays))
        made_args = {i: args[i] for i in case.get("keras_args", [])}
        for i in made_args:
            args[i] = spec.args[i]  # made by Keras below, compared after it
        inputs: list[str] = []
        _differences(
            (tuple(spec.args), dict(spec.kwargs)),
            (tuple(args), kwargs),
            "inputs",
            inputs,
        )
        problems += [f"{label}: {p} (the stored inputs are not bank_specs()')" for p in inputs]
        expected = compute(K, spec)
        found: list[str] = []
        near: list[float] = []
        for key, value in made.items():
            _differences(spec.kwargs.get(key), value, f"Keras-made input {key}", found)
        for i, value in made_args.items():
            _differences(spec.args[i], value, f"Keras-made argument {i}", found)
        _differences(expected, decode_value(case["expected"], arrays), "expected", found, near)
        problems += [f"{label}: {p}" for p in found]
        if near and rounding is not None:
            rounding.append(max(near))
    return problems
