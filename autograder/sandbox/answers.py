"""What one call did, rebuilt from a worker's answer (trusting none of it).

:class:`Outcome` is what the rest of the grader sees of a call; :func:`outcome_from` checks
every part of a parsed answer (:mod:`wire`) and cleans the student-controlled text in it.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Any

from .wire import decode

MAX_MESSAGE = 500  # characters of a student's exception message that reach the feedback
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass
class Outcome:
    """What one call did: ``ok`` (value), ``error`` (exception), ``timeout``, ``crashed``,
    ``skipped``."""

    status: str
    value: Any = None
    exception: dict | None = None
    # the array arguments' digests after the call, or wire.UNCHANGED (InputBlob.check)
    inputs_after: Any = None
    seconds: float = 0.0
    detail: str = ""


def clean_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """Student-controlled text made short and printable (control characters removed)."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def signal_text(code: int | None) -> str:
    """A worker's exit status as words for the feedback."""
    if code is None:
        return "it was still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hints = {
            "SIGKILL": " (killed: usually the memory or CPU-time limit)",
            "SIGSEGV": " (a segmentation fault)",
            "SIGXCPU": " (the CPU-time limit)",
            "SIGXFSZ": " (it wrote a file larger than allowed)",
        }
        return f"it was killed by {name}{hints.get(name, '')}"
    return f"it exited with status {code}"


def outcome_from_answer(answer: dict) -> Outcome:
    """An :class:`Outcome` from ``wire.read_answer``'s result (values already rebuilt)."""
    if answer["status"] == "ok":
        return Outcome("ok", value=answer["value"], seconds=answer["seconds"])
    exc = answer["exception"]
    clean = {
        "type": clean_text(exc["type"], 100),
        "value_error": exc["value_error"],
        "not_implemented": exc["not_implemented"],
        "message": clean_text(exc["message"]),
        "where": clean_text(exc["where"], 200),
    }
    return Outcome("error", exception=clean, seconds=answer["seconds"])


def outcome_from(data: Any) -> Outcome:
    """An :class:`Outcome` from an answer in the JSON form (``wire.parse_answer``; the
    handout's public cases use it), checking every part of it."""
    if not isinstance(data, dict):
        return Outcome("crashed", detail="the worker's answer could not be read")
    seconds = data.get("seconds")
    seconds = float(seconds) if type(seconds) in (int, float) else 0.0
    if data.get("status") == "ok":
        return Outcome("ok", value=decode(data.get("value")), seconds=seconds)
    exc = data.get("exception")
    if not isinstance(exc, dict):
        return Outcome("crashed", detail="the worker's answer could not be read")
    clean = {
        "type": clean_text(exc.get("type", "?"), 100),
        "value_error": exc.get("value_error") is True,
        "not_implemented": exc.get("not_implemented") is True,
        "message": clean_text(exc.get("message", "")),
        "where": clean_text(exc.get("where", ""), 200),
    }
    return Outcome("error", exception=clean, seconds=seconds)
