"""Output-path mistakes, config mistakes and the batch's closing lines: one sentence each,
before any grading starts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import DEFAULT_POINTS, ConfigError, load_config
from autograder.exports import not_graded
from autograder.outpath import OutPathError, check_out_file, check_out_folder

KIT = Path(__file__).resolve().parent.parent
ADA = KIT / "examples" / "sample-class" / "ada-perfect"


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("x")
    return path


def _one_sentence(run, *words):
    assert run.exit_code == 1, run.output
    lines = run.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.output, run.output
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,words",
    [
        (["run", str(ADA), "--out", "{afile}/sub"], ["is under", "which is a file"]),
        (["run", str(ADA), "--out", "/proc/x"], ["under /proc"]),
        (["run", str(ADA), "--out", "{afile}"], ["is a file; expected a folder"]),
        (["merge", str(ADA), "--out", "{afile}/m"], ["which is a file"]),
        (["gradescope", "--out", "{afile}/x.zip"], ["which is a file"]),
        (["gradescope", "--out", "/proc/x.zip"], ["under /proc"]),
        (["handout", "--out", "/proc/x"], ["under /proc"]),
        (["handout", "--out", "{afile}/h"], ["which is a file"]),
    ],
)
def test_every_output_path_mistake_is_one_sentence_before_grading(args, words, afile):
    args = [a.format(afile=afile) for a in args]
    _one_sentence(CliRunner().invoke(main, args), *words)


def test_a_folder_that_cannot_be_written_is_one_sentence(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutPathError, match="cannot write in .*permission denied"):
        check_out_folder(tmp_path / "grades")
    with pytest.raises(OutPathError, match="permission denied"):
        check_out_file(tmp_path / "x.zip")
    run = CliRunner().invoke(main, ["run", str(ADA), "--out", str(tmp_path / "g")])
    _one_sentence(run, "cannot write", "permission denied")
    assert not (tmp_path / "g").exists()


def test_good_paths_pass_and_leave_nothing_behind(tmp_path):
    check_out_folder(tmp_path / "new" / "grades")
    check_out_folder(tmp_path)
    check_out_file(tmp_path / "x.zip")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutPathError, match="is a folder; expected a file"):
        check_out_file(tmp_path)


def test_config_folder_and_all_zero_points_are_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="is a folder; expected a TOML file"):
        load_config(tmp_path)
    zero = tmp_path / "zero.toml"
    zero.write_text("[points]\n" + "".join(f'"{k}" = 0\n' for k in DEFAULT_POINTS))
    with pytest.raises(ConfigError, match="has 0 points, so nothing would be graded"):
        load_config(zero)
    run = CliRunner().invoke(
        main, ["run", str(ADA), "--out", str(tmp_path / "g"), "--config", str(tmp_path)]
    )
    _one_sentence(run, "is a folder")


def test_not_graded_reads_a_status_field_or_the_error_field():
    assert not_graded({"status": "not graded"}) and not_graded({"status": "not_graded"})
    assert not_graded({"error": "the worker could not be started"})
    assert not not_graded({"status": "graded", "error": ""}) and not not_graded({})
