"""Hidden suite for cnn/gradcheck.py (part 2): ``numerical_gradient`` and ``relative_error``.

``numerical_gradient`` takes a Python function, which cannot cross into the sandbox as data:
the worker's ``gradcheck`` program builds the grader's analytic function
``f(x) = sum(a sin(b x)) + sum(c x**3)/3 + d (sum x)**2 / 2`` from planned coefficients
(``sandbox.worker.analytic``), and the answer is judged against its EXACT gradient
``a b cos(b x) + c x**2 + d sum(x)`` (Keras has no counterpart). The planned step sizes keep a
central difference's error far below the tolerance and a forward difference's far above it.
"""

from __future__ import annotations

import numpy as np

from ...cases import Call, Case, Close
from ...compare import matches
from .._shared.layers import close_case as _close
from .._shared.layers import normal, raises_case

MISTAKES = {
    "ngrad-forward": "Your gradient matches the forward difference (f(x + h e_i) - f(x)) / h: "
    "the contract asks for the central difference (f(x + h e_i) - f(x - h e_i)) / (2h).",
    "ngrad-no-half": "Your gradient is twice the right one: divide the central difference by "
    "2h, not h.",
    "ngrad-no-restore": "Your gradient matches nudging entries without restoring them: put "
    "each entry back before nudging the next (each difference must nudge one entry only).",
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


def _f(spec):
    a, b, c, d = spec["a"], spec["b"], spec["c"], spec["d"]
    return lambda x: float(
        np.sum(a * np.sin(b * x)) + np.sum(c * x**3) / 3 + d * np.sum(x) ** 2 / 2
    )


def _emulate(f, x, h, kind):
    point, grad = x.copy(), np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        orig = point[i]
        point[i] = orig + h
        plus = f(point)
        if kind == "forward":
            point[i] = orig
            grad[i] = (plus - f(point)) / h
            continue
        point[i] = orig - h
        grad[i] = (plus - f(point)) / (2 * h)
        if kind != "no-restore":
            point[i] = orig
    return grad


def numerical_gradient_gen(ref, rng, group):
    item = "gradcheck.numerical_gradient"
    specs = [((3,), None), ((2, 3), 1e-3)]  # (shape of x, h: None = the default 1e-5)
    if group == "hidden":
        specs += [((4,), None), ((2, 2, 2), 1e-3), ((5,), 1e-4), ((3, 2), None), ((1,), 1e-3)]
    cases = []
    for shape, h in specs:
        spec = {
            "a": rng.uniform(0.5, 1.5, shape) * np.where(rng.random(shape) < 0.5, -1, 1),
            "b": rng.random(shape) * 2 + 1.0,
            "c": rng.random(shape) - 0.5,
            "d": float(rng.random() * 0.5),
        }
        x = normal(rng, shape)
        a, b, c, d = spec["a"], spec["b"], spec["c"], spec["d"]
        exact = a * b * np.cos(b * x) + c * x**2 + d * np.sum(x)
        f, step = _f(spec), 1e-5 if h is None else h
        kwargs = {} if h is None else {"h": h}
        mistakes = {"ngrad-no-half": 2 * exact}
        if h is not None and h >= 1e-3:
            mistakes["ngrad-forward"] = _emulate(f, x, step, "forward")
        if x.size > 1:
            mistakes["ngrad-no-restore"] = _emulate(f, x, step, "no-restore")
        case = Case(
            item=item,
            name=f"analytic f, x {shape}" + ("" if h is None else f", h={h:g}"),
            call=Call("gradcheck", item, (spec, x), kwargs),
            expect=Close(exact),
            group=group,
            oracle="property",
            params={"x shape": shape, "h": step},
        )
        case.mistakes = {k: v for k, v in mistakes.items() if not matches(v, exact)}
        cases.append(case)
    return cases


GENERATORS = {
    "gradcheck.numerical_gradient": numerical_gradient_gen,
    "gradcheck.relative_error": relative_error_gen,
}
