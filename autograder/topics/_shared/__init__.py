"""What every topic's hidden-case plan shares: :class:`Draws` (the plan and value streams) and
the ``Generator`` type; ``layers`` holds the case helpers of the layer topics."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from ...cases import Case


class Draws:
    """A ``np.random.Generator`` look-alike with two streams: the plan and the values."""

    def __init__(self, plan: np.random.Generator, values: np.random.Generator | None = None):
        self.plan = plan
        self.values = plan if values is None else values
        # The methods below, bound once (issue #16: a generator makes ~1,000 draws per student;
        # the same calls on the same generators, without a Python frame each).
        for name in ("integers", "choice", "permutation", "random", "shuffle"):
            setattr(self, name, getattr(self.plan, name))
        for name in ("normal", "uniform", "standard_normal"):
            setattr(self, name, getattr(self.values, name))

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



Generator = Callable[[ModuleType, Draws, str], list[Case]]
