"""Grade the whole corpus with the real engine and measure the suite.

Every mutant and every correct implementation is graded by :class:`autograder.engine.Grader`
(sandbox included) under a fixed audit secret, exactly as ``grade run`` would grade a student.
A mutant is *killed* when it loses points on the item it breaks, and *named* when the mistake
ids of that item's failing cases include the one the corpus expects. A correct implementation
must lose no point at all; every case it fails is a *false failure*.

Every submission is graded under several student ids (:data:`AUDIT_IDS`): the same code must get
the same score under each (its *spread*, the largest difference of its total or of one item's
score, must be 0). The "computes nothing" adversaries (:mod:`.nothing`) must score 0.
"""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from ..config import DEFAULT_PARTS, Config, part_of, points_for
from ..discover import Submission
from ..engine import Grader, kit_digest
from ..paths import modules_for
from ..pool import Done, Pool, WorkerDied
from ..results import CaseResult, SubmissionResult, TestResult
from ..sandbox import runner
from .corpus import (
    Correct,
    Mutant,
    correct_submission,
    load_correct,
    load_mutants,
    mutant_submission,
)
from .nothing import KINDS, nothing_submission

AUDIT_SECRET = "cnn-kit-audit-secret"  # fixed, so an audit is reproducible
# The targets of the issue: every mutant killed, no point lost by a correct implementation,
# at least this share of the expected mistakes named.
TARGET_NAMED = 0.90
# Every submission is graded under this many student ids (the first is its own).
AUDIT_IDS = 4


@dataclass
class MutantResult:
    id: str
    module: str
    target: str
    item: str
    expected: str | None
    story: str
    item_score: float
    item_max: float
    killed: bool
    named: bool
    named_ids: list[str]
    failing: int  # failing cases of the item
    cases: int
    example: str  # one failure message of the item (what the student would read)
    collateral: dict[str, float] = field(default_factory=dict)  # other items that lost points
    error: str = ""  # the grader failed on it (then it does not count as killed)
    problems: list[str] = field(default_factory=list)
    spread: float = 0.0  # largest score difference (total or one item) between student ids


@dataclass
class CorrectResult:
    name: str
    style: str
    score: float
    max_score: float
    failures: list[dict] = field(default_factory=list)  # {item, group, case, message}
    problems: list[str] = field(default_factory=list)
    error: str = ""
    spread: float = 0.0


@dataclass
class NothingResult:
    kind: str
    score: float  # the highest over the student ids
    max_score: float
    items: dict[str, float] = field(default_factory=dict)  # items that earned something
    spread: float = 0.0
    error: str = ""


@dataclass
class Audit:
    mutants: list[MutantResult]
    correct: list[CorrectResult]
    isolation: str
    seconds: float
    items: list[str]
    nothing: list[NothingResult] = field(default_factory=list)
    ids: int = 1

    @property
    def max_spread(self) -> float:
        spreads = [m.spread for m in self.mutants] + [c.spread for c in self.correct]
        spreads += [n.spread for n in self.nothing]
        return max(spreads, default=0.0)

    @property
    def unequal(self) -> list[str]:
        """Submissions whose score depends on the student id."""
        found = [f"mutant {m.id}: {m.spread}" for m in self.mutants if m.spread]
        found += [f"correct {c.name}: {c.spread}" for c in self.correct if c.spread]
        return found + [f"nothing-{n.kind}: {n.spread}" for n in self.nothing if n.spread]

    @property
    def nothing_score(self) -> float:
        return max((n.score for n in self.nothing), default=0.0)

    @property
    def killed(self) -> int:
        return sum(m.killed for m in self.mutants)

    @property
    def expected_named(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.expected]

    @property
    def named(self) -> int:
        return sum(m.named for m in self.expected_named)

    @property
    def named_share(self) -> float:
        expected = self.expected_named
        return self.named / len(expected) if expected else 1.0

    @property
    def false_failures(self) -> int:
        return sum(len(c.failures) for c in self.correct)

    @property
    def errors(self) -> list[str]:
        found = [f"{m.id}: {m.error}" for m in self.mutants if m.error]
        found += [f"nothing-{n.kind}: {n.error}" for n in self.nothing if n.error]
        return found + [f"{c.name}: {c.error}" for c in self.correct if c.error]

    @property
    def points_lost_by_correct(self) -> float:
        return round(sum(c.max_score - c.score for c in self.correct), 4)

    def per_item(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for item in self.items:
            ms = [m for m in self.mutants if m.item == item]
            exp = [m for m in ms if m.expected]
            out[item] = {
                "mutants": len(ms),
                "killed": sum(m.killed for m in ms),
                "expected_named": len(exp),
                "named": sum(m.named for m in exp),
            }
        return out

    @property
    def targets_met(self) -> bool:
        return (
            self.killed == len(self.mutants)
            and self.points_lost_by_correct == 0
            and self.false_failures == 0
            and self.named_share >= TARGET_NAMED
            and not self.errors
            and self.max_spread == 0
            and self.nothing_score == 0
        )

    def to_json(self) -> dict:
        return {
            "summary": {
                "mutants": len(self.mutants),
                "killed": self.killed,
                "mutation_score": round(self.killed / len(self.mutants), 4)
                if self.mutants
                else 1.0,
                "mistakes_expected": len(self.expected_named),
                "mistakes_named": self.named,
                "named_share": round(self.named_share, 4),
                "correct_implementations": len(self.correct),
                "false_failures": self.false_failures,
                "points_lost_by_correct": self.points_lost_by_correct,
                "student_ids": self.ids,
                "max_spread": self.max_spread,
                "unequal": self.unequal,
                "nothing_score": self.nothing_score,
                "targets": {
                    "killed": "all",
                    "false_failures": 0,
                    "named_share": TARGET_NAMED,
                    "max_spread": 0,
                    "nothing_score": 0,
                },
                "targets_met": self.targets_met,
                "grader_errors": self.errors,
                "isolation": self.isolation,
                "seconds": round(self.seconds, 1),
            },
            "per_item": self.per_item(),
            "mutants": [asdict(m) for m in self.mutants],
            "correct": [asdict(c) for c in self.correct],
            "nothing": [asdict(n) for n in self.nothing],
        }


def audit_config(module: str | None = None, parts: tuple[str, ...] = DEFAULT_PARTS) -> Config:
    """The audit's config for ``parts``; with ``module``, only that module's items carry points."""
    cfg = Config(secret=AUDIT_SECRET, parts=tuple(parts), points=points_for(parts))
    if module is not None:
        cfg.points = {
            item: (points if item.split(".")[0] == module else 0)
            for item, points in cfg.points.items()
        }
    return cfg


def _judge_mutant(mutant: Mutant, result: SubmissionResult, reference: dict) -> MutantResult:
    scores = result.item_scores()
    tests = [t for t in result.tests if t.item == mutant.item]
    item_max = round(sum(t.max_score for t in tests), 4)
    item_score = scores.get(mutant.item, 0.0)
    failing = [c for t in tests for c in t.cases if not c.passed]
    named_ids = sorted({c.mistake for c in failing if c.mistake})
    collateral = {
        item: round(reference[item] - score, 4)
        for item, score in scores.items()
        if item != mutant.item and score < reference.get(item, 0.0)
    }
    return MutantResult(
        id=mutant.id,
        module=mutant.module,
        target=mutant.target,
        item=mutant.item,
        expected=mutant.mistake,
        story=mutant.story,
        item_score=item_score,
        item_max=item_max,
        killed=not result.error and item_score < item_max,
        named=mutant.mistake is not None and mutant.mistake in named_ids,
        named_ids=named_ids,
        failing=len(failing),
        cases=sum(len(t.cases) for t in tests),
        example=_example(failing, mutant.mistake),
        collateral=collateral,
        error=result.error,
        problems=list(result.problems),
    )


def _example(failing, mistake: str | None) -> str:
    if not failing:
        return ""
    chosen = next((c for c in failing if mistake and c.mistake == mistake), failing[0])
    return f"{chosen.name}: {chosen.message}"


def _judge_correct(correct: Correct, result: SubmissionResult) -> CorrectResult:
    failures = [
        {"item": t.item, "group": t.group, "case": c.name, "message": c.message}
        for t in result.tests
        for c in t.cases
        if not c.passed
    ]
    return CorrectResult(
        name=correct.name,
        style=correct.style,
        score=result.score,
        max_score=result.max_score,
        failures=failures,
        problems=list(result.problems),
        error=result.error,
    )


def run_audit(
    *,
    jobs: int = 2,
    mutants: list[Mutant] | None = None,
    correct: list[Correct] | None = None,
    progress: Callable[[int], None] | None = None,
    full: bool = False,
    ids: int = AUDIT_IDS,
    nothing: bool = True,
    parts: tuple[str, ...] = DEFAULT_PARTS,
) -> Audit:
    """Grade every mutant and correct implementation; return the measurements.

    Correct implementations are graded on every item. A mutant changes one module, so by default
    it is graded on that module's items only (the same cases, drawn from the same seeds, as in a
    full grading, in a fraction of the time); ``full=True`` grades mutants on every item too,
    which also measures the points they lose elsewhere (e.g. the model built from a wrong conv).
    Every submission is graded under ``ids`` student ids; ``nothing`` adds the adversaries.
    ``parts``: the parts graded (config ``[grading] parts``); only the mutants of their items
    and the correct implementations that hold every module of those parts take part.
    """
    started = time.perf_counter()
    mutants = load_mutants() if mutants is None else mutants
    correct = load_correct() if correct is None else correct
    mutants = [m for m in mutants if part_of(m.item) in parts]
    needed = {f"{m}.py" for m in modules_for(parts)}
    correct = [
        c
        for c in correct
        if all((c.path / name).is_file() for name in needed)
        and ("backward" in parts or not c.name.endswith("-part2"))  # part 2's own styles
    ]
    grader = Grader.create(audit_config(parts=parts))
    graders = {None: grader}
    if not full:
        for module in {m.module for m in mutants}:
            graders[module] = Grader(
                audit_config(module, parts), grader.ref, grader.bank, grader.isolation
            )
    subs = [(graders[None if full else m.module], mutant_submission(m)) for m in mutants]
    subs += [(grader, correct_submission(c)) for c in correct]
    adversaries = [nothing_submission(kind) for kind in (KINDS if nothing else ())]
    subs += [(grader, sub) for sub in adversaries]
    n_ids = max(1, ids)
    jobs_list = [(chosen, _as_student(sub, k)) for chosen, sub in subs for k in range(n_ids)]

    def grade(i: int) -> Done:
        chosen, sub = jobs_list[i]
        for attempt in range(3):  # a grader failure is retried, then reported
            try:
                result = chosen.grade(sub)
            except Exception as exc:  # noqa: BLE001 - reported, never counted as a kill
                detail = traceback.format_exc(limit=-3).strip().splitlines()
                result = SubmissionResult(
                    sub.student, sub.origin, error=f"grader error: {exc!r} ({detail[-3:]})"
                )
            if not result.error:
                break
            time.sleep(1 + 2 * attempt)  # e.g. a worker that could not start on a busy machine
        return Done(i, "graded", sub.student, record=asdict(result))

    names = [(sub.student, sub.origin) for _, sub in jobs_list]
    flat = _grade_all(grade, names, jobs, list(graders.values()), progress)
    per_sub = [flat[i * n_ids : (i + 1) * n_ids] for i in range(len(subs))]
    results = [group[0] for group in per_sub]
    spreads = [_spread(group) for group in per_sub]
    mutant_results = results[: len(mutants)]
    correct_results = results[len(mutants) : len(mutants) + len(correct)]
    # What a perfect submission earns per item (the max of every item the grader scores).
    reference: dict[str, float] = {}
    for t in correct_results[0].tests if correct_results else []:
        reference[t.item] = round(reference.get(t.item, 0.0) + t.max_score, 4)
    judged_m = [
        _judge_mutant(m, r, reference) for m, r in zip(mutants, mutant_results, strict=True)
    ]
    judged_c = [_judge_correct(c, r) for c, r in zip(correct, correct_results, strict=True)]
    for judged, spread in zip(judged_m + judged_c, spreads, strict=False):
        judged.spread = spread
    offset = len(mutants) + len(correct)
    judged_n = [
        _judge_nothing(
            sub.student.removeprefix("nothing-"), per_sub[offset + i], spreads[offset + i]
        )
        for i, sub in enumerate(adversaries)
    ]
    return Audit(
        mutants=judged_m,
        correct=judged_c,
        isolation=grader.isolation.level,
        seconds=time.perf_counter() - started,
        items=grader.items,
        nothing=judged_n,
        ids=n_ids,
    )


def _grade_all(grade: Callable[[int], Done], names: list[tuple[str, str]], jobs: int,
               graders: list[Grader], progress: Callable[[int], None] | None,
               ) -> list[SubmissionResult]:  # fmt: skip
    """``grade(i)`` for every submission i (``names[i]``: its student and origin): with ``jobs``
    > 1 in that many grading processes (:class:`autograder.pool.Pool`, as ``grade run --jobs N``:
    no interpreter lock shared between them), forked once the graders' per-batch state is
    built; the results in order."""
    count = len(names)
    found: list[SubmissionResult | None] = [None] * count
    pool = Pool(jobs, grade) if jobs > 1 and count > 1 else None
    if pool is not None:
        for grader in graders:
            grader.shared_cases()  # built once, before the grading processes are forked
        kit_digest()
    try:
        done_items = (
            (grade(i) for i in range(count)) if pool is None else pool.run(list(range(count)))
        )
        for done in done_items:
            if isinstance(done, WorkerDied):
                found[done.index] = SubmissionResult(
                    *names[done.index], error=f"grader error: {done}"
                )
            elif done.kind == "error":  # the grading code broke outside grade()'s own guard
                why = f"grader error: {done.student}"
                found[done.index] = SubmissionResult(*names[done.index], error=why)
            else:
                found[done.index] = _from_dict(done.record or {})
            if progress:
                progress(1)
    except BaseException:
        runner.stop_all()  # never leave a worker running behind an error
        if pool is not None:
            pool.stop(signal.SIGTERM)
        raise
    finally:
        if pool is not None:
            pool.close()
        runner.reset_stop()
    lost = SubmissionResult("?", "", error="grader error: no result came back")
    return [r if r is not None else lost for r in found]


def _from_dict(data: dict) -> SubmissionResult:
    """The inverse of ``dataclasses.asdict`` for a result sent back by a grading process."""
    tests = [
        TestResult(**{**t, "cases": [CaseResult(**c) for c in t["cases"]]})
        for t in data.get("tests", [])
    ]
    return SubmissionResult(**{**data, "tests": tests})


def _as_student(sub: Submission, k: int) -> Submission:
    """``sub`` under its own id (k = 0) or the k-th other id."""
    return sub if k == 0 else replace(sub, student=f"{sub.student}@{k + 1}")


def _spread(results: list[SubmissionResult]) -> float:
    """The largest difference between the results' totals, or between one item's scores."""
    if any(r.error for r in results):
        return 0.0
    rows = [dict(r.item_scores(), total=r.score) for r in results]
    keys = set().union(*rows)
    return round(
        max(
            (max(r.get(k, 0.0) for r in rows) - min(r.get(k, 0.0) for r in rows) for k in keys),
            default=0.0,
        ),
        4,
    )


def _judge_nothing(kind: str, results: list[SubmissionResult], spread: float) -> NothingResult:
    worst = max(results, key=lambda r: r.score)
    return NothingResult(
        kind=kind,
        score=worst.score,
        max_score=worst.max_score,
        items={k: v for k, v in worst.item_scores().items() if v > 0},
        spread=spread,
        error=next((r.error for r in results if r.error), ""),
    )
