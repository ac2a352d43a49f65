"""Re-check the Keras bank (``grade oracle verify``): recompute with live Keras, compare within
float32 rounding (see ``build.py`` for why bitwise equality is not expected across CPUs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .bank import decode_value
from .build import compute
from .catalog import bank_specs
from .keras import Keras

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


def verify_bank(path: Path | None = None, rounding: list[float] | None = None) -> list[str]:
    """Recompute every bank case with live Keras; the problems found (empty: all reproduced).

    Checks that the stored inputs are still those of :func:`bank_specs` (bitwise), that Keras-made
    inputs (the dropout masks) and every expected value are reproduced within float32 rounding
    (:data:`REPRO_RTOL`), and that the bank was built on the CPU. When ``rounding`` is given, one
    entry per case that was not bitwise equal is appended: its largest relative difference.
    """
    from .bank import _read

    doc, arrays = _read(path)
    problems: list[str] = []
    prov = doc.get("provenance", {})
    if prov.get("device") != "CPU" or prov.get("tf32_enabled") is not False:
        problems.append(
            f"provenance: built on {prov.get('device')!r} with TF32 "
            f"{prov.get('tf32_enabled')!r}; the bank must be built on the CPU"
        )
    K = Keras()
    specs = bank_specs()
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
        inputs: list[str] = []
        _differences(
            (tuple(spec.args), dict(spec.kwargs)),
            (decode_value(case["args"], arrays), kwargs),
            "inputs",
            inputs,
        )
        problems += [f"{label}: {p} (the stored inputs are not bank_specs()')" for p in inputs]
        expected = compute(K, spec)
        found: list[str] = []
        near: list[float] = []
        for key, value in made.items():
            _differences(spec.kwargs.get(key), value, f"Keras-made input {key}", found)
        _differences(expected, decode_value(case["expected"], arrays), "expected", found, near)
        problems += [f"{label}: {p}" for p in found]
        if near and rounding is not None:
            rounding.append(max(near))
    return problems
