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


def _merge(parts: list[SubmissionResult], into: SubmissionResult) -> SubmissionResult:
    """One result from the per-module results: tests in order, each problem once."""
    into.tests = [t for part in parts for t in part.tests]
    seen_modules: set[str] = set()
    problems: list[str] = []
    for part in parts:
        for p in part.problems:
            if p in problems:
                continue
            if p.startswith("cnn/") and (" could not be imported" in p or " is missing" in p):
                module = p[4:].split(".py ", 1)[0]
                if module in seen_modules:  # the first chunk's word on a module stands
                    continue
                seen_modules.add(module)
            problems.append(p)
    into.problems = problems
    into.seconds = round(sum(p.seconds for p in parts), 3)
    return into


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


def grade_progressively(
    grader,
    sub,
    write: Callable[[dict], None],
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Grade ``sub`` one module at a time within the submission's budget; after each module call
    ``write`` with a complete results dict (the last one is the final result)."""
    from ..report import to_gradescope

    cfg: Config = grader.config
    started = clock()
    end = started + cfg.limits.submission_timeout
    items = grader.items
    modules = list(dict.fromkeys(module_of(i) for i in items))
    whole = SubmissionResult(
        sub.student,
        sub.origin,
        problems=list(sub.problems),
        isolation=grader.isolation.level,
        metadata=dict(sub.metadata),
        fingerprint=grader.fingerprint(sub),
    )
    parts: list[SubmissionResult] = []
    files = dict(sub.files)

    def snapshot(done: int) -> dict:
        data = to_gradescope(_merge(parts, whole))
        left = [i for i in items if module_of(i) in modules[done:]]
        if left:
            data["tests"].append(pending_entry(cfg, left, clock() - started))
            data["output"] = (
                "Partial result: grading was stopped before the end.\n" + data["output"]
            )
        return data

    write(snapshot(0))
    for n, module in enumerate(modules):
        remaining = max(end - clock(), 0.001)
        points = {k: (v if module_of(k) == module else 0.0) for k, v in cfg.points.items()}
        limits = dataclasses.replace(cfg.limits, submission_timeout=remaining)
        part_grader = dataclasses.replace(
            grader, config=dataclasses.replace(cfg, points=points, limits=limits)
        )
        part = part_grader.grade(dataclasses.replace(sub, files=dict(files)))
        parts.append(part)
        for other in modules:
            # A module whose import hung or ended the worker would cost that again in every
            # later worker (each imports the whole package): later workers do without it.
            why = next((p for p in part.problems if p.startswith(f"cnn/{other}.py ")), "")
            if "importing it" in why:
                files.pop(f"{other}.py", None)
        write(snapshot(n + 1))
    return snapshot(len(modules))


def dumps(data: dict) -> str:
    return json.dumps(data, indent=1, allow_nan=False) + "\n"
