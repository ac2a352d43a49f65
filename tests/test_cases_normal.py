"""The planned normal draws (``layers.normal``, every layer topic's arrays) computed in place
with 0-d constants (issue #16) are, bytes equal, the written-out formulas they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.topics import Draws
from autograder.topics._shared import layers


def _written_ndtri(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    low, high = p < 0.02425, p > 1 - 0.02425
    # The central formula on every entry (the same arithmetic per entry as on the central ones
    # alone), then the tails, rare, over it: fewer numpy calls, the same numbers.
    q = p - 0.5
    r = q * q
    a, b, c, d = layers._A, layers._B, layers._C, layers._D
    out = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1
    )
    for mask, sign, tail in ((low, 1.0, False), (high, -1.0, True)):
        if not mask.any():
            continue
        pp = 1 - p[mask] if tail else p[mask]
        q = np.sqrt(-2 * np.log(pp))
        out[mask] = (
            sign
            * (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        )
    return out


def _written_normal(
    rng: np.random.Generator, shape, scale: float = 1.0, shift: float = 0.0
) -> np.ndarray:
    """``layers.normal`` as it was written out (one new array per operation)."""
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape)
    plan = layers.plan_of(rng)
    rank = plan.permutation(n)
    below = plan.random(n)
    u = 0.01 + 0.98 * layers.values_of(rng).random(n)
    lo, hi = rank / n, (rank + 1) / n
    pz = layers._phi(-shift / scale) if scale else 0.5
    # The bin that holds pz strictly inside (at most one: the bins' edges are the same floats
    # rank / n on both sides) is split at pz, on the side its planned draw chose.
    guess = int(pz * n)
    for r in (guess - 1, guess, guess + 1):
        if 0 <= r < n and r / n < pz < (r + 1) / n:
            i = int(np.flatnonzero(rank == r)[0])
            if below[i] < 0.5:
                hi[i] = pz
            else:
                lo[i] = pz
            break
    x = shift + scale * _written_ndtri(lo + u * (hi - lo))
    return x.reshape(shape).astype(np.float64)


SHAPES = [(1,), (2,), (7,), (3, 4), (40,), (2, 9, 8, 3), (1, 28, 28, 1), (3, 3, 8, 16)]
SCALES = [
    (1.0, 0.0), (2.0, 0.0), (0.05, 0.0), (math.sqrt(2.0 / 300), 0.0), (1.0, -1.5), (3.0, 0.7),
    (1e-6, 0.0), (1e3, 0.0), (1, 0), (0.0, 0.0), (np.float64(0.3), 0.2),
]  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_normal_gives_the_written_out_draws(seed):
    for shape in SHAPES:
        for scale, shift in SCALES:
            a = Draws(np.random.default_rng(seed), np.random.default_rng(seed + 7))
            b = Draws(np.random.default_rng(seed), np.random.default_rng(seed + 7))
            got, want = (
                layers.normal(a, shape, scale, shift),
                _written_normal(b, shape, scale, shift),
            )
            assert got.dtype == want.dtype and got.shape == want.shape
            assert got.tobytes() == want.tobytes(), (shape, scale, shift)
            assert got.flags.owndata and got.flags.c_contiguous
            assert a.plan.random() == b.plan.random() and a.values.random() == b.values.random()


def test_quantile_gives_the_written_out_formula_in_both_tails():
    low, high = np.linspace(1e-300, 0.03, 5000), 1 - np.linspace(1e-16, 0.03, 5000)
    middle = np.random.default_rng(0).random(5000)
    p = np.concatenate([low, middle, high, [0.02425, 1 - 0.02425, 0.5]])
    assert layers._ndtri(p).tobytes() == _written_ndtri(p).tobytes()
