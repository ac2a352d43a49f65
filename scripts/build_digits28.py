"""Rebuild ``assignments/cnn/digits28.npz``, the digits data shipped with the handout.

The 1,797 8x8 UCI handwritten digits as distributed with scikit-learn
(``sklearn.datasets.load_digits``, grey levels 0..16), upscaled to 28x28 by bilinear
interpolation (half-pixel centres, edges clamped, as ``tf.image.resize(..., "bilinear")``),
scaled to [0, 1] and stored as uint8 (``round(255 * v)``), with a fixed 1437 / 360 split
(a seeded permutation). ``cnn/data.py``'s ``load_digits28`` reads it; the kit does not need
scikit-learn at run time, only this script does:

    python3 -m pip install scikit-learn
    python3 scripts/build_digits28.py          # writes the file, prints its sha256

The output is deterministic (same bytes every run): ``tests/test_data.py`` pins its digest.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "assignments" / "cnn" / "digits28.npz"
SIZE = 28
N_TEST = 360
SEED = 13


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` bilinear interpolation weights (half-pixel centres, clamped edges)."""
    r = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = min(max((o + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1.0)
        lo = int(np.floor(src))
        hi = min(lo + 1, n_in - 1)
        frac = src - lo
        r[o, lo] += 1.0 - frac
        r[o, hi] += frac
    return r


def build() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0  # (1797, 8, 8) in [0, 1]
    r = resize_matrix(8, SIZE)
    big = np.einsum("oi,nij,pj->nop", r, images, r)  # (1797, 28, 28)
    u8 = np.clip(np.round(big * 255.0), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    order = np.random.default_rng(SEED).permutation(len(labels))
    test, train = order[:N_TEST], order[N_TEST:]
    return {
        "x_train": u8[train],
        "y_train": labels[train],
        "x_test": u8[test],
        "y_test": labels[test],
    }


def write(arrays: dict[str, np.ndarray], path: Path) -> str:
    """Write a compressed .npz with fixed timestamps (byte-identical every run); its sha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    digest = write(build(), OUT)
    print(f"{OUT} ({OUT.stat().st_size} bytes) sha256 {digest}")
    sys.exit(0)
