"""What a Keras-bank case is before Keras answers it (``Spec``), and the one seeded stream every
topic's bank draws its inputs from (``Draw``); the topics' ``bank.py`` files make the cases.

Pure numpy (no TensorFlow): every input is drawn from one seeded generator, so the list of cases
(``autograder.oracle.catalog.bank_specs``) is the same on every machine. Float inputs are float64
arrays whose values are float32-representable (cast through float32), so Keras (which computes
in float32) and a float64 numpy solution see exactly the same numbers.
``autograder.oracle.build`` computes the expected value of every spec with real Keras (each
topic's ``compute``); ``autograder.oracle.bank`` turns the stored result into hidden cases.

Sizes are kept small (conv N <= 2, H, W <= 12) so that loop-based student code stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEED = 20241127  # the bank's one stream: every topic draws from it, in bank order


@dataclass
class Spec:
    """One bank case before Keras has answered it.

    ``args``/``kwargs`` are what the student's function receives (the build may add Keras-made
    inputs, e.g. the dropout mask); ``keras`` holds build-only details (dropout seed, layer
    kinds of a receptive-field stack) that are never passed to the student.
    """

    item: str
    name: str
    program: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    keras: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.item


def f32(a: Any) -> np.ndarray:
    """float64 array with float32-representable values."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


class Draw:
    """The bank's one seeded stream: float32-representable float64 draws."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, scale: float = 1.0) -> np.ndarray:
        return f32(self.rng.normal(size=shape) * scale)

    def uniform(self, shape, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return f32(self.rng.uniform(low, high, size=shape))

    def away_from_zero(self, shape, low: float = 0.1, high: float = 2.0) -> np.ndarray:
        mag = self.rng.uniform(low, high, size=shape)
        sign = np.where(self.rng.random(size=shape) < 0.5, -1.0, 1.0)
        return f32(mag * sign)

    def with_zeros(self, shape, scale: float = 2.0) -> np.ndarray:
        x = self.rng.normal(size=shape) * scale
        x[self.rng.random(size=shape) < 0.2] = 0.0
        x.flat[0] = 0.0
        return f32(x)


def shape_text(a: np.ndarray) -> str:
    return str(tuple(int(d) for d in a.shape))

# Part 2 (config part "backward") has its own bank file, seed and provenance; its specs live in
# the topics' bank_part2.py (oracle/catalog.py finds them).
PART2_SEED = 20261201
PARTS = ("forward", "backward")
