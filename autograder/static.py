"""A static look at the student's modules: frameworks that would do the work for them.

Students who use TensorFlow, Keras, PyTorch, JAX or scipy's convolution/pooling inside
``cnn`` get zero for the affected items. The sandbox also refuses these imports at run time;
this check names the reason even when the import is hidden behind a string.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading

BANNED = {
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "tf_keras": "Keras",
    "torch": "PyTorch",
    "jax": "JAX",
    "jaxlib": "JAX",
    "scipy.signal": "scipy.signal",
    "scipy.ndimage": "scipy.ndimage",
}
# Modules whose functions the lecture model's forward pass is built from.
MODEL_DEPENDS_ON = ("conv", "pooling", "activations", "regularization", "training", "model")
_STRING = re.compile(r"\b(tensorflow|keras|torch|jax|scipy\.(?:signal|ndimage))\b")


_PARSE_LOCK = threading.Lock()


def _banned_name(name: str) -> str | None:
    for prefix, label in BANNED.items():
        if name == prefix or name.startswith(prefix + "."):
            return label
    return None


_seen: dict[bytes, list[str]] = {}  # sha256(source) -> its frameworks (the batch's files repeat)
_seen_lock = threading.Lock()
_SEEN_MAX = 50_000


def banned_frameworks(source: bytes) -> list[str]:
    """The frameworks a module's source imports (or names in an import string)."""
    key = hashlib.sha256(source).digest()
    with _seen_lock:
        known = _seen.get(key)
    if known is not None:
        return list(known)
    found = _scan(source)
    with _seen_lock:
        if len(_seen) >= _SEEN_MAX:
            _seen.clear()
        _seen[key] = found
    return list(found)


# A cheap proof that the AST walk below would find nothing (most submissions): the source is
# ASCII without a coding cookie (so the parser reads exactly these bytes) and without a
# backslash (no escapes), no import names a framework (an alias follows `import`, `from` or a
# comma), and no string literal, alone or glued to its neighbours (implicit concatenation,
# f-string parts), spells a framework's name: between its letters only quotes, whitespace,
# string prefixes and comments (each ending at its line end: no ambiguity, no backtracking).
_STEM = rb"(?:tensorflow|keras|tf_keras|torch|jax|jaxlib|scipy)(?![A-Za-z0-9_])"
_IMPORTED = re.compile(rb"(?:\b(?:from|import)\s+|,[ \t]*)" + _STEM)
_GLUE = rb"(?:[\s\x1c-\x1f\"'rRbBfFuU]|#[^\r\n]*[\r\n])*"  # \x1c-\x1f: str.strip() drops them
_SPELLED = re.compile(
    rb"[\"'{}:]"
    + _GLUE
    + rb"(?:"
    + rb"|".join(
        _GLUE.join(re.escape(bytes([c])) for c in name)
        for name in (b"tensorflow", b"keras", b"torch", b"jax", b"scipy.signal", b"scipy.ndimage")
    )
    + rb")"
    + _GLUE
    + rb"[\"'{}:]"
)
_COOKIE = re.compile(rb"coding[:=]")


def surely_clean(source: bytes) -> bool:
    """True when :func:`_scan` would surely find no framework in ``source`` (see above)."""
    return (
        source.isascii()
        and b"\\" not in source
        and not _COOKIE.search(source)
        and not _IMPORTED.search(source)
        and not _SPELLED.search(source)
    )


def _scan(source: bytes) -> list[str]:
    if surely_clean(source):
        return []
    found: set[str] = set()
    try:
        with _PARSE_LOCK:  # CPython 3.11's AST builder keeps its recursion depth per process:
            tree = ast.parse(source)  # two threads parsing at once raised SystemError
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [m.group(1) for m in _STRING.finditer(node.value)]
            # A docstring that merely mentions Keras is fine: only import-like strings count.
            names = [n for n in names if node.value.strip() == n]
        else:
            continue
        for name in names:
            label = _banned_name(name)
            if label:
                found.add(label)
    return sorted(found)


def banned_modules(files: dict[str, bytes]) -> dict[str, str]:
    """Module name -> reason, for the student's modules that use a banned framework."""
    out: dict[str, str] = {}
    for name, source in files.items():
        if not name.endswith(".py"):
            continue
        found = banned_frameworks(source)
        if found:
            out[name[:-3]] = (
                f"cnn/{name} uses {', '.join(found)}: the exercises are to be "
                "solved with numpy, so its functions earn no points"
            )
    return out
