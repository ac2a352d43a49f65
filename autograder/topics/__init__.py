"""The topics: one folder per module of the contract, holding everything the engine knows about
grading it. The engine finds them by scanning this folder (no central list to edit).

A topic folder ``topics/<module>/`` holds (docs/design.md, "Adding a topic"):

- ``topic.toml`` (data): for each part the topic belongs to, its plan module, its place in the
  part's teaching order and its items' default points; its Keras bank (``[bank] module`` and its
  place in the bank's draw stream, or ``[bank] none``: why there is no Keras counterpart); its
  audit mutant files.
- the plan modules (``plan.py``; the model topic also ``plan_part2.py``): ``GENERATORS``: item ->
  generator, ``MISTAKES``: mistake id -> one plain sentence for the student, optionally
  ``BANK_MISTAKES``: item -> fn(bank case) -> {mistake id: that mistake's output}.
- ``bank.py``: ``add_specs(specs, draw)`` (the Keras bank's cases, pure numpy) and
  ``compute(K, spec)`` (how TensorFlow answers them; TF is imported only by ``grade oracle``).
- ``mutants*.yaml`` (data): the audit's wrong implementations (``autograder.audit.corpus``).

A generator is ``gen(ref, rng, group) -> list[Case]``: ``ref`` is the reference package
(``ref.conv.conv2d``), ``rng`` a :class:`~autograder.topics._shared.Draws` (for the hidden group:
the *plan*, i.e. every structural choice, drawn from the assignment's secret and the same for
every student; the *values* drawn per student), ``group`` is ``"public"`` or ``"hidden"``.

The case plan is what makes a score depend on the code only: every student of an assignment
gets the same number of cases, shapes, parameters, special values in the same places,
invalid-argument kinds and properties. A ``Draws`` routes ``integers``, ``choice``,
``permutation``, ``random`` and ``shuffle`` to the plan and ``normal``, ``uniform`` and
``standard_normal`` to the values; a generator that needs the other stream says so with
``rng.plan`` or ``rng.values``. No control flow may depend on a value draw (the plan stream
would then differ between students; ``grade audit`` checks it).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..cases import Case
from ..paths import PARTS
from ._shared import Draws, Generator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BANK_MISTAKES", "GENERATORS", "ITEMS", "MISTAKES", "PARTS", "TOPICS", "Draws", "Topic"]

TOPICS_DIR = Path(__file__).resolve().parent
TOPIC_FILE = "topic.toml"


@dataclass(frozen=True)
class Part:
    """A topic's share of one part: its plan module, its place, its items' default points."""

    plan: str
    order: int
    points: dict[str, float]


@dataclass(frozen=True)
class Topic:
    name: str  # the contract module (the folder's name)
    folder: Path
    parts: dict[str, Part]
    bank: str | None  # the bank module's name, or None
    bank_order: int
    no_bank: str  # why there is no bank (when ``bank`` is None)
    mutants: tuple[str, ...]  # file names in ``folder``

    def plan_module(self, part: str):
        return importlib.import_module(f"{__name__}.{self.name}.{self.parts[part].plan}")

    def bank_module(self):
        return None if self.bank is None else importlib.import_module(
            f"{__name__}.{self.name}.{self.bank}"
        )

    def mutant_files(self) -> list[tuple[str, Path]]:
        """(label, path) per mutant file: ``mutants_part2.yaml`` of ``model`` is ``model_part2``."""
        return [
            (self.name + name.removesuffix(".yaml").removeprefix("mutants"), self.folder / name)
            for name in self.mutants
        ]


class TopicError(ValueError):
    """A topic folder is malformed: one sentence."""


def _read(folder: Path) -> Topic:
    where = f"topics/{folder.name}/{TOPIC_FILE}"
    doc = tomllib.loads((folder / TOPIC_FILE).read_text(encoding="utf-8"))
    parts = {}
    for part, table in doc.get("parts", {}).items():
        if part not in PARTS:
            raise TopicError(f"{where}: part {part!r} is not one of {', '.join(PARTS)}.")
        parts[part] = Part(str(table["plan"]), int(table["order"]), dict(table["points"]))
    bank = doc.get("bank", {})
    if ("module" in bank) == ("none" in bank):
        raise TopicError(f"{where}: [bank] needs exactly one of `module` and `none`.")
    return Topic(
        name=folder.name,
        folder=folder,
        parts=parts,
        bank=bank.get("module"),
        bank_order=int(bank.get("order", 0)),
        no_bank=str(bank.get("none", "")),
        mutants=tuple(doc.get("audit", {}).get("mutants", ())),
    )


def scan(root: Path = TOPICS_DIR) -> dict[str, Topic]:
    """Every topic folder under ``root`` (a folder with a topic.toml), by name."""
    return {
        p.name: _read(p)
        for p in sorted(root.iterdir())
        if not p.name.startswith("_") and (p / TOPIC_FILE).is_file()
    }


def missing_parts(topic: Topic) -> list[str]:
    """What ``topic``'s folder lacks, one sentence each (empty: complete). Read from its files
    only: a plan module per part with default points for items of the topic, mutant files, and a
    bank module or a reason (``[bank] none``) why there is no Keras counterpart."""
    where = f"topics/{topic.name}"
    out = []
    if not topic.parts:
        out.append(f"{where}: topic.toml gives no part ([parts.<part>] with plan and points).")
    for part, share in topic.parts.items():
        if not (topic.folder / f"{share.plan}.py").is_file():
            out.append(f"{where}: no plan module {share.plan}.py for part {part}.")
        if not share.points:
            out.append(f"{where}: no default points for part {part}.")
        out += [
            f"{where}: item {item!r} is not named {topic.name}.<function>."
            for item in share.points
            if not item.startswith(f"{topic.name}.")
        ]
    if not topic.mutants:
        out.append(f"{where}: topic.toml lists no mutant files ([audit] mutants).")
    out += [
        f"{where}: no mutant file {name}." for name in topic.mutants
        if not (topic.folder / name).is_file()
    ]
    if topic.bank is not None and not (topic.folder / f"{topic.bank}.py").is_file():
        out.append(f"{where}: no bank module {topic.bank}.py.")
    if topic.bank is None and not topic.no_bank.strip():
        out.append(f"{where}: [bank] none must say why the topic has no Keras counterpart.")
    return out


TOPICS: dict[str, Topic] = scan()


def in_part(part: str) -> list[Topic]:
    """The topics of ``part``, in the part's teaching order."""
    topics = [t for t in TOPICS.values() if part in t.parts]
    return sorted(topics, key=lambda t: t.parts[part].order)


def part_points(part: str) -> dict[str, float]:
    """The default points of ``part``'s items, in teaching order."""
    return {k: v for t in in_part(part) for k, v in t.parts[part].points.items()}


def banked() -> list[Topic]:
    """The topics with a Keras bank, in the order they draw from the bank's one stream."""
    return sorted((t for t in TOPICS.values() if t.bank), key=lambda t: t.bank_order)


def _collect() -> tuple[dict[str, Generator], dict[str, str], dict[str, Callable]]:
    generators: dict[str, Generator] = {}
    bank_mistakes: dict[str, Callable[[Case], dict]] = {}
    mistakes: dict[str, str] = {
        "mutated-input": "Your function changed an input array in place; Keras never modifies "
        "its inputs (work on a copy).",
    }
    for part in PARTS:
        for topic in in_part(part):
            mod = topic.plan_module(part)
            generators.update(mod.GENERATORS)
            mistakes.update(getattr(mod, "MISTAKES", {}))
            bank_mistakes.update(getattr(mod, "BANK_MISTAKES", {}))
    return generators, mistakes, bank_mistakes


# BANK_MISTAKES: item -> fn(Keras-bank case) -> {mistake id: that mistake's output}, so that
# the feedback names a known mistake on the bank's cases too.
GENERATORS, MISTAKES, BANK_MISTAKES = _collect()
ITEMS: tuple[str, ...] = tuple(GENERATORS)
