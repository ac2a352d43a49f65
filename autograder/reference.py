"""Load a ``cnn`` package from any folder by path, under a name of our choosing.

The exercise modules import each other relatively, so the same files load as the reference
solutions (``_reference_cnn``), as the stubs, or as a student's package, side by side in one
process, without touching ``sys.path``. Only trusted code (the reference solutions, the stubs)
is loaded this way in the grading process; student code runs in the sandbox worker.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from . import trusted_reference
from .paths import ALL_MODULES, MODULES, SOLUTIONS_DIR, STUBS_DIR


def load_package(path: Path, name: str, modules: tuple[str, ...] = MODULES) -> ModuleType:
    """Import the package in folder ``path`` as ``name`` and its ``modules`` as attributes."""
    path = Path(path)
    init = path / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"{path} is not a package: it has no __init__.py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(path)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        for module in modules:
            setattr(package, module, importlib.import_module(f"{name}.{module}"))
    except BaseException:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        raise
    return package


def load_solutions() -> ModuleType:
    """The reference solutions, as the package ``_reference_cnn``, with the trusted fast paths
    of its argument checks and ``np.pad`` (:mod:`autograder.trusted_reference`: the same
    results and errors)."""
    package = load_package(SOLUTIONS_DIR, "_reference_cnn", ALL_MODULES)
    trusted_reference.install(package)
    return package


def load_stubs() -> ModuleType:
    """The student stubs, as the package ``_stub_cnn``."""
    return load_package(STUBS_DIR, "_stub_cnn", ALL_MODULES)
