"""The hidden suite: for every item of the contract, generators of graded cases.

Each module here (``shapes``, ``conv``, ...) exports ``GENERATORS``: item -> generator, and
``MISTAKES``: mistake id -> one plain sentence for the student. A generator is
``gen(ref, rng, group) -> list[Case]``: ``ref`` is the reference package (``ref.conv.conv2d``),
``rng`` a :class:`Draws` (for the hidden group: the *plan*, i.e. every structural choice,
drawn from the assignment's secret and the same for every student; the *values* drawn per
student), ``group`` is ``"public"`` or ``"hidden"``.

The case plan is what makes a score depend on the code only: every student of an assignment
gets the same number of cases, shapes, parameters, special values in the same places,
invalid-argument kinds and properties. A :class:`Draws` routes ``integers``, ``choice``,
``permutation``, ``random`` and ``shuffle`` to the plan and ``normal``, ``uniform`` and
``standard_normal`` to the values; a generator that needs the other stream says so with
``rng.plan`` or ``rng.values``. No control flow may depend on a value draw (the plan stream
would then differ between students; ``grade audit`` checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np

from ..cases import Case
from ..paths import ALL_MODULES


class Draws:
    """A ``np.random.Generator`` look-alike with two streams: the plan and the values."""

    def __init__(self, plan: np.random.Generator, values: np.random.Generator | None = None):
        self.plan = plan
        self.values = plan if values is None else values

    # structure: the same for every student
    def integers(self, *args, **kwargs):
        return self.plan.integers(*args, **kwargs)

    def choice(self, *args, **kwargs):
        return self.plan.choice(*args, **kwargs)

    def permutation(self, *args, **kwargs):
        return self.plan.permutation(*args, **kwargs)

    def random(self, *args, **kwargs):
        return self.plan.random(*args, **kwargs)

    def shuffle(self, *args, **kwargs):
        return self.plan.shuffle(*args, **kwargs)

    # values: per student
    def normal(self, *args, **kwargs):
        return self.values.normal(*args, **kwargs)

    def uniform(self, *args, **kwargs):
        return self.values.uniform(*args, **kwargs)

    def standard_normal(self, *args, **kwargs):
        return self.values.standard_normal(*args, **kwargs)


Generator = Callable[[ModuleType, Draws, str], list[Case]]


def _collect() -> tuple[dict[str, Generator], dict[str, str], dict[str, Callable]]:
    generators: dict[str, Generator] = {}
    bank_mistakes: dict[str, Callable[[Case], dict]] = {}
    mistakes: dict[str, str] = {
        "mutated-input": "Your function changed an input array in place; Keras never modifies "
        "its inputs (work on a copy).",
    }
    # Part 2's model items live in their own file, model_part2.py (one topic, one file).
    for module in (*ALL_MODULES, "model_part2"):
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
