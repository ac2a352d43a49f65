"""Canvas downloads in every naming Canvas has used, with file names built by Canvas's own rules.

The two functions below follow ContentZipper (instructure/canvas-lms, lib/content_zipper.rb):
``get_filename`` joins [sortable name, "LATE", id] and strips non-word characters, the id being
the user id or ``anon_<anonymous id>`` (anonymous grading: no name; the anonymous id is 5
base58 characters, Anonymity.generate_short_id); each uploaded file becomes
``<that>_<attachment id>_<display name>``. Older Canvas lowercased the whole prefix (so "late")
and, with its anonymous-grading feature, left out the name but kept the user id.
"""

from __future__ import annotations

import re

import pytest
from test_discover import assert_clean, body, by_id, package, write_tree, write_zip, zip_bytes

from autograder import exports
from autograder.discover import discover
from autograder.paths import MODULES
from autograder.report import to_gradescope

ATTACHMENT_BAD = re.compile(r'[\x00/\\:*?"<>|]+')  # sanitize_attachment_filename
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def sanitize_user_name(name: str) -> str:  # ContentZipper#sanitize_user_name (current)
    return re.sub(r"_(\d+)_", r"\1", name).lower()


def current_name(sortable, uid, file_id, display, late=False, anonymous_id=None) -> str:
    """ContentZipper#get_filename + add_upload_submission, as Canvas names files today."""
    users_name = None if anonymous_id else sanitize_user_name(sortable)
    ident = f"anon_{anonymous_id}" if anonymous_id else str(uid)
    parts = [p for p in (users_name, "LATE" if late else None, ident) if p is not None]
    prefix = re.sub(r"[^\w]", "", "_".join(parts))  # gsub(/[^[[:word:]]]/, "")
    return f"{prefix}_{file_id}_{ATTACHMENT_BAD.sub('_', display)}"


def old_name(sortable, uid, file_id, display, late=False, anonymous_feature=False) -> str:
    """The older ContentZipper: the whole prefix lowercased; anonymous grading kept the id."""
    users_name = None if anonymous_feature else re.sub(r"_(\d+)_", r"\1", sortable)
    parts = [p for p in (users_name, "LATE" if late else None, str(uid)) if p is not None]
    prefix = re.sub(r"[^\w]", "", "_".join(parts)).lower()
    return f"{prefix}_{file_id}_{display}"


# (student id the kit must give, late?, Canvas user id, name in the metadata, maker)
STUDENTS = [
    ("1234", False, "1234", "smithjohn", lambda f, d: current_name("Smith, John", 1234, f, d)),
    (
        "2001",
        True,
        "2001",
        "obriensiobhán",
        lambda f, d: current_name("O'Brien, Siobhán", 2001, f, d, late=True),
    ),
    ("3003", False, "3003", "lee2ann", lambda f, d: current_name("Lee_2_ Ann", 3003, f, d)),
    ("anon_aB3x9", False, "", "", lambda f, d: current_name("X", 1, f, d, anonymous_id="aB3x9")),
    (
        "anon_Zk7Qm",
        True,
        "",
        "",
        lambda f, d: current_name("X", 2, f, d, late=True, anonymous_id="Zk7Qm"),
    ),
    ("anon_12345", False, "", "", lambda f, d: current_name("X", 3, f, d, anonymous_id="12345")),
    ("5678", True, "5678", "doejane", lambda f, d: old_name("Doe, Jane", 5678, f, d, late=True)),
    ("6060", False, "6060", "lateanna", lambda f, d: old_name("Late, Anna", 6060, f, d)),
    ("777", True, "777", "", lambda f, d: old_name("Y", 777, f, d, True, anonymous_feature=True)),
    ("778", False, "778", "", lambda f, d: old_name("Y", 778, f, d, anonymous_feature=True)),
]


def canvas_download() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for n, (sid, _late, _uid, _name, make) in enumerate(STUDENTS):
        if n % 3 == 2:  # some students upload one zip of cnn/
            files[make(90000 + n, "my cnn.zip")] = zip_bytes(package(sid))
            continue
        for k, module in enumerate(MODULES):
            files[make(10000 + 100 * n + k, f"{module}.py")] = body(module, sid)
    return files


def test_the_names_look_like_canvas_downloads():
    names = set(canvas_download())
    assert "smithjohn_1234_10000_shapes.py" in names
    assert "anon_aB3x9_10300_shapes.py" in names
    assert "LATE_anon_Zk7Qm_10400_shapes.py" in names
    assert "doejane_late_5678_10600_shapes.py" in names
    assert "lee2ann_3003_90002_my cnn.zip" in names and "anon_12345_90005_my cnn.zip" in names
    assert "late_777_90008_my cnn.zip" in names and "778_10900_shapes.py" in names
    assert "obriensiobhán_LATE_2001_10100_shapes.py" in names


@pytest.mark.parametrize("as_zip", [False, True])
def test_every_canvas_naming_is_one_student_with_the_late_flag(tmp_path, as_zip):
    files = canvas_download()
    if as_zip:
        root = write_zip(tmp_path / "submissions.zip", files)
    else:
        root = write_tree(tmp_path / "canvas", files)
    subs = by_id(discover([root]))
    assert sorted(subs) == sorted(s[0] for s in STUDENTS)
    for sid, late, uid, name, _ in STUDENTS:
        sub = subs[sid]
        assert sub.files == {f"{m}.py": body(m, sid) for m in MODULES}, (sid, sub.problems)
        assert sub.metadata["late"] is late, sid
        assert sub.metadata["canvas_user_id"] == uid, sid
        assert sub.metadata["name"] == name, sid
        if sid.startswith("anon_"):
            assert sub.metadata["canvas_anonymous_id"] == sid[5:]
    assert_clean(list(subs.values()))


def test_random_anonymous_ids_are_always_recognised(tmp_path):
    import random

    rng = random.Random(14)
    files = {}
    ids = set()
    while len(ids) < 40:
        ids.add("".join(rng.choice(BASE58) for _ in range(5)))
    for n, anon in enumerate(sorted(ids)):
        late = n % 2 == 0
        files[current_name("X", 1, 500 + n, "conv.py", late=late, anonymous_id=anon)] = b"# c\n"
    subs = by_id(discover([write_tree(tmp_path / "canvas", files)]))
    assert sorted(s.metadata.get("canvas_anonymous_id") for s in subs.values()) == sorted(ids)


def test_canvas_export_leaves_out_anonymous_students_with_one_sentence(tmp_path):
    from _class_results import submission

    results = []
    for sid, _late, uid, name, _ in STUDENTS:
        meta = {"source": "canvas", "canvas_user_id": uid, "name": name}
        if sid.startswith("anon_"):
            meta["canvas_anonymous_id"] = sid[5:]
        results.append(to_gradescope(submission(sid, {}, metadata=meta)))
    export = exports.canvas_rows(results, "Exercise 3")
    ids = [row[1] for row in export.rows[2:]]
    assert sorted(ids) == sorted(s[2] for s in STUDENTS if s[2])
    (warning,) = [w for w in export.warnings if "anonymous" in w]
    assert "3 " in warning and "\n" not in warning and "anon_aB3x9" in warning
