"""Load the shipped Keras bank as hidden cases (no TensorFlow needed).

``data/bank.json`` holds the cases (item, call, expected value, display parameters) and the
provenance of the build; ``data/bank.npz`` every array, loaded with ``allow_pickle=False``.
The same bank cases are asked of every student; per-student variation comes from the
reference-oracle suite.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
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


def bank_files(path: Path | str | None = None, parts=None) -> list[Path]:
    """The bank files to load: every part's file (or the files of ``parts``) in the kit's data
    folder (or in ``path``, a folder), or the one file ``path``."""
    folder = DATA_DIR if path is None else Path(path)
    if not folder.is_dir():
        return [folder]
    names = [name for part, name in BANK_FILES.items() if parts is None or part in parts]
    found = [folder / name for name in names if (folder / name).is_file()]
    return found or [folder / BANK_JSON]


def _read(path: Path | str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    json_path, npz_path = _paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(f"no Keras bank at {json_path}: run `grade oracle build`")
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{json_path}: bank format {doc.get('format')!r}, expected {FORMAT}")
    return doc, read_npz(npz_path)


# The header ``np.savez`` writes for a plain array (numpy's own reader parses it with
# ``ast.literal_eval``: most of the bank's loading time); anything else goes to ``np.load``.
_HEADER = re.compile(
    rb"\{'descr': '([<>|][biufc][0-9]{1,2})', 'fortran_order': (False|True), "
    rb"'shape': \(((?:[0-9]+, ?)*[0-9]*)\), \} *\n"
)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path`` (numeric dtypes only: no pickles), each a fresh
    writable array; the same arrays as ``np.load(path, allow_pickle=False)`` gives."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            data = zf.read(info)
            found = None
            if data[:8] in (b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00"):
                size = 2 if data[6] == 1 else 4
                start = 8 + size
                length = int.from_bytes(data[8:start], "little")
                found = _HEADER.fullmatch(data[start : start + length])
                start += length
            if found is None:  # an unusual header: numpy's own reader decides
                arrays[key] = np.array(np.load(io.BytesIO(data), allow_pickle=False), copy=True)
                continue
            descr, fortran, dims = found.groups()
            shape = tuple(int(d) for d in dims.replace(b" ", b"").split(b",") if d)
            array = np.frombuffer(data, dtype=np.dtype(descr.decode()), offset=start)
            order = "F" if fortran == b"True" else "C"
            arrays[key] = array.reshape(shape, order=order).copy(order="K")
    return arrays


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


def load_bank(path: Path | str | None = None, parts=None) -> list[Case]:
    """The bank's hidden cases (group "hidden", oracle "keras"), in a fixed order: every part's
    file (:func:`bank_files`; with ``parts``, only those parts' files), forward first."""
    cases = []
    for one in bank_files(path, parts):
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
