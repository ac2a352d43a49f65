"""Where the kit's own files live.

In a checkout (``pip install -e .``) and in the Gradescope bundle the package sits next to
``solutions/``, ``assignments/`` and ``examples/`` (a checkout also has ``corpus/``, the audit's
correct implementations); a wheel or ``pip install .`` carries those folders as package data
under ``autograder/_kit/`` (see ``setup.py``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # the ``autograder`` package itself
_CHECKOUT = PACKAGE_DIR.parent
KIT_ROOT = _CHECKOUT if (_CHECKOUT / "solutions" / "cnn").is_dir() else PACKAGE_DIR / "_kit"
SOLUTIONS_DIR = KIT_ROOT / "solutions" / "cnn"
STUBS_DIR = KIT_ROOT / "assignments" / "cnn"
PUBLIC_TESTS_DIR = KIT_ROOT / "assignments" / "tests"
EXAMPLES_DIR = KIT_ROOT / "examples"
CORPUS_DIR = KIT_ROOT / "corpus"  # the audit's correct implementations (data, not engine code)

# The modules of the contract, in teaching order.
MODULES = (
    "shapes",
    "conv",
    "pooling",
    "activations",
    "optimizers",
    "regularization",
    "training",
    "model",
)
# Part 2's new modules (backward passes, gradient checking); its model items live in model.py.
PART2_MODULES = ("backward", "gradcheck")
ALL_MODULES = MODULES + PART2_MODULES
# The modules a worker imports when a part is graded (see config.PART_POINTS).
PART_MODULES = {"forward": MODULES, "backward": ("backward", "gradcheck", "model")}


def modules_for(parts) -> tuple[str, ...]:
    """The contract modules of the chosen parts, in teaching order."""
    wanted = {m for part in parts for m in PART_MODULES.get(part, ())}
    return tuple(m for m in ALL_MODULES if m in wanted)
