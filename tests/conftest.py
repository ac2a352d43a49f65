"""Fixtures shared by the kit's own tests."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.reference import load_solutions, load_stubs


@pytest.fixture(scope="session")
def sol():
    """The reference solutions package (``sol.conv.conv2d`` ...)."""
    return load_solutions()


@pytest.fixture(scope="session")
def stubs():
    """The student stubs package."""
    return load_stubs()


@pytest.fixture(scope="session")
def keras():
    """Live Keras 3 on the CPU (imported once per test session)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def assert_close_keras(ours, theirs, what: str = "") -> None:
    """Compare a float64 numpy answer with Keras's float32 one (keras-semantics.md §12).

    ``|ours - keras| <= 1e-5 * max|keras| + 1e-5 * |keras|``, elementwise, same shape.
    """
    ours = np.asarray(ours)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != Keras {theirs.shape}"
    scale = float(np.abs(theirs).max()) if theirs.size else 0.0
    atol = 1e-5 * max(scale, 1e-6)
    err = np.abs(ours - theirs)
    bad = err > atol + 1e-5 * np.abs(theirs)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} values differ from Keras; worst at {idx}: "
            f"ours {ours[idx]!r}, Keras {theirs[idx]!r} (|err| {err[idx]:.3g}, atol {atol:.3g})"
        )
