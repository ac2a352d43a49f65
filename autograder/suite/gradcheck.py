"""Hidden suite for cnn/gradcheck.py (part 2): ``relative_error``.

``numerical_gradient`` takes a Python function, which cannot cross into the sandbox worker as
data; its cases need a worker program that builds hidden analytic functions there (not yet
built, so the item has no generator and no default points: see config.BACKWARD_POINTS).
"""

from __future__ import annotations

import numpy as np

from ._layers import close_case as _close
from ._layers import normal, raises_case

MISTAKES = {
    "relerr-mean": "Your value matches the MEAN of |a - b| / max(1e-8, |a| + |b|): the "
    "contract asks for the largest entry (max).",
    "relerr-no-abs-sum": "Your value matches dividing by |a + b| (or |a| alone) instead of "
    "max(1e-8, |a| + |b|).",
}


def relative_error_gen(ref, rng, group):
    fn, item = ref.gradcheck.relative_error, "gradcheck.relative_error"
    specs = [((3, 4), 1e-3), ((5,), 0.5)]
    if group == "hidden":
        specs += [((2, 3, 2), 1e-6), ((6,), 2.0), ((4, 4), 1e-2)]
    cases = []
    for shape, rel in specs:
        a = normal(rng, shape)
        b = a * (1 + rel * normal(rng, shape))
        den = np.maximum(1e-8, np.abs(a) + np.abs(b))
        wrong = {
            "relerr-mean": lambda a=a, b=b, den=den: float(np.mean(np.abs(a - b) / den)),
            "relerr-no-abs-sum": lambda a=a, b=b: float(np.max(np.abs(a - b) / np.abs(a))),
        }
        cases.append(_close(fn, item, group, (("a", a), ("b", b)), {}, wrong))
    if group == "hidden":
        zero = np.zeros((2, 2))
        cases.append(_close(fn, item, group, (("a", zero), ("b", zero.copy())), {}))
        args = (("a", normal(rng, (2, 3))), ("b", normal(rng, (3, 2))))
        cases.append(raises_case(item, args, {}, "different shapes"))
    return cases


GENERATORS = {"gradcheck.relative_error": relative_error_gen}
