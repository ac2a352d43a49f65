"""The kit's layout (issue #12): one folder per topic with every part, and no import cycle."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from autograder.paths import ALL_MODULES, PACKAGE_DIR, PART_MODULES
from autograder.topics import (
    GENERATORS,
    PARTS,
    TOPICS,
    TOPICS_DIR,
    Topic,
    in_part,
    missing_parts,
    scan,
)


def test_there_is_one_topic_folder_per_module_of_the_contract():
    assert sorted(TOPICS) == sorted(ALL_MODULES)
    for part in PARTS:  # the modules a worker imports for a part are its topics
        assert {t.name for t in in_part(part)} == set(PART_MODULES[part]), part


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_every_topic_folder_has_every_part(name):
    topic: Topic = TOPICS[name]
    assert missing_parts(topic) == []
    for part, share in topic.parts.items():
        plan = topic.plan_module(part)
        # the plan: a generator for every item with default points, and nothing else
        assert list(plan.GENERATORS) == list(share.points), (part, share.plan)
        assert all(callable(g) for g in plan.GENERATORS.values())
        # the named mistakes and their sentences
        assert plan.MISTAKES and all(
            isinstance(k, str) and isinstance(v, str) and v.strip()
            for k, v in plan.MISTAKES.items()
        )
        assert all(p > 0 for p in share.points.values())
    for label, path in topic.mutant_files():
        assert label.removesuffix("_part2") == name and path.read_text().strip(), path
    bank = topic.bank_module()
    if bank is None:  # said so in data, with the reason
        assert topic.no_bank.strip()
    else:
        assert callable(bank.add_specs) and callable(bank.compute)
        assert bank.ITEMS and set(bank.ITEMS) <= set(GENERATORS), bank.ITEMS
        assert all(item.startswith(f"{name}.") for item in bank.ITEMS)


def test_gradcheck_has_no_keras_counterpart_and_says_why():
    assert TOPICS["gradcheck"].bank is None
    assert "Keras" in TOPICS["gradcheck"].no_bank


@pytest.mark.parametrize(
    "breakage, expect",
    [
        (lambda d: (d / "mutants.yaml").unlink(), "no mutant file mutants.yaml"),
        (lambda d: (d / "plan.py").unlink(), "no plan module plan.py"),
        (lambda d: (d / "bank.py").unlink(), "no bank module bank.py"),
        (lambda d: _edit(d, "[parts.forward.points]\n", "[parts.forward.nopoints]\n"), "points"),
        (lambda d: _edit(d, 'module = "bank"\n', 'none = " "\n'), "must say why"),
    ],
)
def test_a_topic_folder_that_lacks_a_part_is_caught(tmp_path, breakage, expect):
    folder = tmp_path / "conv"
    shutil.copytree(TOPICS_DIR / "conv", folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert missing_parts(scan(tmp_path)["conv"]) == []
    try:
        breakage(folder)
        problems = missing_parts(scan(tmp_path)["conv"])
    except KeyError as exc:  # a table the reader needs is gone: that is caught too
        problems = [f"points: {exc}"]
    assert any(expect in p for p in problems), problems


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "topic.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _module_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the kit modules it imports (at module level or inside a function)."""
    mods: dict[str, tuple[Path, bool]] = {}
    for path in root.rglob("*.py"):
        if "_kit" in path.relative_to(root).parts:
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        package = name if is_pkg else name.rsplit(".", 1)[0]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                if node.level:
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    if f"{module}.{alias.name}" in mods:
                        out.add(f"{module}.{alias.name}")
                    elif module in mods:
                        out.add(module)
        out.discard(name)
        graph[name] = out
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_there_is_no_import_cycle_in_the_engine():
    graph = _module_graph(PACKAGE_DIR)
    assert "autograder.compare" in graph and "autograder.topics.conv.plan" in graph
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
