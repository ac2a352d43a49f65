"""Extra ``grade`` subcommands, one module each (``handout``, ``gradescope``, ``audit``, ...).

Each module here defines ``register(group)`` that adds its commands to the ``grade`` group.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def register_all(group: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(group)
