"""Where the kit's own files live.

In a checkout (``pip install -e .``) and in the Gradescope bundle the package sits next to
``solutions/``, ``assignments/`` and ``examples/`` (a checkout also has ``corpus/``, the audit's
correct implementations); a wheel or ``pip install .`` carries those folders as package data
under ``autograder/_kit/`` (see ``setup.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE_DIR = Path(__file__).resolve().parent  # the ``autograder`` package itself
_CHECKOUT = PACKAGE_DIR.parent
KIT_ROOT = _CHECKOUT if (_CHECKOUT / "solutions" / "cnn").is_dir() else PACKAGE_DIR / "_kit"
SOLUTIONS_DIR = KIT_ROOT / "solutions" / "cnn"
STUBS_DIR = KIT_ROOT / "assignments" / "cnn"
PUBLIC_TESTS_DIR = KIT_ROOT / "assignments" / "tests"
EXAMPLES_DIR = KIT_ROOT / "examples"
CORPUS_DIR = KIT_ROOT / "corpus"  # the audit's correct implementations (data, not engine code)

TOPICS_DIR = PACKAGE_DIR / "topics"  # one folder per module of the contract (docs/design.md)
# The parts an instructor may choose with `[grading] parts`, in teaching order.
PARTS: tuple[str, ...] = ("forward", "backward")


def _topic_docs() -> dict[str, dict]:
    """Topic name -> its topic.toml (data only: no topic code is imported here, so every module
    of the kit may import this one, and ``grade --help`` imports no numpy)."""
    return {
        path.parent.name: tomllib.loads(path.read_text(encoding="utf-8"))
        for path in sorted(TOPICS_DIR.glob("*/topic.toml"))
    }


_TOPIC_DOCS = _topic_docs()


def _in_part(part: str) -> list[tuple[str, dict]]:
    """(topic, its [parts.<part>] table) for the topics of ``part``, in its teaching order."""
    found = [
        (int(table["order"]), name, table)
        for name, doc in _TOPIC_DOCS.items()
        for p, table in doc.get("parts", {}).items()
        if p == part
    ]
    return [(name, table) for _, name, table in sorted(found, key=lambda f: f[:2])]


def _part_modules() -> dict[str, tuple[str, ...]]:
    """Part -> its modules in teaching order, read from the topics' topic.toml files."""
    return {p: tuple(name for name, _ in _in_part(p)) for p in PARTS}


def part_points(part: str) -> dict[str, float]:
    """The default points of ``part``'s items, in teaching order, as the topics' topic.toml
    files give them (the same dict as ``autograder.topics.part_points``)."""
    return {k: v for _, table in _in_part(part) for k, v in dict(table["points"]).items()}


# The modules a worker imports when a part is graded (see config.PART_POINTS).
PART_MODULES: dict[str, tuple[str, ...]] = _part_modules()
# The modules of the contract, in teaching order: part 1's, then part 2's new ones (backward
# passes, gradient checking; part 2's model items live in model.py).
MODULES = PART_MODULES["forward"]
PART2_MODULES = tuple(m for m in PART_MODULES["backward"] if m not in MODULES)
ALL_MODULES = MODULES + PART2_MODULES


def modules_for(parts) -> tuple[str, ...]:
    """The contract modules of the chosen parts, in teaching order."""
    wanted = {m for part in parts for m in PART_MODULES.get(part, ())}
    return tuple(m for m in ALL_MODULES if m in wanted)
