"""Makes `import cnn` find the package next to this folder (your handout's `cnn/`), keeps the
output of a `pytest` run short, and prints your public points at the end.

- A function you have not written yet gets one line in the table at the end, not one
  traceback per test.
- For each function, the first failing test is shown in full; the others are counted
  (`pytest --all-failures` shows every one).
- The points are the grader's public points: `test_public_cases.py` runs the grader's own
  public cases with its rules, and each graded function earns its public points (`public_share`
  of its points in points.json) times the fraction of those cases it passes.

Set CNN_PACKAGE_ROOT to the folder that holds another `cnn/` to test that one instead.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("CNN_PACKAGE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

POINTS_FILE = Path(__file__).with_name("points.json")
UNFINISHED = re.compile(r"^(?P<name>[\w.]+) is not implemented yet \((?P<file>[\w/.]+)\)")

# nodeid -> (items, given code only?, a grader case?); nodeid -> passed?
_ITEMS: dict[str, tuple[list[str], bool, bool]] = {}
_COUNTS_AS: dict[str, str | None] = {}  # grader cases: how a pass shows the function works
_PASSED: dict[str, bool] = {}
_UNFINISHED: dict[str, set[str]] = {}  # "conv2d (cnn/conv.py)" -> nodeids waiting for it
_FAILED: dict[str, list[str]] = {}  # item (or test file) -> nodeids of failing tests


def load_points(path: Path = POINTS_FILE) -> tuple[dict[str, float], float]:
    """(item -> points, public share) from points.json; ({}, 0) when it is missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = {str(k): float(v) for k, v in data["items"].items()}
        return items, float(data["public_share"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}, 0.0


def _not_graded(path: Path = POINTS_FILE) -> list[str]:
    """The items of a part this assignment does not grade whose stubs ship (points.json)."""
    try:
        return [str(i) for i in json.loads(path.read_text(encoding="utf-8"))["not_graded"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def items_of(item: pytest.Item) -> tuple[list[str], bool, bool]:
    """The graded items a collected test is about (its ``item`` markers), whether it tests
    given code only (``given=True``: argument checks) and whether it is a grader case."""
    found: list[str] = []
    given = case = False
    for mark in item.iter_markers("item"):
        given = given or bool(mark.kwargs.get("given"))
        case = case or bool(mark.kwargs.get("case"))
        found += [str(a) for a in mark.args]
        by_id = mark.kwargs.get("by_id")
        callspec = getattr(item, "callspec", None)
        if by_id and callspec is not None:
            found += [by_id[part] for part in callspec.id.split("-") if part in by_id]
    return list(dict.fromkeys(found)), given, case


def public_scores(
    results: list[tuple], points: dict[str, float], share: float
) -> dict[str, tuple[int, int, float, float]]:
    """item -> (cases passed, cases run, points earned, public points).

    ``results`` holds (items, given, passed[, counts_as]) per grader case run. An item's public
    points are ``share * points``; it earns them times the fraction of its public cases that
    passed. As in the grader, passed cases count only once the function shows that it computes
    something: it passes a case no constant, zero or echoed answer passes (``counts_as`` is
    ``"disc"``), or two size/count cases with different answers (``counts_as`` is the answer).
    Without ``counts_as`` a case counts as showing it unless it tests given code (``given``:
    an argument check).
    """
    shown: dict[str, set] = {}
    working: set[str] = set()
    for items, given, passed, *rest in results:
        how = rest[0] if rest else (None if given else "disc")
        if not passed or how is None:
            continue
        for item in items:
            if how == "disc":
                working.add(item)
            else:
                shown.setdefault(item, set()).add(how)
    working |= {item for item, answers in shown.items() if len(answers) >= 2}
    tally: dict[str, list[int]] = {item: [0, 0] for item in points}
    for items, _given, passed, *_rest in results:
        for item in items:
            counts = tally.setdefault(item, [0, 0])
            counts[1] += 1
            counts[0] += bool(passed) and item in working
    out = {}
    for item, (passed, run) in tally.items():
        worth = round(share * points.get(item, 0.0), 4)
        earned = round(worth * passed / run, 4) if run else 0.0
        out[item] = (passed, run, earned, worth)
    return out


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-failures",
        action="store_true",
        help="show every failing test in full, not only the first one per function",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "item(*names, given=False, case=False, by_id=None, counts_as=None): the graded item(s) "
        "a test is about",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _ITEMS[item.nodeid] = items_of(item)
        for mark in item.iter_markers("item"):
            if "counts_as" in mark.kwargs:
                _COUNTS_AS[item.nodeid] = mark.kwargs["counts_as"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or call.excinfo is None:
        return
    if call.excinfo.errisinstance(NotImplementedError):
        m = UNFINISHED.match(str(call.excinfo.value))
        if m:
            key = f"{m['name']} ({m['file']})"
            _UNFINISHED.setdefault(key, set()).add(item.nodeid)
            report.unfinished = key
            return
    if report.failed and not item.config.getoption("all_failures"):
        items, _, _ = _ITEMS.get(item.nodeid, ([], False, False))
        key = items[0] if items else item.nodeid.split("::")[0]
        seen = _FAILED.setdefault(key, [])
        seen.append(item.nodeid)
        if len(seen) > 1:
            report.repeated = True


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if report.when == "call" and getattr(report, "unfinished", None):
        return "unfinished", "u", "UNFINISHED"
    if report.when == "call" and getattr(report, "repeated", False):
        return "more failed", "F", "FAILED"
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _PASSED[report.nodeid] = report.passed
    elif report.failed:  # an error in setup or teardown: the test did not pass
        _PASSED[report.nodeid] = False


def _function_of(item: str) -> str:
    return item.split(".", 1)[1]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    tr = terminalreporter
    points, share = load_points()
    results = [
        (_ITEMS[nid][0], _ITEMS[nid][1], ok, _COUNTS_AS.get(nid))
        for nid, ok in _PASSED.items()
        if nid in _ITEMS and _ITEMS[nid][2]
    ]
    scores = public_scores(results, points, share) if points else {}
    unfinished = {key.split(" ")[0].split(".")[0]: key for key in _UNFINISHED}
    tr.section("your functions and public points")
    width = max([len(i) for i in scores] + [8])
    shown: set[str] = set()
    for item, (passed, run, earned, worth) in scores.items():
        name = _function_of(item)
        failing = len(_FAILED.get(item, []))
        if name in unfinished and passed == 0:
            status = "not implemented yet"
            shown.add(unfinished[name])
        elif run and passed == run and not failing:
            status = "done"
        else:
            status = f"{passed}/{run} grader cases pass" if run else "no grader cases"
            if failing:
                status += f"; {failing} test(s) fail"
        tr.write_line(f"{item:<{width}}  {earned:5.2f} / {worth:4.2f}  {status}")
    other = {_function_of(i) for i in _not_graded()}  # another part's functions: one line
    waiting = sorted(set(_UNFINISHED) - shown)
    for key in [k for k in waiting if k.split(" ")[0].split(".")[0] not in other]:
        tr.write_line(f"{key}: not implemented yet (a helper of yours, no points of its own)")
    names = [k.split(" ")[0] for k in waiting if k.split(" ")[0].split(".")[0] in other]
    if names:
        tr.write_line(
            f"Not graded in this assignment, not implemented yet: {', '.join(names)} (no "
            "points of their own; graded functions that call them need them)."
        )
    worth_total = sum(s[3] for s in scores.values())
    earned_total = sum(s[2] for s in scores.values())
    if _FAILED and not config.getoption("all_failures"):
        tr.write_line(
            "Only the first failing test of each function is shown above; "
            "`pytest --all-failures` shows all."
        )
    if scores:
        total = sum(points.values())
        tr.write_line(
            f"Public points: {earned_total:.2f} / {worth_total:.2f}, the grader's public points "
            f"for this code ({share:.0%} of each function's points; the other "
            f"{total - worth_total:.2f} of {total:g} come from hidden cases)."
        )
