"""locate_error: the pattern of wrong cells, named without revealing expected values."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.diagnose import locate_error
from autograder.reference import load_solutions

ref = load_solutions()
rng = np.random.default_rng(7)


def _conv_same(x, kernel, mode):
    """'same' conv of a 3x3 kernel with the input padded by `mode` (reference for zeros)."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode=mode)
    return ref.conv.conv2d(xp, kernel, padding="valid")


def _no_leak(message: str, want: np.ndarray) -> None:
    for v in want.ravel():
        for fmt in (".6g", ".4g", ".3g"):
            text = format(float(v), fmt)
            if len(text.lstrip("-").replace(".", "").replace("0", "")) >= 3:
                assert text not in message, (text, message)


def test_channels_first_layout_is_recognised():
    x, k = rng.normal(size=(2, 6, 5, 3)), rng.normal(size=(3, 3, 3, 4))
    want = ref.conv.conv2d(x, k)
    got = np.transpose(want, (0, 3, 1, 2))
    msg = locate_error(got, want)
    assert msg and "np.transpose(your_output, (0, 2, 3, 1))" in msg and "channels-first" in msg


def test_constant_factor_and_zeros():
    want = rng.normal(size=(4, 6))
    msg = locate_error(want * 0.5, want)
    assert msg and "same factor" in msg and "0.5 times" in msg
    _no_leak(msg, want)
    assert "all zeros" in locate_error(np.zeros_like(want), want)


def test_offsets_overall_and_per_channel():
    want = rng.normal(size=(2, 4, 4, 3))
    assert "same constant" in locate_error(want + 0.25, want)
    msg = locate_error(want + np.array([0.1, -0.3, 0.7]), want)
    assert msg and "per channel" in msg and "bias" in msg


def test_one_wrong_channel_and_swapped_channels():
    want = rng.normal(size=(2, 5, 5, 4))
    got = want.copy()
    got[..., 2] += rng.normal(size=got[..., 2].shape)
    msg = locate_error(got, want)
    assert msg == "Only channel 2 is wrong (of 4 on the last axis); the other channels are right."
    swapped = want[..., [1, 0, 2, 3]]
    assert "Channel 0 (last axis) holds what channel 1 should hold" in locate_error(swapped, want)
    shuffled = want[..., [3, 2, 1, 0]]
    assert "mixed up" in locate_error(shuffled, want)


def test_border_only_errors_point_at_padding():
    x, k = rng.normal(size=(2, 7, 6, 2)), rng.normal(size=(3, 3, 2, 3))
    want = _conv_same(x, k, "constant")
    got = _conv_same(x, k, "edge")  # mode='edge' padding: wrong on the border only
    msg = locate_error(got, want)
    assert msg and "within 1 row/column of the border" in msg and "padding" in msg
    _no_leak(msg, want)


def test_periodic_errors_point_at_the_stride():
    want = rng.normal(size=(1, 12, 12, 2))
    got = want.copy()
    got[:, 1::3] += 1.0 + rng.random(got[:, 1::3].shape)
    msg = locate_error(got, want)
    assert msg and "every 3 positions along axis 1" in msg and "stride" in msg
    assert "positions 0, 2 (mod 3) are right" in msg


def test_one_d_sequences_use_their_only_axis():
    want = rng.normal(size=(10,))
    got = want.copy()
    got[0] += 1
    got[-1] -= 1
    assert "border" in locate_error(got, want)


@pytest.mark.parametrize(
    "got, want",
    [
        (rng.normal(size=(3, 4)), rng.normal(size=(3, 4))),  # wrong everywhere, no pattern
        (np.ones((2, 3)), np.ones((3, 3))),  # shapes that are no permutation
        (np.array([1.0, np.nan]), np.array([1.0, 2.0])),  # NaN: the message says it already
        ("text", np.ones(3)),
        (np.ones(3), 3.0),
        (np.ones((2, 2)), np.ones((2, 2))),  # nothing wrong
    ],
)
def test_nothing_to_say(got, want):
    assert locate_error(got, want) is None


def test_a_transposed_square_answer_is_a_layout_error_not_a_scale():
    want = rng.normal(size=(3, 3))
    assert "another order" in locate_error(want.T.copy(), want)
