"""Compute the Keras bank with real Keras (``grade oracle build``); ``verify.py`` re-checks it.

TensorFlow/Keras is imported only here and in ``verify.py``, through ``keras.Keras``, and only
when a bank is built or verified; each topic's ``bank.py`` says how Keras computes its cases.
The bank is built on the CPU: ``CUDA_VISIBLE_DEVICES=-1`` is set before TensorFlow is imported
and every computation runs under ``tf.device('/CPU:0')`` with TF32 disabled. On a GPU with the
framework defaults (TF32) float32 convolutions and matmuls are about 3e-4 off relative to the
largest output, 29x the float32 grading tolerance (keras-semantics.md §13), and such a bank would
fail correct students. CPU results are reproducible on one machine (§12), but not bitwise across
CPUs: oneDNN and Eigen choose kernels (and so summation orders) by the instruction set, and on
another x86-64 CPU convolutions, matmuls and softmax came out up to 4 float32 ulps apart. So
``verify.verify_bank`` accepts a recomputed float value within ``REPRO_RTOL`` of the largest
stored value (a few float32 ulps, 10x inside the grading tolerance of §12) and reports how many
cases were bitwise equal; anything larger, and any difference in a non-float value, is a problem.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .bank import BANK_JSON, BANK_NPZ, DATA_DIR, FORMAT
from .catalog import ITEMS, bank_specs, batch_sizes, is_exact, keras_made_inputs, module_of
from .keras import Keras
from .specs import SEED, Spec


def compute(K: Keras, spec: Spec) -> Any:
    """Keras's answer to ``spec`` (may add Keras-made inputs to ``spec.kwargs``): its topic's."""
    with K.tf.device(K.device):
        return module_of(spec.item).compute(K, spec)


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


def _record(K: Keras, spec: Spec, store: _Arrays) -> dict:
    expected = compute(K, spec)
    return {
        "item": spec.item,
        "name": spec.name,
        "program": spec.program,
        "target": spec.target,
        "args": encode_value(tuple(spec.args), store),
        "kwargs": encode_value(dict(spec.kwargs), store),
        "keras_inputs": list(keras_made_inputs(spec.item)),
        "expected": encode_value(expected, store),
        "exact": is_exact(spec.item),
        "params": _plain(spec.params),
        "build": _plain(spec.keras),
    }


def build_bank(out_dir: Path | None = None) -> Path:
    """Compute every spec with real Keras (CPU, TF32 off) and write bank.json + bank.npz.

    Returns the path of bank.json.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir) if out_dir is not None else DATA_DIR
    K = Keras()
    store = _Arrays()
    specs = bank_specs()
    cases = [_record(K, spec, store) for spec in specs]
    counts = {item: sum(c["item"] == item for c in cases) for item in ITEMS}
    provenance = K.provenance(batch_sizes(), SEED)
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
    npz_path = out_dir / BANK_NPZ
    np.savez_compressed(npz_path, **store.arrays)  # plain numeric arrays: no pickles
    json_path = out_dir / BANK_JSON
    doc = {"format": FORMAT, "provenance": provenance, "cases": cases}
    json_path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return json_path

