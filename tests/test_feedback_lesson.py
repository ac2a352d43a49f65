"""Feedback that reads as a lesson (grouped by function, unfinished in one line, the first
failing case in full and the rest counted, HTML beside the markdown) and the class report's
instructor sections (assignment, date, config digest, development secret, public vs hidden,
student x function matrix, hardest cases)."""

from __future__ import annotations

import re

from _class_results import HOSTILE, ITEMS, results, write_class
from test_summary import Dom

from autograder import summary
from autograder.config import Config
from autograder.report import feedback_html, feedback_markdown, md_escape
from autograder.results import CaseResult, SubmissionResult
from autograder.results import TestResult as ItemTests
from autograder.summary_extra import config_digest, read_run_info, write_run_info


def _sub() -> SubmissionResult:
    nie = "not implemented yet (it raised NotImplementedError)."
    wrong = "3 of 96 values are wrong; the largest error is 3.97e+03 at index (0, 1) (conv.py, 157)"
    tests = [
        ItemTests(
            "conv.pad2d",
            "public",
            0.5,
            "visible",
            [
                CaseResult("conv.pad2d", f"p{k}", "public", "reference", False, nie)
                for k in range(3)
            ],
        ),
        ItemTests(
            "conv.pad2d",
            "hidden",
            1.5,
            "after_due_date",
            [
                CaseResult("conv.pad2d", f"h{k}", "hidden", "reference", False, nie)
                for k in range(9)
            ],
        ),
        ItemTests(
            "conv.conv2d",
            "public",
            2.5,
            "visible",
            [
                CaseResult(
                    "conv.conv2d",
                    "x (2, 6, 6, 3)",
                    "public",
                    "reference",
                    False,
                    wrong,
                    "conv-flipped-kernel",
                ),
                CaseResult("conv.conv2d", "ok", "public", "reference", True),
            ],
        ),
        ItemTests(
            "conv.conv2d",
            "hidden",
            7.5,
            "after_due_date",
            [
                CaseResult(
                    "conv.conv2d",
                    f"h{k}",
                    "hidden",
                    "keras",
                    k < 3,
                    "" if k < 3 else "wrong values",
                )
                for k in range(10)
            ],
        ),
        ItemTests(
            "activations.relu",
            "public",
            0.25,
            "visible",
            [CaseResult("activations.relu", "r", "public", "reference", True)],
        ),
    ]
    return SubmissionResult(
        "<b>eve</b>",
        "/x",
        tests,
        problems=[f"{HOSTILE} (conv.py, line 3)"],
        isolation="namespaces+user",
    )


def test_feedback_groups_by_function_and_shows_the_first_failure_in_full():
    md = feedback_markdown(_sub())
    # the unfinished function: one line, not one per case
    assert md.count("pad2d") == 2  # the table row and its one line under "Not implemented yet"
    assert "- `pad2d (cnn/conv.py)`: 2 points waiting" in md
    assert md.lower().count("not implemented yet") == 2  # its table row and its heading
    conv = md[md.index("### `conv2d") :]
    assert "First failing case (public): `x (2, 6, 6, 3)`" in conv
    assert "3.97e+03 at index (0, 1) (conv.py, 157)" in conv  # no raw escapes: \( or \+
    assert "**Likely mistake:** Your output matches a convolution with a flipped kernel" in conv
    assert "7 more failing cases (7 hidden)." in conv
    assert "Done: `activations.relu`." in md
    assert "\\(" not in md and "\\+" not in md
    assert "<b>" not in md and "<script" not in md


def test_html_feedback_is_escaped_and_self_contained():
    page = feedback_html(_sub())
    dom = Dom(page)
    assert not dom.scripts and not dom.tags("link") and not dom.tags("img")
    assert "http://" not in page and "https://" not in page
    text = "".join(dom.text)
    assert HOSTILE in text and "<b>eve</b>" in text  # shown as text
    assert "<script>" not in page and "<b>eve</b>" not in page
    assert "7 more failing cases (7 hidden)." in text and "flipped kernel" in text
    assert re.search(r"pad2d \(cnn/conv.py\)</code>: 2 points waiting", page)


def test_md_escape_escapes_markup_but_not_ordinary_punctuation():
    assert md_escape("(conv.py, line 157): 3.97e+03!") == "(conv.py, line 157): 3.97e+03!"
    assert md_escape("[x](javascript:y) *a* _b_ `c` <i>") == (
        "\\[x\\]\\(javascript:y) \\*a\\* \\_b\\_ \\`c\\` &lt;i&gt;"
    )
    assert md_escape("# title") == "\\# title"


def test_class_report_names_the_run_warns_about_the_development_secret_and_has_a_matrix(
    tmp_path,
):
    write_class(tmp_path)
    cfg = Config(assignment="cnn-week-7", secret="cnn-kit-development-secret")
    path = summary.write_class_report(tmp_path, results(), ITEMS, cfg)
    page = path.read_text(encoding="utf-8")
    info = read_run_info(tmp_path)
    assert info["assignment"] == "cnn-week-7" and info["development_secret"] is True
    assert info["config_digest"] == config_digest(cfg) and info["config_digest"] in page
    assert "<h1>Class report: cnn-week-7</h1>" in page and info["graded_at"] in page
    assert 'id="dev-secret"' in page
    assert 'id="matrix"' in page and 'id="hardest"' in page
    assert ">public</th>" in page and ">hidden</th>" in page
    # a real secret: no warning, another digest; `grade report` keeps the run's info
    other = Config(assignment="cnn-week-7", secret="real-secret")
    write_run_info(tmp_path, other)
    page = summary.write_class_report(tmp_path, results(), ITEMS).read_text(encoding="utf-8")
    assert 'id="dev-secret"' not in page and config_digest(other) in page
    assert config_digest(other) != config_digest(cfg) and "real-secret" not in page


def test_run_json_is_a_reserved_student_id():
    from autograder.discover import RESERVED_IDS
    from autograder.summary_extra import RUN_FILE

    assert RUN_FILE in RESERVED_IDS  # a student called run.json cannot take its place
