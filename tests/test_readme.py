"""The README's two commands: CI runs the README's test command, and both name the right extras."""

from __future__ import annotations

import re
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    text = (KIT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Two commands") : text.index("## What students do")]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [ln for b in blocks for ln in b.splitlines() if ln and not ln.startswith("#")]


def test_ci_runs_the_readmes_test_command():
    commands = _commands()
    test_command = [c for c in commands if "pytest" in c]
    assert test_command == ['python3 -m pip install -e ".[all]" && python3 -m pytest']
    ci = (KIT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command[0] in ci


def test_the_readme_makes_a_virtual_environment_and_grades_with_the_grade_extra():
    commands = _commands()
    assert any("python3 -m venv .venv" in c for c in commands)
    assert any("chromium" in c for c in commands)
    grade = [c for c in commands if "autograder run examples/sample-class" in c]
    assert grade and '".[grade]"' in grade[0]
