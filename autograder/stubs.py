"""Generate the student stubs from the reference solutions.

Between ``# BEGIN STUDENT CODE[: hint]`` and ``# END STUDENT CODE`` a solution holds what the
student writes; the stub keeps the markers, turns the hint into a ``# TODO:`` line and raises
``NotImplementedError`` naming the function. Everything else is copied unchanged.

Run ``python -m autograder.stubs`` to rewrite ``assignments/cnn`` from ``solutions/cnn``;
``python -m autograder.stubs --check`` only reports stubs that are out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .paths import SOLUTIONS_DIR, STUBS_DIR

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN STUDENT CODE(?::\s*(?P<hint>.*\S))?\s*$")
END = re.compile(r"^[ \t]*# END STUDENT CODE\s*$")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+(?P<name>\w+)")
CLASS = re.compile(r"^(?P<indent>[ \t]*)class\s+(?P<name>\w+)")


class MarkerError(ValueError):
    """The student-region markers of a solution file are unbalanced or misplaced."""


def _enclosing_name(lines: list[str], index: int, indent: str) -> str:
    """The ``def`` (``Class.method``) that encloses line ``index`` indented by ``indent``."""
    func, func_indent = None, None
    for line in reversed(lines[:index]):
        m = DEF.match(line)
        if func is None and m and len(m["indent"]) < len(indent):
            func, func_indent = m["name"], m["indent"]
            continue
        c = CLASS.match(line)
        if func is not None and c and len(c["indent"]) < len(func_indent):
            return f"{c['name']}.{func}"
        if func is not None and line.strip() and not line[0].isspace() and not c:
            if not line.lstrip().startswith(("@", "#", ")", '"', "'")):
                break
    if func is None:
        raise MarkerError(f"line {index + 1}: a student region must be inside a function")
    return func


def make_stub(source: str, module: str) -> str:
    """Return the stub text for one solution module's text."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if END.match(line):
            raise MarkerError(f"{module}.py line {i + 1}: END STUDENT CODE without BEGIN")
        m = BEGIN.match(line)
        if not m:
            out.append(line)
            i += 1
            continue
        indent = m["indent"]
        name = _enclosing_name(lines, i, indent)
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            if BEGIN.match(lines[j]):
                raise MarkerError(f"{module}.py line {j + 1}: nested BEGIN STUDENT CODE")
            j += 1
        if j == len(lines):
            raise MarkerError(f"{module}.py line {i + 1}: BEGIN STUDENT CODE is never closed")
        out.append(f"{indent}# BEGIN STUDENT CODE\n")
        if m["hint"]:
            out.append(f"{indent}# TODO: {m['hint']}\n")
        out.append(
            f'{indent}raise NotImplementedError("{name} is not implemented yet '
            f'(cnn/{module}.py)")\n'
        )
        out.append(lines[j])
        i = j + 1
    return "".join(out)


def expected_stubs(solutions: Path = SOLUTIONS_DIR) -> dict[str, str]:
    """File name -> stub text, for every ``.py`` file of the solutions package."""
    return {
        p.name: make_stub(p.read_text(encoding="utf-8"), p.stem)
        for p in sorted(solutions.glob("*.py"))
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    stale = []
    STUBS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in expected_stubs().items():
        target = STUBS_DIR / name
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            target.write_text(text, encoding="utf-8")
    verb = "out of date" if check else "written"
    print(f"{len(stale)} stub file(s) {verb}: {', '.join(stale) or '-'}")
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
