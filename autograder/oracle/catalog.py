"""The Keras bank's list of cases, gathered from the topics (``topics/<module>/bank.py``).

A topic with a Keras counterpart contributes ``ITEMS`` (the items it has cases for),
``add_specs(specs, draw)`` (its cases, pure numpy) and ``compute(K, spec)`` (how TensorFlow
answers one), optionally ``KERAS_MADE_INPUTS`` (item -> kwargs the build adds, made by Keras),
``EXACT`` (items compared exactly) and ``BATCH_SIZES`` (recorded in the provenance). The topics
draw from one seeded stream in their ``[bank] order`` (topic.toml), so the list is the same on
every machine and a new topic's cases go after the existing ones without changing them.
"""

from __future__ import annotations

from types import ModuleType

from ..topics import banked
from .specs import SEED, Draw, Spec


def bank_modules() -> dict[str, ModuleType]:
    """Topic name -> its bank module, in bank order."""
    return {t.name: t.bank_module() for t in banked()}


def items() -> tuple[str, ...]:
    """Every item the bank has cases for, in bank order."""
    return tuple(i for mod in bank_modules().values() for i in mod.ITEMS)


def bank_specs() -> list[Spec]:
    """The bank's case specs, deterministic from :data:`~autograder.oracle.specs.SEED`."""
    draw = Draw(SEED)
    specs: list[Spec] = []
    for mod in bank_modules().values():
        mod.add_specs(specs, draw)
    unknown = {s.item for s in specs} - set(items())
    assert not unknown, f"specs for items outside the contract: {unknown}"
    return specs


def module_of(item: str) -> ModuleType:
    """The bank module that computes ``item``'s cases."""
    return bank_modules()[item.split(".")[0]]


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
