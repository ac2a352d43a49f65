"""The Keras oracle: a fixed bank of cases answered by real Keras, shipped as data.

``build_bank`` / ``verify_bank`` (``grade oracle build`` / ``grade oracle verify``) need
TensorFlow and import it only when called; ``load_bank`` and ``provenance`` never do, so
grading needs no TensorFlow. The topics' ``bank.py`` files import ``oracle.specs`` and
``oracle.keras``, so this package imports ``build``/``verify`` (which gather the topics' banks)
only when they are asked for.
"""

from __future__ import annotations

from typing import Any

from .bank import load_bank, provenance

__all__ = ["build_bank", "load_bank", "provenance", "verify_bank"]


def __getattr__(name: str) -> Any:
    if name == "build_bank":
        from .build import build_bank

        return build_bank
    if name == "verify_bank":
        from .verify import verify_bank

        return verify_bank
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
