"""TensorFlow + Keras on the CPU with TF32 off: what every topic's ``compute`` gets as ``K``.

Only ``grade oracle build/verify`` creates a :class:`Keras` (TensorFlow is imported in its
constructor, never at import time); see ``autograder.oracle.build`` for why the CPU.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np


# ----------------------------------------------------------------------------------------------
# Keras, on the CPU
# ----------------------------------------------------------------------------------------------
class Keras:
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

    def provenance(self, batch_sizes: dict, seed: int) -> dict:
        tf, keras = self.tf, self.keras
        gpus = tf.config.list_logical_devices("GPU")
        return {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu": cpu_model(),
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
            "batch_sizes": batch_sizes,
            "seed": seed,
        }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------------------------
# One function per item: spec -> (args, kwargs, expected), all computed by Keras
