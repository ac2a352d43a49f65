"""Results as plain data: cases, Gradescope-style tests, a submission. Scoring lives here.

Serialisation is separate (``report.py``); everything here is tested without running any
student code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CaseResult:
    item: str
    name: str
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

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def score(self) -> float:
        if self.zero_reason or not self.cases:
            return 0.0
        return round(self.max_score * self.passed / len(self.cases), 4)

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
    isolation: str = ""
    seconds: float = 0.0
    metadata: dict = field(default_factory=dict)
    fingerprint: str = ""
    error: str = ""  # the grader itself failed on this submission (never the student's fault)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    def item_scores(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in self.tests:
            out[t.item] = round(out.get(t.item, 0.0) + t.score, 4)
        return out

    def item_mistakes(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for t in self.tests:
            out.setdefault(t.item, set()).update(t.mistakes)
        return {k: sorted(v) for k, v in out.items() if v}
