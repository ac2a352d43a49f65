"""The comparison helper: types, shapes, tolerances, mutation, mistakes, leak-free messages."""

from __future__ import annotations

import numpy as np

from autograder.cases import Call, Case, Close, Property, Raises
from autograder.compare import judge
from autograder.sandbox.runner import NpScalar, Outcome, Unsupported
from autograder.tolerance import close_arrays


def case(expect, group="hidden", args=(), mistakes=None, check_mutation=True):
    return Case(
        "conv.conv2d",
        "x (1, 4, 4, 1)",
        Call("call", "conv.conv2d", args),
        expect,
        group=group,
        mistakes=mistakes or {},
        check_mutation=check_mutation,
    )


def ok(value, inputs_after=None):
    return Outcome("ok", value=value, inputs_after=inputs_after)


WANT = np.linspace(-3.0, 5.0, 12).reshape(3, 4)


def test_float32_answers_within_tolerance_pass():
    got = WANT.astype(np.float32)
    assert judge(case(Close(WANT)), ok(got.astype(np.float32))).passed


def test_an_error_above_tolerance_fails_and_names_index_and_size():
    got = WANT.copy()
    got[1, 2] += 1e-3
    verdict = judge(case(Close(WANT)), ok(got))
    assert not verdict.passed
    assert "(1, 2)" in verdict.message and "0.001" in verdict.message


def test_hidden_failures_never_show_expected_values():
    got = WANT + 1.0
    verdict = judge(case(Close(WANT)), ok(got))
    for value in WANT.ravel():
        assert f"{value:.6g}" not in verdict.message.split("error is")[0]
    assert "expected" not in verdict.message


def test_public_failures_show_the_expected_value_at_the_worst_index():
    got = WANT.copy()
    got[0, 0] = 100.0
    verdict = judge(case(Close(WANT), group="public"), ok(got))
    assert "expected -3" in verdict.message


def test_wrong_shape_and_wrong_type_are_explained():
    assert "shape (4, 3)" in judge(case(Close(WANT)), ok(WANT.T.copy())).message
    verdict = judge(case(Close(WANT)), ok(Unsupported("a subclass of np.ndarray (Fake)")))
    assert not verdict.passed and "subclass" in verdict.message
    assert not judge(case(Close(WANT)), ok(WANT.tolist())).passed


def test_python_int_required_for_counts():
    assert judge(case(Close(5)), ok(5)).passed
    verdict = judge(case(Close(5)), ok(NpScalar(np.asarray(5))))
    assert not verdict.passed and "Python int" in verdict.message
    assert not judge(case(Close(5)), ok(5.0)).passed
    assert not judge(case(Close(5)), ok(True)).passed


def test_tuples_floats_and_dicts():
    assert judge(case(Close((0, 1))), ok((0, 1))).passed
    assert not judge(case(Close((0, 1))), ok([0, 1])).passed
    assert judge(case(Close(0.25)), ok(NpScalar(np.asarray(0.25)))).passed
    assert not judge(case(Close(0.25)), ok(0.26)).passed
    assert judge(case(Close({"a": 1, "b": None})), ok({"a": 1, "b": None})).passed
    assert not judge(case(Close({"a": 1, "b": None})), ok({"a": 1, "b": 2.0})).passed


def test_nan_never_passes():
    got = WANT.copy()
    got[2, 3] = np.nan
    assert not close_arrays(got, WANT)
    assert not judge(case(Close(WANT)), ok(got)).passed


def test_raises_expectation():
    expect = Raises("ValueError")
    err = Outcome(
        "error",
        exception={
            "type": "ValueError",
            "value_error": True,
            "not_implemented": False,
            "message": "",
            "where": "",
        },
    )
    assert judge(case(expect), err).passed
    verdict = judge(case(expect), ok(WANT))
    assert not verdict.passed and "instead of raising ValueError" in verdict.message
    type_error = Outcome(
        "error",
        exception={
            "type": "TypeError",
            "value_error": False,
            "not_implemented": False,
            "message": "x",
            "where": "conv.py:3 in conv2d",
        },
    )
    assert not judge(case(expect), type_error).passed


def test_not_implemented_and_timeouts_are_reported_plainly():
    stub = Outcome(
        "error",
        exception={
            "type": "NotImplementedError",
            "value_error": False,
            "not_implemented": True,
            "message": "",
            "where": "",
        },
    )
    assert "not implemented yet" in judge(case(Close(WANT)), stub).message
    timeout = Outcome("timeout", detail="it did not finish within 10 s")
    assert "10 s" in judge(case(Close(WANT)), timeout).message


def test_mutated_input_fails_with_a_named_mistake():
    x = np.arange(4.0)
    changed = x.copy()
    changed[0] = 7.0
    verdict = judge(case(Close(WANT), args=(x,)), ok(WANT.copy(), inputs_after=[changed]))
    assert not verdict.passed and verdict.mistake == "mutated-input"
    assert judge(case(Close(WANT), args=(x,)), ok(WANT.copy(), inputs_after=[x.copy()])).passed


def test_mistake_lookup_names_the_matching_wrong_output():
    flipped = WANT[::-1].copy()
    verdict = judge(case(Close(WANT), mistakes={"conv-flipped-kernel": flipped}), ok(flipped))
    assert not verdict.passed and verdict.mistake == "conv-flipped-kernel"
    other = judge(case(Close(WANT), mistakes={"conv-flipped-kernel": flipped}), ok(WANT * 2))
    assert other.mistake is None


def test_property_checks_and_their_crashes():
    positive = Property(lambda v: None if (v > 0).all() else "values must be positive", "pos")
    assert judge(case(positive), ok(np.ones(3))).passed
    assert not judge(case(positive), ok(-np.ones(3))).passed
    assert not judge(case(positive), ok(Unsupported("x"))).passed


def test_a_mistake_with_nans_and_infinities_is_still_named():
    wrong = np.array([np.inf, 3.0, np.nan])
    verdict = judge(
        case(Close(np.array([16.1, 3.0, 0.2])), mistakes={"cce-no-clip": wrong}), ok(wrong.copy())
    )
    assert not verdict.passed and verdict.mistake == "cce-no-clip"
    assert not close_arrays(wrong, wrong.copy()), "NaN never passes as a right answer"
