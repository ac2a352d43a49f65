"""Load the shipped Keras bank as hidden cases (no TensorFlow needed).

``data/bank.json`` holds the cases (item, call, expected value, display parameters) and the
provenance of the build; ``data/bank.npz`` every array, loaded with ``allow_pickle=False``.
The same bank cases are asked of every student; per-student variation comes from the
reference-oracle suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..cases import Call, Case, Close, Rng

DATA_DIR = Path(__file__).resolve().parent / "data"
BANK_JSON = "bank.json"
BANK_NPZ = "bank.npz"
FORMAT = 1
# One bank file per part of the contract (config [grading] parts); each holds its own
# provenance. Part 2's cases: the topics' bank_part2.py.
BANK_FILES = {"forward": BANK_JSON, "backward": "bank_backward.json"}

PROVENANCE_FIELDS = (
    "keras",
    "tensorflow",
    "numpy",
    "python",
    "platform",
    "device",
    "tf32_enabled",
    "dtype",
    "floatx",
    "batch_sizes",
    "build_date",
    "seed",
)


def _paths(path: Path | str | None) -> tuple[Path, Path]:
    json_path = Path(path) if path is not None else DATA_DIR / BANK_JSON
    if json_path.is_dir():
        json_path = json_path / BANK_JSON
    return json_path, json_path.with_suffix(".npz")


def bank_files(path: Path | str | None = None) -> list[Path]:
    """The bank files to load: every part's file in the kit's data folder (or in ``path``, a
    folder), or the one file ``path``."""
    folder = DATA_DIR if path is None else Path(path)
    if not folder.is_dir():
        return [folder]
    found = [folder / name for name in BANK_FILES.values() if (folder / name).is_file()]
    return found or [folder / BANK_JSON]


def _read(path: Path | str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    json_path, npz_path = _paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(f"no Keras bank at {json_path}: run `grade oracle build`")
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{json_path}: bank format {doc.get('format')!r}, expected {FORMAT}")
    with np.load(npz_path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    return doc, arrays


def decode_value(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of ``build.encode_value`` (every array is a fresh copy)."""
    if isinstance(value, list):
        return [decode_value(v, arrays) for v in value]
    if isinstance(value, dict):
        if "$array" in value:
            return np.array(arrays[value["$array"]], copy=True)
        if "$tuple" in value:
            return tuple(decode_value(v, arrays) for v in value["$tuple"])
        if "$dict" in value:
            return {k: decode_value(v, arrays) for k, v in value["$dict"]}
        if "$rng" in value:
            return Rng(int(value["$rng"]))
        raise ValueError(f"malformed bank value {value!r:.100}")
    return value


def load_bank(path: Path | str | None = None) -> list[Case]:
    """The bank's hidden cases (group "hidden", oracle "keras"), in a fixed order: every part's
    file (:func:`bank_files`), forward first."""
    cases = []
    for one in bank_files(path):
        cases += _load_one(one)
    return cases


def _load_one(path: Path) -> list[Case]:
    doc, arrays = _read(path)
    cases = []
    for c in doc["cases"]:
        call = Call(
            program=c["program"],
            target=c["target"],
            args=decode_value(c["args"], arrays),
            kwargs=decode_value(c["kwargs"], arrays),
        )
        cases.append(
            Case(
                item=c["item"],
                name=c["name"],
                call=call,
                expect=Close(decode_value(c["expected"], arrays), exact=bool(c.get("exact"))),
                group="hidden",
                oracle="keras",
                params=dict(c.get("params", {})),
                # optimizers update their params in place by contract
                check_mutation=c["program"] != "optimizer",
            )
        )
    return cases


def provenance(path: Path | str | None = None, part: str = "forward") -> dict:
    """How a part's bank was built: Keras/TensorFlow/numpy/Python versions, device, dtype, ..."""
    doc, _ = _read(DATA_DIR / BANK_FILES[part] if path is None else path)
    return dict(doc["provenance"])
