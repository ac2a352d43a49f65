"""Keras-bank cases carry the suite's mistake outputs, so feedback names mistakes there too."""

from __future__ import annotations

import numpy as np

from autograder.compare import judge
from autograder.config import load_config
from autograder.engine import Grader
from autograder.oracle.catalog import part_items
from autograder.sandbox.runner import Outcome


def test_bank_early_stopping_cases_name_known_mistakes():
    grader = Grader.create(load_config(None))
    _, bank = grader.shared_cases()["regularization.EarlyStopping"]
    named = set()
    for case in bank:
        assert case.oracle == "keras"
        assert judge(case, Outcome("ok", value=case.expect.value)).passed
        for wrong in case.mistakes.values():
            verdict = judge(case, Outcome("ok", value=wrong))
            assert not verdict.passed and verdict.mistake is not None
            named.add(verdict.mistake)
    assert {"es-compare-previous", "es-baseline-ignored"} <= named


def _first_max_ignored(dy, x, pool):
    """A max-pool backward written independently of the suite: the gradient to EVERY maximum of
    each non-overlapping window (the 'all ties' mistake), by plain loops."""
    n, h, w, c = x.shape
    dx = np.zeros_like(x)
    for b in range(n):
        for i in range(h // pool):
            for j in range(w // pool):
                for ch in range(c):
                    win = x[b, i * pool : (i + 1) * pool, j * pool : (j + 1) * pool, ch]
                    hit = win == win.max()
                    dx[b, i * pool : (i + 1) * pool, j * pool : (j + 1) * pool, ch] += (
                        hit * dy[b, i, j, ch]
                    )
    return dx


def test_part2_bank_cases_name_the_backward_mistakes(tmp_path):
    config = tmp_path / "grade.toml"
    config.write_text('[grading]\nparts = ["backward"]\n')
    grader = Grader.create(load_config(config))
    shared = grader.shared_cases()
    named: dict[str, set[str]] = {}
    for item in part_items("backward"):
        _, bank = shared[item]
        assert bank and all(c.oracle == "keras" for c in bank), item
        for case in bank:
            assert judge(case, Outcome("ok", value=case.expect.value)).passed
            for wrong in case.mistakes.values():
                verdict = judge(case, Outcome("ok", value=wrong))
                assert not verdict.passed and verdict.mistake is not None
                named.setdefault(item, set()).add(verdict.mistake)
    assert {"bwd-overwrite", "bwd-not-unpadded", "bwd-kernel-flipped"} <= named[
        "backward.conv2d_backward"
    ]
    assert {"maxpool-all-ties", "maxpool-last-tie"} <= named["backward.max_pool2d_backward"]
    assert "avgpool-count-pad" in named["backward.avg_pool2d_backward"]
    assert {"dropout-not-scaled", "dropout-mask-ignored"} <= named["backward.dropout_backward"]
    assert {"ce-sign", "ce-missing-mean"} <= named["backward.softmax_crossentropy_backward"]
    # an independently written 'all ties' answer on the bank's first tie case is named
    _, bank = shared["backward.max_pool2d_backward"]
    (tie,) = [c for c in bank if c.name.startswith("tied") and "pool_size=2, stride=None" in c.name]
    dy, x = tie.call.args
    verdict = judge(tie, Outcome("ok", value=_first_max_ignored(dy, x, 2)))
    assert not verdict.passed and verdict.mistake == "maxpool-all-ties"
