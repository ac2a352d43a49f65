"""Shared by the part-2 kit tests: the part-2 packages, items, the TF tape and the error record."""

from __future__ import annotations

import numpy as np

from autograder.paths import SOLUTIONS_DIR, STUBS_DIR
from autograder.reference import load_package

# The part-2 modules (not yet in autograder.paths.MODULES: the hidden suite does not grade them).
PART2_MODULES = ("backward", "gradcheck", "data", "model")
PART2_FUNCTIONS = {
    "backward": (
        "conv1d_backward",
        "conv2d_backward",
        "max_pool2d_backward",
        "avg_pool2d_backward",
        "dense_backward",
        "dropout_backward",
        "softmax_crossentropy_backward",
    ),
    "gradcheck": ("numerical_gradient", "relative_error"),
    "model": ("lecture_model_loss_and_grads", "train_lecture_model"),
}
PART2_HELPERS = {
    "backward": (
        "unpad2d",
        "conv2d_window_backward",
        "max_pool_window_backward",
        "avg_pool_window_backward",
    ),
}
PART2_ITEMS = {f"{m}.{f}" for m, fs in PART2_FUNCTIONS.items() for f in fs} | {
    f"{m}.{f}" for m, fs in PART2_HELPERS.items() for f in fs
}

# The fixed outcome run on the digits data (README, part 2; benchmarks/bench_train.py): init
# lecture_model_init(default_rng(seed)), Adam(1e-3), batch 32, shuffle and dropout from
# default_rng(seed + 1), 2 epochs. Measured: held-out accuracy 0.914-0.931 (seeds 0-2).
OUTCOME = {"seed": 0, "epochs": 2, "batch_size": 32, "learning_rate": 1e-3, "min_accuracy": 0.85}

_MODULES = ("activations", "conv", "pooling", "regularization", "training", "optimizers")


def load_part2(which: str = "solutions"):
    """The solutions (or stubs) package with the part-2 modules loaded as attributes."""
    folder, name = (
        (SOLUTIONS_DIR, "_part2_sol") if which == "solutions" else (STUBS_DIR, "_part2_stub")
    )
    return load_package(folder, name, modules=(*_MODULES, *PART2_MODULES))


# function -> worst error seen against TF (relative to the largest |TF| value), for the report.
WORST: dict[str, float] = {}


def scaled_error(ours, theirs) -> float:
    """``max|ours - theirs| / max(max|theirs|, 1e-30)``."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    if theirs.size == 0:
        return 0.0
    return float(np.max(np.abs(ours - theirs)) / max(float(np.max(np.abs(theirs))), 1e-30))


def assert_matches(name: str, ours, theirs, tol: float, what: str = "") -> None:
    """Record the scaled error of ``name`` and assert it is at most ``tol``."""
    err = scaled_error(ours, theirs)
    WORST[name] = max(WORST.get(name, 0.0), err)
    assert err <= tol, f"{name} {what}: scaled error {err:.3g} > {tol:g}"
