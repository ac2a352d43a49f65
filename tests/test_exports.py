"""Gradebook exports: Canvas's import CSV (ids, roster, assignment column), plain CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest
from _class_results import FORMULA, HOSTILE_DIR, ITEMS, klass, submission, write_class
from click.testing import CliRunner

from autograder import exports
from autograder.cli import main
from autograder.report import csv_text, to_gradescope
from autograder.topics import MISTAKES

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def canvas_student(name: str, uid: str, passed=None, **kw):
    meta = {"source": "canvas", "canvas_user_id": uid, "name": name.replace(" ", "").lower()}
    return to_gradescope(submission(uid, passed or {}, metadata=meta, **kw))


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# A roster as Canvas's gradebook export writes it: BOM, a Points Possible row, read-only
# columns, the assignment with its id, the test student.
ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,CNN exercises (777),Current Score\n"
    "    Points Possible,,,,,100,(read only)\n"
    '"Lovelace, Ada",101,S-ADA,ada,Section 1,,\n'
    '"Babbage, Charles",102,S-BEN,ben@uni.example,Section 2,,\n'
    '"Student, Test",999,,,Section 1,,\n'
    '"Hopper, Grace",103,S-GH,grace,Section 1,,\n'
)


# ---------------------------------------------------------------------------------------------
# Canvas


def test_canvas_rows_follow_canvas_layout_and_use_canvas_user_ids():
    res = [
        canvas_student("Ada Lovelace", "101"),
        canvas_student("Ben B", "102", {"conv.conv2d": (0, 0)}),
    ]
    export = exports.canvas_rows(res, "Exercise 3")
    rows = export.rows
    assert rows[0] == [*CANVAS_HEADER, "Exercise 3"]
    assert (
        rows[1][0].strip() == "Points Possible"
        and rows[1][5] == f"{res[0]['extra_data']['max_score']:g}"
    )
    by_id = {row[1]: row for row in rows[2:]}
    assert set(by_id) == {"101", "102"}
    for r in res:
        assert float(by_id[r["extra_data"]["metadata"]["canvas_user_id"]][5]) == r["score"]
    assert by_id["101"][0] == "adalovelace" and by_id["101"][2:5] == ["", "", ""]
    assert not export.warnings


def test_other_student_ids_go_to_the_chosen_id_column():
    res = [to_gradescope(s) for s in klass()[:3]]
    for column in ("SIS User ID", "SIS Login ID", "ID"):
        rows = exports.canvas_rows(res, id_column=column).rows
        index = CANVAS_HEADER.index(column)
        assert sorted(row[index] for row in rows[2:]) == sorted(
            r["extra_data"]["student"] for r in res
        )
        assert all(row[i] == "" for row in rows[2:] for i in (1, 2, 3) if i != index)


def test_roster_maps_ids_to_names_sis_ids_sections_and_the_assignment_id():
    roster = exports.read_roster(ROSTER)
    assert [r["ID"] for r in roster.rows] == ["101", "102", "103"]  # test student skipped
    res = [
        canvas_student("ada", "101"),
        to_gradescope(
            submission(
                "ben",
                {},
                metadata={
                    "source": "gradescope",
                    "submitters": [{"name": "B", "sid": "", "email": "ben@uni.example"}],
                },
            )
        ),
        to_gradescope(submission("nobody-known", {})),
    ]
    export = exports.canvas_rows(res, "cnn  Exercises", roster)
    assert export.rows[0][5] == "CNN exercises (777)"  # the existing assignment, by its id
    rows = {row[1] or row[2]: row for row in export.rows[2:]}
    assert rows["101"][:5] == ["Lovelace, Ada", "101", "S-ADA", "ada", "Section 1"]
    assert rows["102"][:5] == ["Babbage, Charles", "102", "S-BEN", "ben@uni.example", "Section 2"]
    assert rows["nobody-known"][:5] == ["nobody-known", "", "nobody-known", "", ""]
    notes = " ".join(export.warnings)
    assert "1 student(s) are not in the roster" in notes and "nobody-known" in notes
    assert "1 roster student(s) have no graded submission" in notes  # Grace


def test_a_new_assignment_keeps_its_name_and_an_explicit_id_is_kept():
    roster = exports.read_roster(ROSTER)
    assert exports.assignment_header("Final project", roster) == "Final project"
    assert exports.assignment_header("Other (12)", roster) == "Other (12)"
    with pytest.raises(exports.ExportError, match="must not be empty"):
        exports.assignment_header("  ", roster)


def test_a_gradescope_group_submission_gives_one_row_per_member():
    meta = {
        "source": "gradescope",
        "submitters": [
            {"name": "A", "sid": "S1", "email": "a@x"},
            {"name": "B", "sid": "S2", "email": "b@x"},
        ],
    }
    res = [to_gradescope(submission("S1+S2", {"conv.conv2d": (1, 1)}, metadata=meta))]
    rows = exports.canvas_rows(res).rows[2:]
    assert [(r[0], r[2]) for r in rows] == [("A", "S1"), ("B", "S2")]
    assert {r[5] for r in rows} == {f"{res[0]['score']:g}"}


def test_grader_failures_are_left_out_so_no_zero_overwrites_a_grade():
    broken = submission("zed", {}, error="internal grader error (KeyError)")
    broken.tests = []
    res = [to_gradescope(s) for s in [*klass()[:2], broken]]
    export = exports.canvas_rows(res)
    assert "zed" not in {row[2] for row in export.rows}
    assert any("grader itself failed" in w and "zed" in w for w in export.warnings)


def test_two_results_for_one_canvas_student_is_an_error():
    res = [canvas_student("ada", "101"), to_gradescope(submission("S-ADA", {}))]
    with pytest.raises(exports.ExportError, match="same Canvas student"):
        exports.canvas_rows(res, roster=exports.read_roster(ROSTER))


def test_formulas_in_student_strings_are_neutralised():
    res = [to_gradescope(s) for s in klass()]
    for rows in (exports.canvas_rows(res).rows, exports.plain_rows(res, ITEMS)):
        cells = [c for row in parse(csv_text(rows)) for c in row]
        assert FORMULA not in cells and "'" + FORMULA in cells
        assert not [c for c in cells if c and c[0] in "=+@"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("name,score\nada,1\n", "no student id column"),
    ],
)
def test_a_bad_roster_is_one_sentence(text, message):
    with pytest.raises(exports.ExportError, match=message):
        exports.read_roster(text, "The roster r.csv")


# ---------------------------------------------------------------------------------------------
# Plain CSV and JSON


def test_plain_csv_has_item_scores_and_named_mistakes():
    res = [to_gradescope(s) for s in klass()]
    rows = parse(csv_text(exports.plain_rows(res, ITEMS)))
    header = rows[0]
    assert (
        header[:4] == ["student", "name", "score", "max_score"]
        and header[4 : 4 + len(ITEMS)] == ITEMS
    )
    by_student = {r["extra_data"]["student"]: r for r in res}
    assert len(rows) == len(res) + 1
    for row in rows[1:]:
        r = by_student[row[0].removeprefix("'")]
        assert float(row[2]) == r["score"]
        assert [float(v) for v in row[4 : 4 + len(ITEMS)]] == [
            r["extra_data"]["item_scores"][i] for i in ITEMS
        ]
        pairs = sorted(row[header.index("mistakes")].split())
        assert pairs == sorted(
            f"{i}:{m}" for i, ms in r["extra_data"]["mistakes"].items() for m in ms
        )
        assert bool(row[header.index("problems")]) == bool(r["extra_data"]["problems"])


def test_plain_json_has_item_maxima_mistakes_and_their_descriptions():
    res = [to_gradescope(s) for s in klass()]
    doc = json.loads(exports.plain_json(res, ITEMS))
    assert doc["items"] == ITEMS
    ben = next(s for s in doc["students"] if s["student"] == "ben")
    raw = next(r for r in res if r["extra_data"]["student"] == "ben")
    assert ben["score"] == raw["score"]
    for item in ITEMS:
        top = sum(
            t["max_score"] for t in raw["tests"] if t["name"].startswith(item.split(".")[1] + " ")
        )
        assert ben["items"][item]["max_score"] == top
        assert ben["items"][item]["score"] == raw["extra_data"]["item_scores"][item]
        assert ben["items"][item]["mistakes"] == raw["extra_data"]["mistakes"].get(item, [])
    assert doc["mistakes"]["conv-flipped-kernel"] == MISTAKES["conv-flipped-kernel"]


def test_items_of_keeps_the_suite_order():
    res = [to_gradescope(s) for s in klass()]
    assert exports.items_of(res) == sorted(ITEMS, key=list(exports.ITEMS).index)


# ---------------------------------------------------------------------------------------------
# `grade export`


def test_grade_export_commands_write_their_files(tmp_path):
    grades = tmp_path / "grades"
    written = write_class(grades)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "export",
            "canvas",
            str(grades),
            "--out",
            str(tmp_path / "c.csv"),
            "--roster",
            str(roster),
            "--assignment",
            "CNN exercises",
        ],
    )
    assert out.exit_code == 0, out.output
    rows = parse((tmp_path / "c.csv").read_text(encoding="utf-8"))
    assert rows[0][5] == "CNN exercises (777)" and len(rows) == 2 + len(written)
    assert "'" + FORMULA in rows[-1] or any("'" + FORMULA in r for r in rows)
    assert any(HOSTILE_DIR in r for r in rows)
    for fmt, name in (("csv", "p.csv"), ("json", "p.json")):
        out = runner.invoke(main, ["export", fmt, str(grades), "-o", str(tmp_path / name)])
        assert out.exit_code == 0, out.output
    assert len(parse((tmp_path / "p.csv").read_text())) == len(written) + 1
    assert len(json.loads((tmp_path / "p.json").read_text())["students"]) == len(written)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["canvas", "{missing}", "-o", "{tmp}/c.csv"], "No such graded folder"),
        (["csv", "{empty}", "-o", "{tmp}/c.csv"], "No graded students"),
        (
            ["canvas", "{grades}", "-o", "{tmp}/c.csv", "--roster", "{tmp}/nope.csv"],
            "Cannot read the roster",
        ),
        (["canvas", "{grades}", "-o", "{tmp}/c.csv", "--roster", "{bad}"], "no student id column"),
        (["json", "{grades}", "-o", "{tmp}"], "is a folder"),
    ],
)
def test_grade_export_errors_are_one_sentence(tmp_path, args, message):
    grades = tmp_path / "grades"
    write_class(grades, klass()[:1])
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.csv").write_text("name,score\nada,1\n")
    names = {
        "missing": tmp_path / "nope",
        "empty": tmp_path / "empty",
        "grades": grades,
        "bad": tmp_path / "bad.csv",
        "tmp": tmp_path,
    }
    out = CliRunner().invoke(main, ["export", *[a.format(**names) for a in args]])
    assert out.exit_code == 1, out.output
    assert message in out.output and out.output.count("\n") == 1 and "Traceback" not in out.output


def test_canvas_default_assignment_is_the_configs(tmp_path):
    grades = tmp_path / "grades"
    write_class(grades)
    cfg = tmp_path / "grade.toml"
    cfg.write_text('[grading]\nassignment = "cnn-week-7"\n')
    for extra, name in (([], "cnn-lecture"), (["--config", str(cfg)], "cnn-week-7")):
        out = CliRunner().invoke(
            main, ["export", "canvas", str(grades), "-o", str(tmp_path / "c.csv"), *extra]
        )
        assert out.exit_code == 0, out.output
        assert parse((tmp_path / "c.csv").read_text(encoding="utf-8"))[0][5] == name


def test_compact_records_export_exactly_what_the_full_results_export():
    full = [to_gradescope(s) for s in klass()]
    small = [exports.compact(r) for r in full]
    assert all("tests" not in r for r in small)  # what made a record tens of KB
    items = exports.items_of(full)
    assert exports.items_of(small) == items
    assert exports.plain_rows(small, items) == exports.plain_rows(full, items)
    assert exports.plain_json(small, items) == exports.plain_json(full, items)
    assert exports.canvas_rows(small).rows == exports.canvas_rows(full).rows


def test_grade_export_of_a_folder_whose_index_cannot_be_written(tmp_path, monkeypatch):
    from autograder.index import Index

    grades = tmp_path / "grades"
    written = write_class(grades)
    runner = CliRunner()
    out = runner.invoke(main, ["export", "csv", str(grades), "-o", str(tmp_path / "a.csv")])
    assert out.exit_code == 0, out.output
    expected = (tmp_path / "a.csv").read_text()

    def refuse(out):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Index, "load", staticmethod(refuse))  # a read-only folder
    out = runner.invoke(main, ["export", "csv", str(grades), "-o", str(tmp_path / "b.csv")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "b.csv").read_text() == expected
    assert len(parse(expected)) == len(written) + 1
