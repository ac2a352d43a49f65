"""The notebook route: a handout notebook that writes the ``cnn/`` modules, and reading them back.

``grade handout --notebook`` adds ``cnn_exercises.ipynb``: one code cell per module, each
starting with ``%%writefile cnn/<module>.py`` (IPython's cell magic: running the cell saves the
module), then a cell that runs the public tests. ``grade run`` accepts such a notebook as a
submission: :func:`modules_from_notebook` parses its JSON (size, depth and cell limits) and
takes each ``%%writefile cnn/<module>.py`` cell's text as that module. Nothing in the notebook
is executed here; the modules then go to the sandbox like any other submission.
"""

from __future__ import annotations

import json
import re

NOTEBOOK_NAME = "cnn_exercises.ipynb"
MAX_NOTEBOOK_BYTES = 8 * 1024 * 1024
MAX_CELLS = 2000
MAX_MODULE_BYTES = 1024 * 1024
_WRITEFILE = re.compile(r"%%writefile(?P<append>\s+-a|\s+--append)?\s+(?P<path>\S+)\s*")
_TARGET = re.compile(r"(?:\./)?cnn/(?P<name>[A-Za-z_][A-Za-z0-9_]*\.py)")

INTRO = """# Convolutional Neural Networks: numpy exercises

Each code cell below holds one module of the `cnn/` package and starts with
`%%writefile cnn/<module>.py`: running the cell saves the module to `cnn/`. Fill in the code
between `# BEGIN STUDENT CODE` and `# END STUDENT CODE`, run the cell, then run the last cell
to run the public tests. `_checks.py` is given code: leave it as it is.

Submit this notebook as it is (the grader reads the `%%writefile cnn/...` cells; it does not run
the notebook) or a zip of the `cnn/` folder the cells wrote. Keep the first line of every module
cell unchanged."""

RUN_TESTS = """# Run the public tests on the modules the cells above wrote (in a fresh Python each
# time, so edits are always picked up).
import subprocess
import sys

run = subprocess.run(
    [sys.executable, "-m", "pytest", "-q", "tests"], capture_output=True, text=True
)
print(run.stdout[-20000:], run.stderr[-5000:])"""


def _cell(kind: str, text: str) -> dict:
    lines = text.splitlines(keepends=True)
    cell = {"cell_type": kind, "metadata": {}, "source": lines}
    if kind == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def handout_notebook(modules: dict[str, str]) -> str:
    """The handout notebook for ``modules`` ({"conv.py": text}), as JSON text (nbformat 4)."""
    order = ["__init__.py", "_checks.py"]
    names = [n for n in order if n in modules] + sorted(n for n in modules if n not in order)
    cells = [
        _cell("markdown", INTRO),
        _cell("code", 'import os\n\nos.makedirs("cnn", exist_ok=True)'),
    ]
    for name in names:
        text = modules[name]
        cells.append(_cell("code", f"%%writefile cnn/{name}\n{text}"))
    cells.append(_cell("code", RUN_TESTS))
    for number, cell in enumerate(cells):
        cell["id"] = f"cnn-{number}"  # nbformat 4.5 cell ids
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "cnn_kit": {"modules": names},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def modules_from_notebook(data: bytes, shown: str) -> tuple[dict[str, bytes], list[str]]:
    """The ``cnn/`` modules written by the notebook's ``%%writefile`` cells, and problems.

    ``shown`` names the notebook in the problem sentences. Never raises on bad input.
    """
    if len(data) > MAX_NOTEBOOK_BYTES:
        return {}, [f"{shown} is bigger than 8 MiB; it was not read."]
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}, [f"{shown} is not a readable notebook (it is not valid JSON)."]
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return {}, [f"{shown} is not a Jupyter notebook (nbformat 4): it has no list of cells."]
    problems: list[str] = []
    if len(cells) > MAX_CELLS:
        problems.append(f"{shown} has more than {MAX_CELLS} cells; the rest were not read.")
        cells = cells[:MAX_CELLS]
    files: dict[str, str] = {}
    written: dict[str, int] = {}
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        first, _, body = source.partition("\n")
        magic = _WRITEFILE.fullmatch(first.strip())
        if not magic:
            continue
        target = _TARGET.fullmatch(magic["path"].strip("'\""))
        if not target:
            problems.append(
                f"{shown}: a cell writes {magic['path'][:80]!r}, not a cnn/<module>.py file; "
                "it was ignored."
            )
            continue
        name = target["name"]
        if magic["append"] and name in files:
            files[name] += body
        else:
            files[name] = body
        written[name] = written.get(name, 0) + 1
    out: dict[str, bytes] = {}
    for name, text in files.items():
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_MODULE_BYTES:
            problems.append(f"{shown}: cnn/{name} is bigger than 1 MiB; it was not read.")
            continue
        out[name] = raw
    for name, count in sorted(written.items()):
        if count > 1:
            problems.append(
                f"{shown}: {count} cells write cnn/{name}; the last one in the notebook was graded."
            )
    if not out:
        problems.append(
            f"{shown} has no cell starting with %%writefile cnn/<module>.py (the handout "
            "notebook's cells); submit that notebook or a zip of cnn/."
        )
    return dict(sorted(out.items())), problems
