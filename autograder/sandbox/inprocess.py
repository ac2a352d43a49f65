"""Run a call in THIS process through the sandbox's own wire format (trusted code only).

For the kit's tests, the oracle's self-check and the audit's sanity checks: the reference
solutions, stubs or a corpus package are called exactly as the worker calls a student's
(``worker.execute``: the same programs, the same input blob, the same encoding of answers,
the same exception report) and the answer is decoded exactly as the runner decodes it
(``wire.read_answer``, ``answers.outcome_from_answer``; inputs judged from the blob by
``InputBlob.check``); only the separate process, its limits and its isolation are missing.
Never use it on a student's code.
"""

from __future__ import annotations

import marshal
from types import ModuleType
from typing import Any

from ..cases import Call
from . import worker
from .answers import Outcome, outcome_from_answer
from .wire import InputBlob, NpScalar, read_answer


def spec_of(call: Call) -> dict:
    """The spec the runner writes for ``call`` (array arguments as offsets into a blob)."""
    return InputBlob([call]).specs[0]


def execute(package: ModuleType, call: Call, mutation: bool = True) -> Outcome:
    """Make ``call`` in ``package`` (e.g. the reference solutions) and decode the answer."""

    def resolve(target: str) -> Any:
        module, name = target.split(".")
        return getattr(getattr(package, module), name)

    blob = InputBlob([call])
    spec = marshal.loads(marshal.dumps(blob.specs[0]))  # as the worker reads it
    answer = worker.answer_bytes(worker.execute(spec, {call.module}, resolve, blob.buffer))
    outcome = outcome_from_answer(read_answer(answer))
    if mutation and outcome.status == "ok":
        outcome.inputs_after = blob.check(0, blob.buffer)
    return outcome


def wire(value: Any) -> Any:
    """``value`` as the grader would receive it back from the worker (idempotent)."""
    enc = worker.Encoder()
    enc(_unwrap(value))
    answer = worker.answer_bytes({"status": "ok", "encoded": enc})
    return outcome_from_answer(read_answer(answer)).value


def _unwrap(value: Any) -> Any:
    """Already-decoded numpy scalars back to numpy scalars, so that ``wire`` is idempotent."""
    if isinstance(value, NpScalar):
        return value.array[()]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value
