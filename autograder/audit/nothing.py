"""The audit's "computes nothing" adversaries: submissions that must score 0.

Each is the reference package with every contract function wrapped so that it still runs the
given code (argument checks raise as before) but returns a constant of the right structure:
zeros, ones, uniform probabilities (1 / the last axis), or the first array argument echoed back
when it has the answer's shape. Optimizers never move their parameters; EarlyStopping's
callbacks do nothing (never stop, or always stop). :func:`functions_zeroed` zeroes some
functions of an otherwise correct package: those items must earn 0.
"""

from __future__ import annotations

from ..discover import Submission
from ..paths import ALL_MODULES, SOLUTIONS_DIR
from .corpus import _package_files, _regions

KINDS = ("zeros", "ones", "uniform", "echo")

_HELPERS = """

# ---- computes nothing (audit adversary): every answer replaced by a constant ----
import functools as _functools

import numpy as _np

_KIND = {kind!r}


def _nothing(value, args):
    if isinstance(value, (_np.ndarray, _np.generic)):
        a = _np.asarray(value)
        if _KIND == "echo":
            for x in args:
                if isinstance(x, _np.ndarray) and x.shape == a.shape:
                    return x.astype(a.dtype, copy=True)
        fill = {{"zeros": 0, "ones": 1, "echo": 0}}.get(_KIND)
        if fill is None:
            fill = 1.0 / a.shape[-1] if a.ndim and a.shape[-1] else 1.0
        out = _np.full(a.shape, fill, dtype=a.dtype if a.dtype.kind == "f" else None)
        return out.astype(a.dtype) if a.dtype.kind in "biu" else out
    if isinstance(value, bool):
        return _KIND == "ones"
    if isinstance(value, int):
        if _KIND == "echo":
            return next((x for x in args if type(x) is int), 0)
        return 0 if _KIND == "zeros" else 1
    if isinstance(value, float):
        return 0.0 if _KIND == "zeros" else 1.0
    if isinstance(value, tuple):
        return tuple(_nothing(v, args) for v in value)
    if isinstance(value, list):
        return [_nothing(v, args) for v in value]
    return value


def _wrap(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _nothing(fn(*args, **kwargs), args)

    return wrapper


def _idle_step(step):
    @_functools.wraps(step)
    def wrapper(self, params, grads):
        step(self, [_np.array(p, copy=True) for p in params], grads)  # given checks only
        return None

    return wrapper
"""


def _nothing_module(source: str, names: list[str], kind: str) -> str:
    lines = [_HELPERS.format(kind=kind)]
    for name in names:
        if "." not in name:
            lines.append(f"{name} = _wrap({name})\n")
        elif name.endswith(".step"):
            cls = name.split(".")[0]
            lines.append(f"{cls}.step = _idle_step({cls}.step)\n")
        elif name.endswith(".on_epoch_end"):
            cls = name.split(".")[0]
            stop = kind == "ones"
            lines.append(f"{cls}.on_epoch_end = lambda self, *a, **k: {stop}\n")
        elif name.endswith((".on_train_begin", ".on_train_end")):
            lines.append(f"{name} = lambda self, *a, **k: None\n")
    return source + "".join(lines)


def nothing_submission(kind: str = "zeros", only: tuple[str, ...] = ()) -> Submission:
    """The reference package computing nothing (``only``: just those items, e.g. 'conv.conv2d';
    a class item such as 'optimizers.SGD' idles all its methods)."""
    files = _package_files(SOLUTIONS_DIR)
    for module in ALL_MODULES:
        targets = {item.split(".")[1] for item in only if item.split(".")[0] == module}
        if only and not targets:
            continue
        source = files[f"{module}.py"].decode("utf-8")
        names = [n for n in _regions(source) if not only or n.split(".")[0] in targets]
        files[f"{module}.py"] = _nothing_module(source, names, kind).encode("utf-8")
    student = f"nothing-{kind}" if not only else "zeroed-" + "-".join(sorted(only))
    return Submission(student=student[:100], origin=f"audit:{student}", files=files)


def functions_zeroed(*items: str) -> Submission:
    """An otherwise correct package whose ``items`` answer zeros (optimizers and callbacks idle)."""
    return nothing_submission("zeros", only=items)
