"""Where an exception happened (``worker._student_frame``), read from the traceback alone: the
same text as from ``traceback.extract_tb`` (which also reads every frame's source file)."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import traceback

import numpy as np
import pytest

from autograder.sandbox import worker

SOURCE = """
import numpy as np
from functools import wraps

def plain(x):
    raise ValueError("plain")

def helper(n):
    if n < 0:
        raise ValueError(
            "negative"
        )

def nested(x):
    return helper(
        -1,
    )

def in_numpy(x):
    return np.zeros(-1)

def multi_line(x):
    total = (1 +
             2 +
             1 / 0)
    return total

def comprehension(x):
    return [1 // (i - 2) for i in range(5)]

def generator(x):
    return sum(1 // (i - 2) for i in range(5))

def lam(x):
    f = lambda v: v[10]
    return f([])

def recursion(x):
    return recursion(x)

def chained(x):
    try:
        {}["missing"]
    except KeyError as exc:
        raise TypeError("again") from exc

def deco(fn):
    @wraps(fn)
    def inner(*a):
        return fn(*a)
    return inner

@deco
def decorated(x):
    assert x > 10, "too small"

class Thing:
    def method(self):
        raise NotImplementedError

def method(x):
    Thing().method()

def finally_block(x):
    try:
        return 1
    finally:
        [][0]
"""

NAMES = (
    "plain nested in_numpy multi_line comprehension generator lam recursion chained "
    "decorated method finally_block"
).split()


def _old(exc):
    """The worker's former _student_frame, on traceback.extract_tb."""
    where = ""
    try:
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.sep + "cnn" + os.sep in frame.filename:
                where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    except BaseException:  # noqa: BLE001
        pass
    return where


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "cnn" / "where_cases.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(SOURCE))
    spec = importlib.util.spec_from_file_location("where_cases", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _raised(fn):
    try:
        fn(np.zeros(2))
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("it did not raise")


def test_the_same_text_as_extract_tb(module):
    seen = set()
    for name in NAMES:
        exc = _raised(getattr(module, name))
        got = worker._student_frame(exc)
        assert got == _old(exc), name
        assert got.startswith("where_cases.py:"), (name, got)
        seen.add(got)
    assert len(seen) == len(NAMES)  # the cases are different places


def test_tracebacklimit_is_honoured_as_extract_tb_does(module, monkeypatch):
    exc = _raised(module.nested)
    for limit in (0, 1, 2, 3, 100, -1, "x", 2.5):
        monkeypatch.setattr(sys, "tracebacklimit", limit, raising=False)
        assert worker._student_frame(exc) == _old(exc), limit
    monkeypatch.delattr(sys, "tracebacklimit")
    assert worker._student_frame(exc) == _old(exc) != ""


def test_a_source_file_gone_after_import_changes_nothing(module, tmp_path):
    exc = _raised(module.multi_line)
    (tmp_path / "cnn" / "where_cases.py").unlink()
    assert worker._student_frame(exc) == _old(exc) == "where_cases.py:25 in multi_line"


def test_outside_the_package_and_without_a_traceback():
    try:
        exec(compile("1 / 0", "<student>", "exec"))
    except ZeroDivisionError as exc:
        assert worker._student_frame(exc) == _old(exc) == ""
    assert worker._student_frame(ValueError("no traceback")) == ""
