"""Where the kit's own files live (the kit is used from a checkout: ``pip install -e``)."""

from __future__ import annotations

from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = KIT_ROOT / "solutions" / "cnn"
STUBS_DIR = KIT_ROOT / "assignments" / "cnn"
PUBLIC_TESTS_DIR = KIT_ROOT / "assignments" / "tests"
EXAMPLES_DIR = KIT_ROOT / "examples"

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
