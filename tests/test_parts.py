"""Instructors choose the part: `[grading] parts`, and part 2's hidden suite."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.compare import matches
from autograder.config import (
    BACKWARD_POINTS,
    DEFAULT_POINTS,
    ConfigError,
    example_config,
    load_config,
)
from autograder.paths import modules_for
from autograder.reference import load_solutions
from autograder.topics import GENERATORS, Draws


def _cfg(tmp_path, text):
    path = tmp_path / "g.toml"
    path.write_text(text)
    return load_config(path)


def test_default_is_the_forward_part_unchanged():
    cfg = load_config(None)
    assert cfg.parts == ("forward",) and cfg.points == DEFAULT_POINTS and cfg.total == 100
    assert modules_for(cfg.parts) == (
        "shapes", "conv", "pooling", "activations", "optimizers", "regularization", "training",
        "model",
    )  # fmt: skip


def test_backward_alone_and_both(tmp_path):
    back = _cfg(tmp_path, '[grading]\nparts = ["backward"]\n')
    assert back.points == BACKWARD_POINTS and back.total == 100
    assert set(modules_for(back.parts)) == {"backward", "gradcheck", "model"}
    both = _cfg(tmp_path, '[grading]\nparts = ["backward", "forward"]\n')
    assert both.parts == ("forward", "backward") and both.total == 200
    assert all(item in GENERATORS for item in BACKWARD_POINTS)


def test_bad_parts_and_points_of_an_unchosen_part_get_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="grading.parts must be a non-empty list"):
        _cfg(tmp_path, '[grading]\nparts = ["sideways"]\n')
    with pytest.raises(ConfigError, match="belongs to part 'backward'"):
        _cfg(tmp_path, '[points]\n"backward.conv2d_backward" = 5\n')
    cfg = _cfg(
        tmp_path, '[grading]\nparts = ["backward"]\n[points]\n"backward.conv2d_backward" = 5\n'
    )
    assert cfg.points["backward.conv2d_backward"] == 5


def test_example_config_lists_part2_points_commented(tmp_path):
    text = example_config()
    assert 'parts = ["forward"]' in text and '# "backward.conv2d_backward" = 16' in text
    assert _cfg(tmp_path, text).points == DEFAULT_POINTS


@pytest.mark.parametrize("item", sorted(BACKWARD_POINTS))
def test_part2_plan_is_the_same_for_every_student_and_names_its_mistakes(item):
    ref = load_solutions()
    runs = [
        GENERATORS[item](ref, Draws(np.random.default_rng(7), np.random.default_rng(s)), "hidden")
        for s in (1, 2)
    ]
    a, b = runs
    assert [c.name.split("(")[0] for c in a] == [c.name.split("(")[0] for c in b]
    assert [sorted(c.mistakes) for c in a] == [sorted(c.mistakes) for c in b]
    assert any(c.mistakes for c in a) or item == "model.train_lecture_model"  # no named one
    for case in a:  # the expectation is the reference's own answer, and no mistake equals it
        for wrong in case.mistakes.values():
            assert not matches(wrong, case.expect.value) if hasattr(case.expect, "value") else True


def test_planned_ties_in_max_pool_check_the_first_maximum():
    ref = load_solutions()
    cases = GENERATORS["backward.max_pool2d_backward"](
        ref, Draws(np.random.default_rng(3), np.random.default_rng(4)), "hidden"
    )
    ties = [c for c in cases if c.name.startswith("planned ties")]
    assert len(ties) == 3
    assert all({"maxpool-all-ties", "maxpool-last-tie"} <= set(c.mistakes) for c in ties)


def test_handout_ships_part2_files_and_paragraph_only_when_part2_is_graded(tmp_path):
    from autograder.lms.handout import _ships, readme

    forward = load_config(None)
    both = _cfg(tmp_path, '[grading]\nparts = ["forward", "backward"]\n')
    for name in ("backward.py", "gradcheck.py", "data.py", "digits28.npz", "test_backward.py"):
        assert not _ships(forward, name) and _ships(both, name)
    assert _ships(forward, "conv.py") and _ships(forward, "test_conv.py")
    assert "## Part 2" not in readme(forward) and "## Part 2" in readme(both)
    assert "`conv2d_backward`" in readme(both) and "`conv2d_backward`" not in readme(forward)
