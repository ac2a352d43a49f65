"""Stubs and solutions: identical outside the student regions; every stub says it is unfinished;
the public tests pass on the solutions and fail on the stubs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from autograder.cases import Close
from autograder.paths import KIT_ROOT, MODULES, PUBLIC_TESTS_DIR, SOLUTIONS_DIR, STUBS_DIR
from autograder.stubs import MarkerError, expected_stubs, make_stub
from autograder.topics import GENERATORS


def test_committed_stubs_are_the_generated_ones():
    expected = expected_stubs()
    assert sorted(expected) == sorted(p.name for p in STUBS_DIR.glob("*.py"))
    for name, text in expected.items():
        assert (STUBS_DIR / name).read_text() == text, (
            f"assignments/cnn/{name} is out of date: run python -m autograder.stubs"
        )


def test_every_contract_module_has_student_regions():
    for module in MODULES:
        source = (SOLUTIONS_DIR / f"{module}.py").read_text()
        assert source.count("# BEGIN STUDENT CODE") >= 1, module
        assert source.count("# BEGIN STUDENT CODE") == source.count("# END STUDENT CODE")


def test_stubs_hold_no_solution_code():
    for module in MODULES:
        stub = (STUBS_DIR / f"{module}.py").read_text()
        solution = (SOLUTIONS_DIR / f"{module}.py").read_text()
        regions = solution.split("# BEGIN STUDENT CODE")[1:]
        for region in regions:
            body = region.split("# END STUDENT CODE")[0].splitlines()[1:]
            code = [line.strip() for line in body if len(line.strip()) > 25]
            for line in code:
                assert line not in stub, f"{module}: solution line leaked into the stub: {line}"


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    # BEGIN STUDENT CODE\n    return 1\n",
        "def f():\n    return 1\n    # END STUDENT CODE\n",
        "def f():\n    # BEGIN STUDENT CODE\n    # BEGIN STUDENT CODE\n    # END STUDENT CODE\n",
        "# BEGIN STUDENT CODE\nx = 1\n# END STUDENT CODE\n",
    ],
)
def test_unbalanced_or_misplaced_markers_are_errors(source):
    with pytest.raises(MarkerError):
        make_stub(source, "m")


def _call_stub(stubs, case):
    module, name = case.call.target.split(".")
    target = getattr(getattr(stubs, module), name)
    if case.call.program == "call":
        return target(*case.call.args, **case.call.kwargs)
    if case.call.program in ("gradcheck", "training"):  # part 2's programs, as the worker runs them
        from autograder.sandbox.worker import PROGRAMS

        if case.call.program == "training":  # the worker looks the optimizer up in the package
            x, y, weights, name, opt_kwargs = case.call.args
            optimizer = getattr(stubs.optimizers, name)(**opt_kwargs)
            return target(x, y, weights, optimizer, **case.call.kwargs)
        return PROGRAMS["gradcheck"](target, list(case.call.args), dict(case.call.kwargs))
    obj = target(**case.call.kwargs)
    if case.call.program == "optimizer":
        params, grads = case.call.args
        return obj.step([p.copy() for p in params], grads[0])
    return obj.on_train_begin()


@pytest.mark.parametrize("item", list(GENERATORS))
def test_every_stub_raises_not_implemented_naming_itself(item, stubs, sol):
    cases = [
        c
        for c in GENERATORS[item](sol, np.random.default_rng(0), "public")
        if isinstance(c.expect, Close)
    ]
    assert cases, f"{item} has no public case with valid arguments"
    name = item.split(".")[1]
    for case in cases:
        with pytest.raises(NotImplementedError, match=name):
            _call_stub(stubs, case)


def _public_tests(package_root) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNN_PACKAGE_ROOT": str(package_root)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--tb=short",
            "-p",
            "no:cacheprovider",
            str(PUBLIC_TESTS_DIR),
        ],
        cwd=PUBLIC_TESTS_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_public_tests_pass_on_the_solutions():
    run = _public_tests(KIT_ROOT / "solutions")
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_public_tests_fail_on_the_stubs_naming_each_function():
    run = _public_tests(KIT_ROOT / "assignments")
    assert run.returncode == 1
    graded = json.loads((KIT_ROOT / "assignments" / "tests" / "points.json").read_text())["items"]
    for item in graded:  # one line per unfinished function in the table at the end
        assert re.search(rf"^{re.escape(item)}\s.*not implemented yet$", run.stdout, re.M), item
    assert "Traceback" not in run.stdout and "Args:" not in run.stdout  # no docstrings shown
