"""The Gradescope bundle's time budget and its progressive results.json.

Gradescope stops ``run_autograder`` after 10 minutes by default (the assignment's settings allow
up to 40), on about half a virtual CPU, and a stopped run gives the student 0 and no feedback.
So the bundle grades with limits that fit (:data:`GRADESCOPE_LIMITS`, used for every limit the
instructor's config leaves out) and writes ``results.json`` progressively: before grading, and
again (atomically) after each module's functions, so that a stop at any moment leaves a valid
results.json with everything graded so far and one visible, failed entry naming what was not.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..results import SubmissionResult

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The bundle's limits where the config sets none. Worst case (every call hangs): each of the 37
# functions costs one call timeout and a worker restart, and the whole submission stops at
# submission_timeout: about 5 minutes of Gradescope's 10, measured on half a CPU (README).
# The slowest correct loop-style case takes 1.4 s there, so 6 s per call leaves room.
GRADESCOPE_LIMITS: dict[str, float] = {
    "call_timeout": 6.0,
    "import_timeout": 10.0,
    "submission_timeout": 300.0,
    "max_timeouts_per_item": 1,
}
GRADESCOPE_TIMEOUT = 600.0  # Gradescope's default limit for one run_autograder, in seconds
STARTUP_MARGIN = 60.0  # loading the kit, the bank and the reference cases on half a CPU
PENDING_TEST = "Not graded (the autograder stopped)"


def explicit_limits(config_path: Path | None) -> set[str]:
    """The ``[limits]`` keys a config file sets itself (the file was validated already)."""
    if config_path is None:
        return set()
    try:
        data = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    limits = data.get("limits", {})
    return set(limits) if isinstance(limits, dict) else set()


def bundle_config(cfg: Config, explicit: set[str]) -> Config:
    """``cfg`` with the bundle's limits for every limit its file did not set."""
    lim = cfg.limits
    values = {}
    for name, value in GRADESCOPE_LIMITS.items():
        if name not in explicit:
            kind = type(getattr(lim, name))
            values[name] = kind(value)
    return dataclasses.replace(cfg, limits=dataclasses.replace(lim, **values))


def worst_case_seconds(cfg: Config) -> float:
    """How long run_autograder can take on a submission that hangs everywhere."""
    return cfg.limits.submission_timeout + STARTUP_MARGIN


def hard_stop_seconds(cfg: Config) -> int:
    """When run_autograder stops the engine from outside (its results.json is already valid)."""
    return int(worst_case_seconds(cfg) + 60)


def module_of(item: str) -> str:
    return item.split(".")[0]


def chunks(items: list[str]) -> list[list[str]]:
    """The graded items in runs of one module each, in grading order (the points at which
    results.json is rewritten; part 2's model items come after the backward passes)."""
    out: list[list[str]] = []
    for item in items:
        if out and module_of(out[-1][-1]) == module_of(item):
            out[-1].append(item)
        else:
            out.append([item])
    return out


def pending_entry(cfg: Config, items: list[str], elapsed: float) -> dict:
    """The visible, failed entry for the functions not graded yet."""
    names = ", ".join(f"`{i}`" for i in items)
    points = round(sum(cfg.points[i] for i in items), 4)
    return {
        "name": PENDING_TEST,
        "number": "0",
        "score": 0,
        "max_score": points,
        "status": "failed",
        "visibility": "visible",
        "output_format": "md",
        "output": (
            f"The autograder was stopped after {elapsed:.0f} s, before it graded: {names}. "
            "This partial result counts only what was graded; usually code that runs too long "
            "is the cause. Ask your instructor if it stays."
        ),
    }


class _Partial:
    """The results of the modules graded so far, from the sandbox's outcomes as they arrive."""

    def __init__(self, grader, sub, write: Callable[[dict], None], clock: Callable[[], float]):
        from ..static import banned_modules

        self.grader, self.sub, self.write, self.clock = grader, sub, write, clock
        self.started = clock()
        self.chunks = chunks(grader.items)
        self.done = 0  # chunks graded
        self.banned = banned_modules(sub.files)
        self.lost = SubmissionResult(sub.student, sub.origin)  # causes of lost points so far
        self.shown: list = []  # the graded modules' tests, with their notes (for snapshots)
        self.judged: list = []  # the same, as Grader._tests gives them (for the final result)
        self.import_errors: dict[str, str] = {}
        self.where: list[list[int]] | None = None  # per chunk: the indices of its cases
        self.fingerprint = grader.fingerprint(sub)

    def snapshot(self) -> dict:
        from ..engine import import_problems
        from ..report import to_gradescope

        sub, grader = self.sub, self.grader
        partial = SubmissionResult(
            sub.student,
            sub.origin,
            tests=list(self.shown),
            problems=list(sub.problems)
            + import_problems(self.import_errors, sub.files, self.banned)
            + self.lost.problems,
            hidden_problems=list(self.lost.hidden_problems),
            isolation=grader.isolation.level,
            metadata=dict(sub.metadata),
            fingerprint=self.fingerprint,
        )
        data = to_gradescope(partial)
        left = [i for chunk in self.chunks[self.done :] for i in chunk]
        if left:
            elapsed = self.clock() - self.started
            data["tests"].append(pending_entry(grader.config, left, elapsed))
            data["output"] = (
                "Partial result: grading was stopped before the end.\n" + data["output"]
            )
        return data

    def __call__(self, cases: list, outcomes: list, import_errors: dict[str, str]) -> None:
        """The sandbox's progress: rewrite results.json once a module's cases all have their
        outcome (the last module's result is the final one, written by the caller)."""
        from ..engine import add_lost_points

        before = self.done
        while self.done < len(self.chunks) - 1:
            idx = self._where(cases)[self.done]
            if idx and (outcomes[idx[-1]] is None or any(outcomes[i] is None for i in idx)):
                break
            mine = [cases[i] for i in idx]
            got = [outcomes[i] for i in idx]
            judged = self._judge(self.done, mine, got)
            shown = [dataclasses.replace(t, notes=list(t.notes)) for t in judged]
            add_lost_points(self.lost, shown, mine, got, self.grader.config.limits)
            self.shown += shown
            self.done += 1
        if self.done > before:
            self.import_errors = dict(import_errors)
            self.write(self.snapshot())

    def _where(self, cases: list) -> list[list[int]]:
        if self.where is None:
            self.where = [
                [i for i, c in enumerate(cases) if c.item in chunk] for chunk in self.chunks
            ]
        return self.where

    def _judge(self, k: int, mine: list, got: list) -> list:
        """Chunk ``k``'s tests (an item's tests depend on its own cases only)."""
        chunk = set(self.chunks[k])
        judged = [t for t in self.grader._tests(mine, got, self.banned) if t.item in chunk]
        self.judged += judged
        return judged

    def tests(self, cases: list, outcomes: list) -> list:
        """Every item's tests: the modules judged as they came, then the rest."""
        for k in range(self.done, len(self.chunks)):
            idx = self._where(cases)[k]
            self._judge(k, [cases[i] for i in idx], [outcomes[i] for i in idx])
        return [dataclasses.replace(t, notes=list(t.notes)) for t in self.judged]


def grade_progressively(
    grader,
    sub,
    write: Callable[[dict], None],
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Grade ``sub`` as ``grade run`` does (one sandbox run, the submission's one budget), and
    call ``write`` with a complete results dict before grading, after each module's functions
    (from the sandbox's outcomes as they arrive) and at the end (the final result)."""
    from ..report import to_gradescope

    partial = _Partial(grader, sub, write, clock)
    write(partial.snapshot())
    final = to_gradescope(grader.grade(sub, progress=partial))
    write(final)
    return final


def dumps(data: dict) -> str:
    return json.dumps(data, indent=1, allow_nan=False) + "\n"
