"""Part 2's training outcome case has its own time limit, the config's ``[limits]
training_timeout``: a submission whose training loop is too slow for it loses that case only,
with a sentence saying why (the short training cases keep the usual per-call limit)."""

from __future__ import annotations

import shutil

import pytest

from autograder.config import ConfigError, example_config, load_config
from autograder.discover import discover
from autograder.engine import Grader
from autograder.paths import SOLUTIONS_DIR
from autograder.sandbox.isolation import Limits

# A deliberately slow loop: 0.15 s per batch. The short hidden runs (at most 6 batches) stay far
# inside the 10 s per call; the outcome run (2 x 45 batches, > 13 s) cannot fit in 3 s.
SLOW = '''

_fast_loss_and_grads = lecture_model_loss_and_grads


def lecture_model_loss_and_grads(*args, **kwargs):
    import time

    time.sleep(0.15)
    return _fast_loss_and_grads(*args, **kwargs)
'''


def test_the_limit_is_a_documented_config_key(tmp_path):
    assert Limits().training_timeout == 120.0
    assert "training_timeout = 120.0" in example_config()
    path = tmp_path / "grade.toml"
    path.write_text("[limits]\ntraining_timeout = 45\n")
    assert load_config(path).limits.training_timeout == 45.0
    path.write_text("[limits]\ntraining_timeout = 0\n")
    with pytest.raises(ConfigError, match="training_timeout must be positive"):
        load_config(path)


def test_a_slow_training_loop_loses_only_the_outcome_case_and_is_told_why(tmp_path):
    folder = tmp_path / "slow-sam" / "cnn"
    shutil.copytree(SOLUTIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    model = folder / "model.py"
    model.write_text(model.read_text(encoding="utf-8") + SLOW, encoding="utf-8")
    config = tmp_path / "grade.toml"
    config.write_text('[grading]\nparts = ["backward"]\n[limits]\ntraining_timeout = 3\n')
    cfg = load_config(config)
    cfg.points = {item: (12 if item == "model.train_lecture_model" else 0) for item in cfg.points}
    grader = Grader.create(cfg)
    (sub,) = discover([tmp_path / "slow-sam"])
    result = grader.grade(sub)
    assert not result.error
    cases = [c for t in result.tests for c in t.cases if t.item == "model.train_lecture_model"]
    failed = [c for c in cases if not c.passed]
    assert len(cases) >= 5 and len(failed) == 1, [(c.name, c.message) for c in failed]
    assert failed[0].name.startswith("outcome:")
    why = " ".join(result.hidden_problems)
    assert "ran out of its own time limit (limits.training_timeout, 3 s" in why
    assert "only this case is lost" in why
    assert 0 < result.score < result.max_score
