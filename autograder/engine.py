"""Grade one submission: build its cases, run them in the sandbox, judge, score.

The trusted process (this one) builds every case and its expected value from the reference
solutions and the Keras bank; the student's code runs only in the sandbox worker; the answers
come back as data and are judged by :func:`autograder.compare.judge`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import platform
import shutil
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from .cases import Case, Close
from .compare import Verdict, judge
from .config import Config
from .discover import Submission, materialise
from .mistakes import Deferred
from .oracle.bank import load_bank
from .paths import ALL_MODULES, KIT_ROOT, SOLUTIONS_DIR, STUBS_DIR, modules_for
from .reference import load_solutions
from .results import CaseResult, GraderFailure, SubmissionResult, TestResult, points
from .sandbox import scratch
from .sandbox.isolation import Isolation, detect
from .sandbox.runner import prestart, run_calls
from .static import MODEL_DEPENDS_ON, banned_modules
from .topics import BANK_MISTAKES, GENERATORS, MISTAKES, Draws
from .trivial import discriminating, works


class Progress(Protocol):
    """What follows a grading as it goes (the Gradescope route's partial results)."""

    def __call__(self, cases: list[Case], outcomes: list, import_errors: dict[str, str]) -> None:
        """The outcomes so far (None: not run yet) and the import errors."""

    def tests(self, cases: list[Case], outcomes: list) -> list[TestResult]:
        """Every item's tests, as :meth:`Grader._tests` gives them (from its own partial work)."""
        ...


NOT_COUNTED = (
    "not counted yet: this case is also passed by an answer that computes nothing (a constant, "
    "zeros, the input itself) or checks arguments (given code); it earns points once the "
    "function gets right a case that only a real computation can."
)


def seed_for(*parts: str) -> int:
    """A 64-bit seed from text parts (HMAC-SHA256 keyed by the first part)."""
    key, *rest = parts
    digest = hmac.new(key.encode(), "\x1f".join(rest).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


@functools.lru_cache(maxsize=1)
def kit_digest() -> str:
    """A digest of everything in the kit that decides a score: the engine and the suite's code,
    the Keras bank, the reference solutions, the handout's given code, and the numpy and Python
    versions that compute the expected values (the version string never changes; this does)."""
    h = hashlib.sha256(f"{np.__version__}|{platform.python_version()}".encode())
    files = _engine_files(KIT_ROOT / "autograder")
    files += sorted(SOLUTIONS_DIR.glob("*.py")) + sorted(STUBS_DIR.glob("*.py"))
    for path in sorted(set(files)):
        h.update(str(path.relative_to(KIT_ROOT)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


# The class report's own modules: they decide no score and write no student's file (the report's
# facts are keyed by their code instead, see summary.report_facts), so changing them rebuilds
# the report and regrades nobody.
REPORT_ONLY = ("summary.py", "summary_charts.py", "summary_extra.py")


def _engine_files(package: Path) -> list[Path]:
    """The package's code and topic files (``.py``, ``.toml``) and every file of the bank's
    folder (``oracle/data``), at any depth; not ``audit/`` (the audit does not decide a score),
    the class report's modules (:data:`REPORT_ONLY`) nor ``__pycache__``. One walk of the
    folders (as ``Path.rglob`` walks them: symlinked folders are not entered, symlinked files
    are followed)."""
    top = str(package)
    data = os.path.join(str(package), "oracle", "data")
    audit = os.path.join(str(package), "audit")
    out = []
    for folder, subfolders, names in os.walk(package):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        if folder == audit or folder.startswith(audit + os.sep):
            subfolders[:] = []
            continue
        in_data = folder == data or folder.startswith(data + os.sep)
        for name in names:
            if folder == top and name in REPORT_ONLY:
                continue
            path = os.path.join(folder, name)
            if (in_data or name.endswith((".py", ".toml"))) and os.path.isfile(path):
                out.append(Path(path))
    return out


def item_rng(seed: int, item: str) -> np.random.Generator:
    """One generator per item, so adding an item never changes another item's cases."""
    return np.random.default_rng([seed, zlib.crc32(item.encode())])


@functools.lru_cache(maxsize=256)
def _start_state(seed: int, item: str) -> dict:
    return item_rng(seed, item).bit_generator.state


class _Unseeded(np.random.bit_generator.ISeedSequence):
    """Seeds a bit generator whose state is set right after (no SeedSequence hashing: a
    quarter of the cost of ``PCG64(0)``)."""

    def generate_state(self, n_words, dtype=np.uint32):
        return np.zeros(n_words, dtype=dtype)


_UNSEEDED = _Unseeded()


def fresh_item_rng(seed: int, item: str) -> np.random.Generator:
    """:func:`item_rng` for a seed met again and again (the plan's, the same for every
    student): a new generator at the remembered starting state (the same stream, without
    hashing the seed each time)."""
    bits = np.random.PCG64(_UNSEEDED)
    bits.state = _start_state(seed, item)
    return np.random.Generator(bits)


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
    # id(shared case) -> trivial.discriminating(case): shared cases live as long as the batch.
    _disc_cache: dict[int, bool] = field(default_factory=dict, init=False, repr=False)
    _shared_ids: frozenset[int] = field(default=frozenset(), init=False, repr=False)
    # id(shared case) -> what the judge computes from the case alone (see compare.judge)
    _judge_memo: dict[int, dict] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def create(cls, config: Config, hide: tuple[Path, ...] = ()) -> Grader:
        # Only the graded parts' banks: the other parts' items carry no points here.
        return cls(config, load_solutions(), load_bank(parts=config.parts), detect(), hide)

    @property
    def items(self) -> list[str]:
        return [item for item in GENERATORS if self.config.points.get(item, 0) > 0]

    def public_seed(self) -> int:
        return seed_for("public", self.config.assignment)

    def hidden_seed(self, student: str) -> int:
        return seed_for(self.config.secret, self.config.assignment, student)

    def plan_seed(self) -> int:
        """The hidden cases' structure: from the secret, the same for every student."""
        return seed_for(self.config.secret, self.config.assignment, "\x00plan")

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
                    if case.item in BANK_MISTAKES:  # computed when an answer needs them
                        case = replace(case, mistakes=Deferred(BANK_MISTAKES[case.item], case))
                    bank.setdefault(case.item, []).append(case)
                self._shared = {
                    item: (
                        GENERATORS[item](self.ref, Draws(item_rng(public, item)), "public"),
                        bank.get(item, []),
                    )
                    for item in self.items
                }
                self._shared_ids = frozenset(
                    id(c) for pub, bank in self._shared.values() for c in pub + bank
                )
            return self._shared

    def cases(self, student: str) -> list[Case]:
        """The cases one student is graded on (public ones are the same for everyone)."""
        out: list[Case] = []
        shared = self.shared_cases()
        hidden, plan = self.hidden_seed(student), self.plan_seed()
        for item in self.items:
            public, bank = shared[item]
            out += public
            draws = Draws(fresh_item_rng(plan, item), item_rng(hidden, item))
            out += GENERATORS[item](self.ref, draws, "hidden")
            out += bank
        return out

    @property
    def run_key(self) -> str:
        """Changes when the config or anything in the kit that decides a score changes
        (:func:`kit_digest`): the part of :meth:`fingerprint` that is the same for every
        student of a run."""
        h = hashlib.sha256()
        h.update(kit_digest().encode())
        h.update(repr(sorted(self.config.points.items())).encode())
        h.update(
            f"{self.config.assignment}|{self.config.public_share}|"
            f"{self.config.public_visibility}|{self.config.hidden_visibility}".encode()
        )
        h.update(hmac.new(self.config.secret.encode(), b"fp", hashlib.sha256).digest())
        h.update(repr(self.config.limits).encode())
        return h.hexdigest()[:32]

    def fingerprint(self, sub: Submission) -> str:
        """Changes when the submission or :attr:`run_key` changes, so that a rerun skips
        exactly the unchanged gradings."""
        h = hashlib.sha256(self.run_key.encode())
        for name in sorted(sub.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(sub.files[name]).digest())
        return h.hexdigest()[:32]

    def grade(self, sub: Submission, progress: Progress | None = None) -> SubmissionResult:
        """Grade ``sub``. ``progress(cases, outcomes, import_errors)``, when given, is called as
        the sandbox's outcomes arrive (the Gradescope route writes partial results from it), and
        ``progress.tests`` gives the tests (judged per module as they came: judged once)."""
        started = time.perf_counter()
        result = SubmissionResult(
            sub.student,
            sub.origin,
            problems=list(sub.problems),
            isolation=self.isolation.level,
            metadata=dict(sub.metadata),
            fingerprint=self.fingerprint(sub),
        )
        prestart(self.isolation)  # the sandbox's fork server starts while the cases are built
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
                modules=modules_for(self.config.parts),
                timeouts=[c.time_limit(self.config.limits) for c in cases],
                progress=None if progress is None else functools.partial(progress, cases),
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if "?" in report.import_errors:
            # The worker died before it imported any of the student's modules: the sandbox
            # could not start it (not the student's doing). The sandbox may also raise this.
            raise GraderFailure(
                f"the sandbox worker could not be started ({report.import_errors['?']})"
            )
        result.problems += import_problems(report.import_errors, sub.files, banned)
        if progress is None:
            tests = self._tests(cases, report.outcomes, banned)
        else:
            tests = progress.tests(cases, report.outcomes)
        add_lost_points(result, tests, cases, report.outcomes, self.config.limits)
        result.tests = tests
        result.seconds = round(time.perf_counter() - started, 3)
        return result

    def _discriminating(self, case: Case) -> bool:
        """:func:`trivial.discriminating`, once per batch for the cases every student shares."""
        shared = self._disc_cache.get(id(case))
        if shared is not None:
            return shared
        found = discriminating(case, self.ref)
        if id(case) in self._shared_ids:
            self._disc_cache[id(case)] = found
        return found

    def _memo(self, case: Case) -> dict | None:
        """The judge's memo of a shared case (it lives as long as the batch), else None."""
        if id(case) not in self._shared_ids:
            return None
        return self._judge_memo.setdefault(id(case), {})

    def _works(self, found: list[Case]) -> bool:
        """:func:`trivial.works` with the discriminating test run only until one case passes it
        (the same answer: ``works`` is true as soon as any passed case is discriminating)."""
        if any(self._discriminating(c) for c in found):
            return True
        return works([(c, False) for c in found])

    def _tests(self, cases, outcomes, banned: dict[str, str]) -> list[TestResult]:
        cfg = self.config
        by_key: dict[tuple[str, str], TestResult] = {}
        for item in self.items:
            worth = cfg.points[item]
            share = cfg.public_share
            for group, weight, vis in (
                ("public", share, cfg.public_visibility),
                ("hidden", 1 - share, cfg.hidden_visibility),
            ):
                by_key[item, group] = TestResult(item, group, points(worth * weight), vis)
        verdicts = [
            judge(case, outcome, self._memo(case))
            for case, outcome in zip(cases, outcomes, strict=True)
        ]
        passed: dict[str, list[Case]] = {}
        for c, v in zip(cases, verdicts, strict=True):
            if v.passed and isinstance(c.expect, Close):
                passed.setdefault(c.item, []).append(c)
        # The public test is visible before the due date: whether its cases count depends on
        # the public cases alone. The hidden test's cases count once any case shows the
        # function computes something.
        working = set()
        for item, found in passed.items():
            public = [c for c in found if c.group == "public"]
            if self._works(public):
                working |= {(item, "public"), (item, "hidden")}
            elif self._works(found):
                working.add((item, "hidden"))
        for case, outcome, verdict in zip(cases, outcomes, verdicts, strict=True):
            if verdict.passed and (case.item, case.group) not in working:
                # Nothing for doing nothing: argument checks (given code), properties and
                # cases a constant or echoed answer passes count once the function gets a
                # case right that no such answer can.
                verdict = Verdict(False, NOT_COUNTED)
            by_key[case.item, case.group].cases.append(
                CaseResult(
                    case.item,
                    case.name_source,  # (computed when a report shows the case)
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


def import_problems(
    import_errors: dict[str, str], files: dict[str, bytes], banned: dict[str, str]
) -> list[str]:
    """The problems the student reads about modules that did not import or use a framework."""
    out = []
    for module, why in sorted(import_errors.items()):
        if module == "*":
            out.append(f"Your package could not be started: {why}.")
        elif f"{module}.py" in files:
            out.append(f"cnn/{module}.py could not be imported: {why}")
        else:
            out.append(f"cnn/{module}.py is missing, so its functions earn no points.")
    return out + [f"{why}." for why in banned.values()]


def add_lost_points(result: SubmissionResult, tests: list[TestResult], cases: list[Case],
                    outcomes: list, limits) -> None:  # fmt: skip
    """Tell each cause of lost points (:func:`lost_points`) in ``result`` and its test's notes."""
    for (item, group), why in lost_points(cases, outcomes, limits):
        # Causes seen on hidden cases are told with the hidden test (after the due date).
        (result.problems if group == "public" else result.hidden_problems).append(why)
        for test in tests:
            if (test.item, test.group) == (item, group):
                test.notes.append(why)


def lost_points(cases: list[Case], outcomes: list, limits) -> list[tuple[tuple[str, str], str]]:
    """((item, group), sentence) per cause of lost points that a case message alone does not
    make plain: calls that ran out of time, crashed the worker, or were never run (the time
    budget ran out, or earlier cases of the function hung)."""
    found: dict[tuple[str, str, str], int] = {}
    for case, outcome in zip(cases, outcomes, strict=True):
        if outcome.status == "timeout":
            own = case.time_limit(limits)
            limit = own or limits.call_timeout
            why = f"ran out of time ({limit:g} s per call) and earned nothing"
            if own:
                key = f"limits.{case.timeout}, " if isinstance(case.timeout, str) else ""
                why = (
                    f"ran out of its own time limit ({key}{limit:g} s for the whole training "
                    "run) and earned nothing; only this case is lost: make the training loop "
                    "faster (vectorised layers, no Python loop over pixels)"
                )
        elif outcome.status == "crashed":
            why = "ended the worker process (a crash, too much memory or output) and earned nothing"
        elif outcome.status == "skipped" and "time budget" in outcome.detail:
            why = (
                f"were not run: the submission's time budget ({limits.submission_timeout:g} s "
                "in all) ran out, so they earned nothing"
            )
        elif outcome.status == "skipped" and "ran out of time" in outcome.detail:
            why = (
                "were not run because earlier cases of the same function hung; they earned nothing"
            )
        else:
            continue
        key = (case.item, case.group, why)
        found[key] = found.get(key, 0) + 1
    out = []
    for (item, group, why), count in found.items():
        module, name = item.split(".")
        out.append(((item, group), f"{count} {group} case(s) of {name} ({module}.py) {why}."))
    return out


def _banned_reason(item: str, banned: dict[str, str]) -> str:
    module = item.split(".")[0]
    if module in banned:
        return banned[module]
    private = [m for m in banned if m.startswith("_") or m not in ALL_MODULES]
    if private:
        return banned[private[0]]
    if item == "model.lecture_model_forward":
        for dep in MODEL_DEPENDS_ON:
            if dep in banned:
                return banned[dep] + " (the model is built from it)"
    return ""


def mistake_text(mistake: str) -> str:
    return MISTAKES.get(mistake, mistake)
