"""The Keras oracle: a fixed bank of cases answered by real Keras, shipped as data.

``build_bank`` / ``verify_bank`` (``grade oracle build`` / ``grade oracle verify``) need
TensorFlow and import it only when called; ``load_bank`` and ``provenance`` never do, so
grading needs no TensorFlow.
"""

from .bank import load_bank, provenance
from .build import build_bank
from .verify import verify_bank

__all__ = ["build_bank", "load_bank", "provenance", "verify_bank"]
