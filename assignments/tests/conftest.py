"""Makes `import cnn` find the package next to this folder (your handout's `cnn/`), and prints
how many points the public tests are worth and how many of them you would earn.

Set CNN_PACKAGE_ROOT to the folder that holds another `cnn/` to test that one instead.

The summary at the end of a `pytest` run uses the grader's scoring for the public part: each
graded function (an "item") has points, a share of them (`public_share` in points.json) is
earned on public cases, and partial credit is the fraction of the item's public tests passed.
Each test names its item(s) with `@pytest.mark.item("conv.conv2d")`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("CNN_PACKAGE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))

POINTS_FILE = Path(__file__).with_name("points.json")

# nodeid -> (the items the test counts for, does it test given code only?); nodeid -> passed?
_ITEMS: dict[str, tuple[list[str], bool]] = {}
_PASSED: dict[str, bool] = {}


def load_points(path: Path = POINTS_FILE) -> tuple[dict[str, float], float]:
    """(item -> points, public share) from points.json; ({}, 0) when it is missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = {str(k): float(v) for k, v in data["items"].items()}
        return items, float(data["public_share"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}, 0.0


def items_of(item: pytest.Item) -> tuple[list[str], bool]:
    """The graded items a collected test counts for (from its ``item`` markers), and whether it
    tests given code only (``given=True``: argument checks, signatures)."""
    found: list[str] = []
    given = False
    for mark in item.iter_markers("item"):
        given = given or bool(mark.kwargs.get("given"))
        found += [str(a) for a in mark.args]
        by_id = mark.kwargs.get("by_id")
        callspec = getattr(item, "callspec", None)
        if by_id and callspec is not None:
            for part in callspec.id.split("-"):
                if part in by_id:
                    found.append(by_id[part])
    return list(dict.fromkeys(found)), given


def public_scores(
    results: list[tuple[list[str], bool, bool]], points: dict[str, float], share: float
) -> dict[str, tuple[int, int, float, float]]:
    """item -> (tests passed, tests run, points earned, public points).

    ``results`` holds (items, given, passed) per test run. An item's public points are
    ``share * points``; it earns them times the fraction of its public tests that passed (a
    test naming several items counts for each of them). As in the grader, a test of given code
    (``given``) counts as passed only for an item that passes one of its other tests.
    """
    working = {i for items, given, passed in results if passed and not given for i in items}
    tally: dict[str, list[int]] = {item: [0, 0] for item in points}
    for items, given, passed in results:
        for item in items:
            counts = tally.setdefault(item, [0, 0])
            counts[1] += 1
            counts[0] += bool(passed) and (not given or item in working)
    out = {}
    for item, (passed, run) in tally.items():
        worth = round(share * points.get(item, 0.0), 4)
        earned = round(worth * passed / run, 4) if run else 0.0
        out[item] = (passed, run, earned, worth)
    return out


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "item(*names, by_id=None): the graded item(s) a public test counts for"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _ITEMS[item.nodeid] = items_of(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _PASSED[report.nodeid] = report.passed
    elif report.failed:  # an error in setup or teardown: the test did not pass
        _PASSED[report.nodeid] = False


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    points, share = load_points()
    if not points or not _PASSED:
        return
    results = [(*_ITEMS.get(nid, ([], False)), ok) for nid, ok in _PASSED.items()]
    scores = public_scores(results, points, share)
    tr = terminalreporter
    tr.section("public points (the same scoring as the grader, for the public part)")
    width = max(len(i) for i in scores)
    earned_total = worth_total = 0.0
    for item, (passed, run, earned, worth) in scores.items():
        worth_total += worth
        earned_total += earned
        tests = f"{passed}/{run} tests" if run else "not run"
        tr.write_line(f"{item:<{width}}  {tests:>12}  {earned:6.2f} / {worth:5.2f}")
    total = sum(points.values())
    tr.write_line(
        f"Public part: {earned_total:.2f} / {worth_total:.2f} points "
        f"({share:.0%} of each item's points; the other {total - worth_total:.2f} of "
        f"{total:g} come from the grader's hidden cases)."
    )
    tr.write_line(
        "The grader runs its own public cases, of the same kind as these tests, so its score "
        "can differ a little from this one."
    )
