"""Results as plain data: cases, Gradescope-style tests, a submission. Scoring lives here.

Serialisation is separate (``report.py``); everything here is tested without running any
student code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .cases import TextField

DECIMALS = 4  # every score is kept to this many decimals


def points(value: float) -> float:
    """One score as every route reports it (results.json, gradebook, exports, otter)."""
    return round(float(value) + 0.0, DECIMALS) + 0.0


def total(parts: Iterable[float]) -> float:
    """A total: the rounded sum of the rounded parts (never a float artifact like 99.3275999)."""
    return points(sum(points(p) for p in parts))


class GraderFailure(Exception):
    """The grader could not grade a submission (a worker that cannot start, a kit failure).

    Never the student's fault: the submission is "not graded" with this reason, is not cached
    as done, and the next run retries it. The sandbox raises it when a worker cannot start.
    """


@dataclass
class CaseResult:
    item: str
    name: str = TextField()  # type: ignore[assignment]  # (or a cases.LazyText)
    group: str
    oracle: str
    passed: bool
    message: str = ""
    mistake: str | None = None
    seconds: float = 0.0


@dataclass
class TestResult:
    """One entry of results.json: the public or the hidden cases of one graded item."""

    item: str
    group: str  # "public" | "hidden"
    max_score: float
    visibility: str
    cases: list[CaseResult] = field(default_factory=list)
    zero_reason: str = ""  # set when the item earns nothing whatever its cases did
    notes: list[str] = field(default_factory=list)  # causes of lost points (time, crashes)

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def score(self) -> float:
        if self.zero_reason or not self.cases:
            return 0.0
        return points(self.max_score * self.passed / len(self.cases))

    @property
    def title(self) -> str:
        module, name = self.item.split(".")
        return f"{name} ({module}.py) - {self.group} cases"

    @property
    def mistakes(self) -> list[str]:
        return sorted({c.mistake for c in self.cases if c.mistake})


@dataclass
class SubmissionResult:
    student: str
    origin: str
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # shown at the top of the report
    # Causes of lost points seen on hidden cases: in the instructor's report and feedback, and
    # with the hidden test, never in what a student sees before the due date.
    hidden_problems: list[str] = field(default_factory=list)
    isolation: str = ""
    seconds: float = 0.0
    metadata: dict = field(default_factory=dict)
    fingerprint: str = ""
    error: str = ""  # the grader itself failed on this submission (never the student's fault)

    @property
    def status(self) -> str:
        """"graded", or "not graded" when the grader failed (then ``error`` says why)."""
        return "not graded" if self.error else "graded"

    @property
    def score(self) -> float:
        return total(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return total(t.max_score for t in self.tests)

    def item_scores(self) -> dict[str, float]:
        out: dict[str, list[float]] = {}
        for t in self.tests:
            out.setdefault(t.item, []).append(t.score)
        return {item: total(parts) for item, parts in out.items()}

    def item_mistakes(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for t in self.tests:
            out.setdefault(t.item, set()).update(t.mistakes)
        return {k: sorted(v) for k, v in out.items() if v}
