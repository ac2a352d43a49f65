"""The instructor's config: defaults, overrides, and one clear sentence for every mistake."""

from __future__ import annotations

import pytest

from autograder.config import DEFAULT_POINTS, ConfigError, example_config, load_config


def test_default_points_add_up_to_100():
    assert sum(DEFAULT_POINTS.values()) == 100


def test_example_config_round_trips(tmp_path):
    path = tmp_path / "grade.toml"
    path.write_text(example_config())
    cfg = load_config(path)
    assert cfg.points == DEFAULT_POINTS and cfg.total == 100
    assert cfg.limits.call_timeout == 10.0


def test_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_GRADE_SECRET", "s3cret")
    path = tmp_path / "grade.toml"
    path.write_text(
        '[points]\n"conv.conv2d" = 20\n[visibility]\nhidden = "hidden"\n'
        "[limits]\ncall_timeout = 3\n"
    )
    cfg = load_config(path)
    assert cfg.points["conv.conv2d"] == 20 and cfg.total == 110
    assert cfg.hidden_visibility == "hidden" and cfg.limits.call_timeout == 3.0
    assert cfg.secret == "s3cret" and not cfg.secret_is_default


@pytest.mark.parametrize(
    "text, words",
    [
        ('[points]\n"conv.conv3d" = 1\n', "Unknown item"),
        ('[points]\n"conv.conv2d" = "ten"\n', "must be a number"),
        ('[visibility]\npublic = "sometimes"\n', "must be one of"),
        ("[limits]\ncall_timeout = -1\n", "must be positive"),
        ("[grading]\npublic_share = 2\n", "[0, 1]"),
        ("[gradin]\n", "Unknown section"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_bad_configs_get_one_sentence(tmp_path, text, words):
    path = tmp_path / "grade.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="No such config file"):
        load_config(tmp_path / "nope.toml")
