"""The Keras bank's list of cases, gathered from the topics (``topics/<module>/bank.py``).

A topic with a Keras counterpart contributes ``ITEMS`` (the items it has cases for),
``add_specs(specs, draw)`` (its cases, pure numpy) and ``compute(K, spec)`` (how TensorFlow
answers one), optionally ``KERAS_MADE_INPUTS`` (item -> kwargs the build adds, made by Keras),
``EXACT`` (items compared exactly) and ``BATCH_SIZES`` (recorded in the provenance). The topics
draw from one seeded stream in their ``[bank] order`` (topic.toml), so the list is the same on
every machine and a new topic's cases go after the existing ones without changing them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..topics import banked, in_part
from .specs import PART2_SEED, SEED, Draw, Spec


def bank_modules() -> dict[str, ModuleType]:
    """Topic name -> its bank module, in bank order."""
    return {t.name: t.bank_module() for t in banked()}


def items() -> tuple[str, ...]:
    """Every item the bank has cases for, in bank order."""
    return tuple(i for mod in bank_modules().values() for i in mod.ITEMS)


def part2_modules() -> dict[str, ModuleType]:
    """Topic name -> its part-2 bank module (``bank_part2.py``), in part 2's teaching order."""
    return {
        t.name: importlib.import_module(f"{TOPICS_PACKAGE}.{t.name}.bank_part2")
        for t in in_part("backward")
        if (t.folder / "bank_part2.py").is_file()
    }


def part_items(part: str = "forward") -> tuple[str, ...]:
    """The items a part's bank covers (part 2: not gradcheck's, it has no Keras twin)."""
    if part == "forward":
        return ITEMS
    return tuple(i for mod in part2_modules().values() for i in mod.ITEMS)


def bank_specs(part: str = "forward") -> list[Spec]:
    """A part's bank case specs, deterministic from its seed (:data:`~.specs.SEED`,
    :data:`~.specs.PART2_SEED`)."""
    if part == "backward":
        draw = Draw(PART2_SEED)
        return [s for mod in part2_modules().values() for s in mod.specs(draw)]
    draw = Draw(SEED)
    specs: list[Spec] = []
    for mod in bank_modules().values():
        mod.add_specs(specs, draw)
    unknown = {s.item for s in specs} - set(items())
    assert not unknown, f"specs for items outside the contract: {unknown}"
    return specs


TOPICS_PACKAGE = "autograder.topics"


def module_of(item: str) -> ModuleType:
    """The bank module that computes ``item``'s cases (part 2's: its topic's bank_part2)."""
    topic = item.split(".")[0]
    part2 = part2_modules().get(topic)
    if part2 is not None and item in part2.ITEMS:
        return part2
    return bank_modules()[topic]


def is_part2(item: str) -> bool:
    return item in part_items("backward")


def keras_made_inputs(item: str) -> tuple[str, ...]:
    return tuple(getattr(module_of(item), "KERAS_MADE_INPUTS", {}).get(item, ()))


def is_exact(item: str) -> bool:
    return item in getattr(module_of(item), "EXACT", ())


def batch_sizes() -> dict:
    """What the provenance records about the batch sizes Keras used."""
    out: dict = {}
    for mod in bank_modules().values():
        out.update(getattr(mod, "BATCH_SIZES", {}))
    out["layers"] = "the whole input in one call"
    return out


ITEMS: tuple[str, ...] = items()
