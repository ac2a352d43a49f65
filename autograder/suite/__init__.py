"""The hidden suite: for every item of the contract, generators of graded cases.

Each module here (``shapes``, ``conv``, ...) exports ``GENERATORS``: item -> generator, and
``MISTAKES``: mistake id -> one plain sentence for the student. A generator is
``gen(ref, rng, group) -> list[Case]``: ``ref`` is the reference package (``ref.conv.conv2d``),
``rng`` a ``np.random.Generator`` (seeded per student for the hidden group, fixed for the public
group), ``group`` is ``"public"`` or ``"hidden"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np

from ..cases import Case
from ..paths import MODULES

Generator = Callable[[ModuleType, np.random.Generator, str], list[Case]]


def _collect() -> tuple[dict[str, Generator], dict[str, str], dict[str, Callable]]:
    generators: dict[str, Generator] = {}
    bank_mistakes: dict[str, Callable[[Case], dict]] = {}
    mistakes: dict[str, str] = {
        "mutated-input": "Your function changed an input array in place; Keras never modifies "
        "its inputs (work on a copy).",
    }
    for module in MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise
            continue
        generators.update(mod.GENERATORS)
        mistakes.update(getattr(mod, "MISTAKES", {}))
        bank_mistakes.update(getattr(mod, "BANK_MISTAKES", {}))
    return generators, mistakes, bank_mistakes


# BANK_MISTAKES: item -> fn(Keras-bank case) -> {mistake id: that mistake's output}, so that
# the feedback names a known mistake on the bank's cases too.
GENERATORS, MISTAKES, BANK_MISTAKES = _collect()
ITEMS: tuple[str, ...] = tuple(GENERATORS)
