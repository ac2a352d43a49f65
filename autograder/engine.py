"""Grade one submission: build its cases, run them in the sandbox, judge, score.

The trusted process (this one) builds every case and its expected value from the reference
solutions and the Keras bank; the student's code runs only in the sandbox worker; the answers
come back as data and are judged by :func:`autograder.compare.judge`.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import numpy as np

from . import __version__
from .cases import Case, Raises
from .compare import Verdict, judge
from .config import Config
from .discover import Submission, materialise
from .oracle.bank import load_bank
from .paths import MODULES, STUBS_DIR
from .reference import load_solutions
from .results import CaseResult, SubmissionResult, TestResult
from .sandbox import scratch
from .sandbox.isolation import Isolation, detect
from .sandbox.runner import run_calls
from .static import MODEL_DEPENDS_ON, banned_modules
from .suite import BANK_MISTAKES, GENERATORS, MISTAKES


def seed_for(*parts: str) -> int:
    """A 64-bit seed from text parts (HMAC-SHA256 keyed by the first part)."""
    key, *rest = parts
    digest = hmac.new(key.encode(), "\x1f".join(rest).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def item_rng(seed: int, item: str) -> np.random.Generator:
    """One generator per item, so adding an item never changes another item's cases."""
    return np.random.default_rng([seed, zlib.crc32(item.encode())])


@dataclass
class Grader:
    """Everything that is the same for every submission of a batch."""

    config: Config
    ref: ModuleType
    bank: list[Case]
    isolation: Isolation
    hide: tuple[Path, ...] = ()
    # item -> (public cases, bank cases): the same for every student, so built once per batch.
    _shared: dict[str, tuple[list[Case], list[Case]]] | None = field(
        default=None, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def create(cls, config: Config, hide: tuple[Path, ...] = ()) -> Grader:
        return cls(config, load_solutions(), load_bank(), detect(), hide)

    @property
    def items(self) -> list[str]:
        return [item for item in GENERATORS if self.config.points.get(item, 0) > 0]

    def public_seed(self) -> int:
        return seed_for("public", self.config.assignment)

    def hidden_seed(self, student: str) -> int:
        return seed_for(self.config.secret, self.config.assignment, student)

    def shared_cases(self) -> dict[str, tuple[list[Case], list[Case]]]:
        """item -> (public cases, Keras bank cases): the same for every student, built once.

        Nothing downstream modifies a case (the runner only reads the arguments, the judge only
        reads the expectation), so every student's list may hold the same objects.
        """
        with self._lock:
            if self._shared is None:
                public = self.public_seed()
                bank: dict[str, list[Case]] = {}
                for case in self.bank:
                    if case.item in BANK_MISTAKES:
                        case = replace(case, mistakes=BANK_MISTAKES[case.item](case))
                    bank.setdefault(case.item, []).append(case)
                self._shared = {
                    item: (
                        GENERATORS[item](self.ref, item_rng(public, item), "public"),
                        bank.get(item, []),
                    )
                    for item in self.items
                }
            return self._shared

    def cases(self, student: str) -> list[Case]:
        """The cases one student is graded on (public ones are the same for everyone)."""
        out: list[Case] = []
        shared = self.shared_cases()
        hidden = self.hidden_seed(student)
        for item in self.items:
            public, bank = shared[item]
            out += public
            out += GENERATORS[item](self.ref, item_rng(hidden, item), "hidden")
            out += bank
        return out

    def fingerprint(self, sub: Submission) -> str:
        """Changes when the submission, the config or the kit changes (for skipping regrades)."""
        h = hashlib.sha256()
        h.update(__version__.encode())
        h.update(repr(sorted(self.config.points.items())).encode())
        h.update(
            f"{self.config.assignment}|{self.config.public_share}|"
            f"{self.config.public_visibility}|{self.config.hidden_visibility}".encode()
        )
        h.update(hmac.new(self.config.secret.encode(), b"fp", hashlib.sha256).digest())
        h.update(repr(self.config.limits).encode())
        for name in sorted(sub.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(sub.files[name]).digest())
        return h.hexdigest()[:32]

    def grade(self, sub: Submission) -> SubmissionResult:
        started = time.perf_counter()
        result = SubmissionResult(
            sub.student,
            sub.origin,
            problems=list(sub.problems),
            isolation=self.isolation.level,
            metadata=dict(sub.metadata),
            fingerprint=self.fingerprint(sub),
        )
        cases = self.cases(sub.student)
        workdir = scratch.mkdtemp("sub-")
        try:
            package = materialise(sub, workdir)
            if "_checks.py" not in sub.files and (STUBS_DIR / "_checks.py").is_file():
                shutil.copyfile(STUBS_DIR / "_checks.py", package / "_checks.py")
                if sub.files:
                    result.problems.append(
                        "cnn/_checks.py was missing; the handout's copy was used."
                    )
            banned = banned_modules(sub.files)
            report = run_calls(
                package,
                [c.call for c in cases],
                [c.item for c in cases],
                [c.check_mutation and c.call.program == "call" for c in cases],
                limits=self.config.limits,
                isolation=self.isolation,
                hide=list(self.hide),
                modules=MODULES,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        for module, why in sorted(report.import_errors.items()):
            if module == "*":
                result.problems.append(f"Your package could not be started: {why}.")
            elif f"{module}.py" in sub.files:
                result.problems.append(f"cnn/{module}.py could not be imported: {why}")
            else:
                result.problems.append(
                    f"cnn/{module}.py is missing, so its functions earn no points."
                )
        result.problems += [f"{why}." for why in banned.values()]
        tests = self._tests(cases, report.outcomes, banned)
        result.tests = tests
        result.seconds = round(time.perf_counter() - started, 3)
        return result

    def _tests(self, cases, outcomes, banned: dict[str, str]) -> list[TestResult]:
        cfg = self.config
        by_key: dict[tuple[str, str], TestResult] = {}
        for item in self.items:
            points = cfg.points[item]
            share = cfg.public_share
            for group, weight, vis in (
                ("public", share, cfg.public_visibility),
                ("hidden", 1 - share, cfg.hidden_visibility),
            ):
                by_key[item, group] = TestResult(item, group, round(points * weight, 4), vis)
        verdicts = [judge(case, outcome) for case, outcome in zip(cases, outcomes, strict=True)]
        working = {
            c.item
            for c, v in zip(cases, verdicts, strict=True)
            if v.passed and not isinstance(c.expect, Raises)
        }
        for case, outcome, verdict in zip(cases, outcomes, verdicts, strict=True):
            if isinstance(case.expect, Raises) and verdict.passed and case.item not in working:
                # The argument checks are given code: they earn points only beside a
                # function that works on valid arguments.
                verdict = Verdict(
                    False,
                    "not counted yet: the argument check is given code, "
                    "and it earns points once the function itself passes a case.",
                )
            by_key[case.item, case.group].cases.append(
                CaseResult(
                    case.item,
                    case.name,
                    case.group,
                    case.oracle,
                    verdict.passed,
                    verdict.message,
                    verdict.mistake,
                    round(outcome.seconds, 4),
                )
            )
        for (item, _group), test in by_key.items():
            reason = _banned_reason(item, banned)
            if reason:
                test.zero_reason = reason
        return [t for t in by_key.values() if t.max_score > 0 or t.cases]


def _banned_reason(item: str, banned: dict[str, str]) -> str:
    module = item.split(".")[0]
    if module in banned:
        return banned[module]
    private = [m for m in banned if m.startswith("_") or m not in MODULES]
    if private:
        return banned[private[0]]
    if item == "model.lecture_model_forward":
        for dep in MODEL_DEPENDS_ON:
            if dep in banned:
                return banned[dep] + " (the model is built from it)"
    return ""


def mistake_text(mistake: str) -> str:
    return MISTAKES.get(mistake, mistake)
