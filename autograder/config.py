"""The instructor's configuration: points, visibility, limits, the secret behind hidden cases.

A config is an optional TOML file (``grade run --config grade.toml``); anything it leaves out
keeps the default below. ``grade config`` prints a complete file to start from.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from .paths import part_points  # the topics' topic.toml data: no topic code, no numpy
from .sandbox.isolation import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
SECRET_ENV = "CNN_GRADE_SECRET"
DEV_SECRET = "cnn-kit-development-secret"

# Points per graded item, part by part (each part's add up to 100): the topics' defaults
# (autograder/topics/<module>/topic.toml), in teaching order.
DEFAULT_POINTS: dict[str, float] = part_points("forward")
FORWARD_POINTS = DEFAULT_POINTS  # part 1 ("forward"): the defaults above, unchanged
BACKWARD_POINTS: dict[str, float] = part_points("backward")  # part 2: backward passes, training
# The parts an instructor may choose with `[grading] parts`, in teaching order.
PART_POINTS: dict[str, dict[str, float]] = {"forward": FORWARD_POINTS, "backward": BACKWARD_POINTS}
DEFAULT_PARTS: tuple[str, ...] = ("forward",)


def points_for(parts) -> dict[str, float]:
    """The default points of the chosen parts (in teaching order)."""
    out: dict[str, float] = {}
    for part in PART_POINTS:
        if part in parts:
            out.update(PART_POINTS[part])
    return out


def part_of(item: str) -> str | None:
    return next((p for p, pts in PART_POINTS.items() if item in pts), None)


class ConfigError(Exception):
    """A bad configuration: one sentence saying what is wrong and what was expected."""


@dataclass
class Config:
    assignment: str = "cnn-lecture"
    secret: str = ""
    public_share: float = 0.25  # share of each item's points earned on its public cases
    public_visibility: str = "visible"
    hidden_visibility: str = "after_due_date"
    parts: tuple[str, ...] = DEFAULT_PARTS
    points: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    limits: Limits = field(default_factory=Limits)

    @property
    def total(self) -> float:
        return float(sum(self.points.values()))

    @property
    def secret_is_default(self) -> bool:
        return self.secret == DEV_SECRET


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (TOML) over the defaults; the secret comes from the file or the
    environment variable ``CNN_GRADE_SECRET``."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(
                f"--config {path} is a folder; expected a TOML file (see `grade config`)."
            )
        if not path.is_file():
            raise ConfigError(f"No such config file: {path}.")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    cfg = Config()
    known = {"grading", "visibility", "limits", "points"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"Unknown section [{sorted(unknown)[0]}] in {path}: expected {sorted(known)}."
        )
    grading = _table(data, "grading")
    for key, value in grading.items():
        if key == "assignment":
            cfg.assignment = _string(value, "grading.assignment")
        elif key == "secret":
            cfg.secret = _string(value, "grading.secret")
        elif key == "parts":
            cfg.parts = _parts(value)
            cfg.points = points_for(cfg.parts)
        elif key == "public_share":
            share = _number(value, "grading.public_share")
            if not 0 <= share <= 1:
                raise ConfigError(f"grading.public_share must be in [0, 1]; received {share}.")
            cfg.public_share = share
        else:
            raise ConfigError(
                f"Unknown key grading.{key}: expected assignment, secret, parts or public_share."
            )
    for key, value in _table(data, "visibility").items():
        if key not in ("public", "hidden"):
            raise ConfigError(f"Unknown key visibility.{key}: expected public or hidden.")
        if value not in VISIBILITIES:
            raise ConfigError(
                f"visibility.{key} must be one of {', '.join(VISIBILITIES)}; received {value!r}."
            )
        setattr(cfg, f"{key}_visibility", value)
    limits = {}
    names = {f.name: f.type for f in fields(Limits)}
    for key, value in _table(data, "limits").items():
        if key not in names:
            raise ConfigError(f"Unknown key limits.{key}: expected one of {', '.join(names)}.")
        number = _number(value, f"limits.{key}")
        if number <= 0:
            raise ConfigError(f"limits.{key} must be positive; received {value}.")
        limits[key] = int(number) if names[key] in ("int", int) else float(number)
    cfg.limits = Limits(**limits)
    for key, value in _table(data, "points").items():
        part = part_of(key)
        if part is not None and part not in cfg.parts:
            raise ConfigError(
                f"[points] gives {key!r} points, but it belongs to part {part!r}, which "
                f"[grading] parts = {list(cfg.parts)} does not include: add {part!r} to parts "
                "or remove the line."
            )
        if part is None:
            raise ConfigError(
                f"Unknown item {key!r} in [points]: expected names like "
                "'conv.conv2d' (see `grade config`)."
            )
        number = _number(value, f"points.{key}")
        if number < 0:
            raise ConfigError(f"points.{key} must be >= 0; received {value}.")
        cfg.points[key] = number
    if not any(points > 0 for points in cfg.points.values()):
        raise ConfigError(
            f"Every item in {path} has 0 points, so nothing would be graded: give at least "
            "one item points > 0 in [points]."
        )
    cfg.secret = cfg.secret or os.environ.get(SECRET_ENV, "") or DEV_SECRET
    return cfg


def _parts(value) -> tuple[str, ...]:
    names = list(PART_POINTS)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in PART_POINTS for v in value)
        or len(set(value)) != len(value)
    ):
        raise ConfigError(
            f"grading.parts must be a non-empty list of distinct parts from {names} "
            f'(e.g. parts = ["forward"]); received {value!r}.'
        )
    return tuple(p for p in names if p in value)


def _table(data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table of keys; received {value!r}.")
    return value


def _string(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty string; received {value!r}.")
    return value


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number; received {value!r}.")
    return float(value)


def example_config() -> str:
    """A complete config file with every default, for ``grade config``."""
    lim = Limits()
    lines = [
        "# Configuration for `grade run --config FILE`. Every key is optional.",
        "[grading]",
        'assignment = "cnn-lecture"',
        f"# The secret behind each student's hidden cases: set it here or in ${SECRET_ENV};",
        "# keep it out of the handout. The same secret reproduces the same cases on a regrade.",
        '# secret = "change-me"',
        "public_share = 0.25   # share of each item's points earned on its public cases",
        '# Which parts are graded (and shipped in the handout and the bundles): "forward"',
        '# (part 1: layers, optimizers, the lecture model\'s forward pass) and/or "backward"',
        "# (part 2: backward passes, gradient checking, training). Each part's defaults add up",
        "# to 100; a key of [points] must belong to a chosen part.",
        'parts = ["forward"]',
        "",
        "[visibility]   # visible | hidden | after_due_date | after_published",
        'public = "visible"',
        'hidden = "after_due_date"',
        "",
        "[limits]",
        *[f"{f.name} = {getattr(lim, f.name)}" for f in fields(Limits)],
        "",
        "[points]   # per graded item of the chosen parts; each part's defaults add up to 100",
        *[f'"{k}" = {v:g}' for k, v in DEFAULT_POINTS.items()],
        '# Part 2 ("backward"): only with parts containing "backward"; uncomment to change.',
        *[f'# "{k}" = {v:g}' for k, v in BACKWARD_POINTS.items()],
    ]
    return "\n".join(lines) + "\n"
