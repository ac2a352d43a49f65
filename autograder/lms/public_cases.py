"""The grader's own public cases as data, for the handout's ``tests/public_cases.json``.

Public cases are the same for every student (seeded by the assignment name only) and their
results are shown at once, so the handout may hold them: the public tests then run exactly the
cases the grader runs, judged by a standalone copy of the grader's comparison
(``assignments/tests/_judge.py``), and a local pass is a grader pass for the public part.

Arrays travel as in the sandbox's wire format (dtype, shape, base64 bytes); an expected numpy
scalar as ``$npscalar`` so that the types the grader demands are kept. Metamorphic cases
(:class:`~autograder.cases.Property`) are exported by the kind of their check with the data the
check needs; a check this module does not know is exported as ``grader-only`` (the handout skips
it and says so), and ``tests/test_public_parity.py`` fails on it.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np

from ..cases import Call, Case, Close, Property, Raises, Rng
from ..config import Config
from ..sandbox.worker import pack

FORMAT = 1

# The qualified name of a suite check -> the kind the handout's judge knows, and the names of
# the closure variables it needs.
PROPERTY_KINDS = {
    "_dropout_statistics.<locals>.check": ("dropout-statistics", ("x", "rate")),
    "_shuffle_check.<locals>.check": ("shuffled-batches", ("n", "b")),
    "_training_check.<locals>.check": ("training-changes-output", ("inference",)),
}


def encode(value: Any) -> Any:
    """A value as JSON that keeps every type the comparison looks at (arrays inline: the
    handout has no input blob; the grader's sandbox passes the same arrays through one)."""
    if isinstance(value, Rng):
        return {"$rng": int(value.seed)}
    if isinstance(value, np.ndarray):
        return {"$arr": pack(value)}
    if isinstance(value, np.generic):
        return {"$npscalar": pack(np.asarray(value))}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[str(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


def _property(expect: Property) -> dict:
    check = expect.check
    kind = PROPERTY_KINDS.get(getattr(check, "__qualname__", ""))
    if kind is None:
        return {"kind": "grader-only", "description": expect.description}
    name, needs = kind
    closure = inspect.getclosurevars(check).nonlocals
    data = {k: encode(closure[k]) for k in needs}
    return {"kind": "property", "property": name, "data": data, "description": expect.description}


def spec_of(call: Call, mutation: bool) -> dict:
    """The call as the handout's judge runs it: program, target, arguments, mutation check."""
    return {
        "program": call.program,
        "target": call.target,
        "args": encode(list(call.args)),
        "kwargs": encode(dict(call.kwargs))["$dict"],
        "mutation": mutation,
    }


def counts_as(case: Case, ref: Any) -> str | None:
    """How a passed ``case`` shows that its function computes something: the grader's own rule,
    :func:`autograder.trivial.counts_as` (``"disc"``, the repr of a scalar expected value, or
    None)."""
    from ..trivial import counts_as as rule

    return rule(case, ref)


def export_case(case: Case, mistake_text: dict[str, str], ref: Any = None) -> dict:
    """One public case as JSON-ready data."""
    expect = case.expect
    if isinstance(expect, Close):
        exp: dict = {"kind": "close", "value": encode(expect.value), "exact": expect.exact}
    elif isinstance(expect, Raises):
        exp = {"kind": "raises", "exception": expect.exception}
    else:
        exp = _property(expect)
    spec = spec_of(case.call, case.check_mutation and case.call.program == "call")
    return {
        "item": case.item,
        "name": case.name,
        **spec,
        "expect": exp,
        "counts_as": counts_as(case, ref) if ref is not None else None,
        "mistakes": [
            [name, mistake_text.get(name, name), encode(value)]
            for name, value in case.mistakes.items()
        ],
    }


def public_cases(config: Config) -> dict:
    """Every public case the grader runs under ``config``, in the order it runs them."""
    from ..engine import Grader, mistake_text
    from ..reference import load_solutions
    from ..topics import MISTAKES

    # No bank and no isolation: only the public cases are built, nothing is run.
    ref = load_solutions()
    grader = Grader(config, ref, [], None)  # type: ignore[arg-type]
    texts = {name: mistake_text(name) for name in MISTAKES}
    cases = [
        export_case(case, texts, ref)
        for item, (public, _bank) in grader.shared_cases().items()
        for case in public
    ]
    return {
        "format": FORMAT,
        "assignment": config.assignment,
        "public_share": config.public_share,
        "points": {item: config.points[item] for item in grader.items},
        "limits": {
            "call_timeout": config.limits.call_timeout,
            "max_timeouts_per_item": config.limits.max_timeouts_per_item,
        },
        "cases": cases,
    }


def public_cases_json(config: Config) -> str:
    return json.dumps(public_cases(config), allow_nan=True, separators=(",", ":")) + "\n"
