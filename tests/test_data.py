"""The digits data file shipped with the handout, its loader, and the lecture model's init."""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest
from _part2 import load_part2

from autograder.paths import KIT_ROOT, SOLUTIONS_DIR, STUBS_DIR

DATA = STUBS_DIR / "digits28.npz"
SHA256 = "f32960c0f6f921f56195787d068e7b1820a3cc2838a526eafc7b10b8595f04a8"


def test_the_committed_file_is_the_pinned_one_and_small():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == SHA256, (
        "digits28.npz changed: rebuild it with scripts/build_digits28.py and update the digest"
    )
    assert DATA.stat().st_size < 1_000_000
    # the solutions read the same file (a symbolic link, one copy in the repository)
    assert (SOLUTIONS_DIR / "digits28.npz").resolve() == DATA.resolve()


def test_stored_arrays_shapes_types_labels_and_split():
    with np.load(DATA, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    assert arrays["x_train"].shape == (1437, 28, 28) and arrays["x_test"].shape == (360, 28, 28)
    assert all(a.dtype == np.uint8 for a in arrays.values())
    labels = np.concatenate([arrays["y_train"], arrays["y_test"]])
    # scikit-learn's copy of the UCI digits: 1,797 images, 174-183 per class
    assert np.bincount(labels, minlength=10).tolist() == [
        178,
        182,
        177,
        183,
        181,
        182,
        181,
        179,
        174,
        180,
    ]
    assert min(np.bincount(arrays["y_test"], minlength=10)) >= 20  # every class is tested
    assert arrays["x_train"].max() == 255 and arrays["x_train"].min() == 0


def test_loader_returns_float_images_in_0_1_and_one_hot_labels():
    p2 = load_part2()
    x_train, y_train, x_test, y_test = p2.data.load_digits28()
    assert x_train.dtype == np.float64 and x_train.shape == (1437, 28, 28, 1)
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert y_train.shape == (1437, 10) and set(np.unique(y_train)) == {0.0, 1.0}
    assert (y_train.sum(axis=1) == 1).all() and (y_test.sum(axis=1) == 1).all()
    # upscaled 8x8 digits: the outer columns are nearly blank, the centre is inked
    mean = x_train.mean(axis=0)[..., 0]
    assert mean[10:18, 10:18].mean() > 5 * mean[:, :2].mean()


def test_missing_file_is_one_clear_sentence(tmp_path):
    p2 = load_part2()
    with pytest.raises(ValueError, match="digits28.npz"):
        p2.data.load_digits28(tmp_path / "nope.npz")


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")
def test_the_build_script_reproduces_the_file_from_scikit_learn(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "build_digits28", KIT_ROOT / "scripts" / "build_digits28.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.write(module.build(), tmp_path / "d.npz") == SHA256


def test_lecture_model_init_is_glorot_uniform_with_zero_biases():
    p2 = load_part2()
    weights = p2.data.lecture_model_init(np.random.default_rng(0))
    assert [w.shape for w in weights] == [tuple(s) for s in p2.model.LECTURE_WEIGHT_SHAPES]
    for w, (fan_in, fan_out) in zip(weights[::2], [(9, 288), (288, 576), (1600, 10)], strict=True):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
        assert abs(w.std() - limit / np.sqrt(3)) < 0.1 * limit  # uniform on [-limit, limit]
    assert all((b == 0).all() for b in weights[1::2])
    again = p2.data.lecture_model_init(np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True))
    assert all(
        np.array_equal(a, b) for a, b in zip(weights, p2.data.lecture_model_init(0), strict=True)
    )
