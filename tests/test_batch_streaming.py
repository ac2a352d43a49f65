"""Issue #16's batch machinery without the sandbox: lazy discovery, the output folder's index,
the grading processes of --jobs N, and lazily computed named mistakes."""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import batch as batch_mod
from autograder import stream
from autograder.compare import matches
from autograder.config import Config
from autograder.discover import discover
from autograder.index import NAME, Index, slim
from autograder.mistakes import LazyMistakes
from autograder.paths import SOLUTIONS_DIR
from autograder.results import CaseResult, GraderFailure, SubmissionResult
from autograder.results import TestResult as ResultOfTest
from autograder.summary import class_report_html


def _odd_class(root: Path) -> Path:
    c = root / "class"
    shutil.copytree(SOLUTIONS_DIR, c / "Ann" / "cnn")
    shutil.copytree(SOLUTIONS_DIR, c / "ann" / "cnn")  # a duplicate id
    (c / "gradebook.csv").mkdir()  # a reserved id
    (c / "gradebook.csv" / "shapes.py").write_text("x = 1\n")
    (c / "empty").mkdir()
    with zipfile.ZipFile(c / "zed.zip", "w") as z:
        z.writestr("cnn/shapes.py", "x = 2\n")
    (c / "1234_5678_conv.py").write_text("y = 1\n")  # Canvas
    (c / "bob_LATE_99_111_shapes.py").write_text("y = 2\n")
    return c


def test_lazy_discovery_finds_what_discover_finds(tmp_path):
    c = _odd_class(tmp_path)
    g = tmp_path / "gs"
    (g / "submission_1" / "cnn").mkdir(parents=True)
    (g / "submission_1" / "cnn" / "shapes.py").write_text("z = 1\n")
    (g / "stray" / "cnn").mkdir(parents=True)
    (g / "stray" / "cnn" / "shapes.py").write_text("z = 2\n")
    (g / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :sid: s1\n    :name: A\nsubmission_2: {}\n"
    )
    for paths in ([c], [g], [c, g], [c / "Ann"], [c / "zed.zip"]):
        eager = [vars(s) for s in discover(paths)]
        lazy = [vars(p.load()) for p in stream.discover_pending(paths)]
        assert lazy == eager, paths


def test_a_shard_reads_only_its_own_students(tmp_path, monkeypatch):
    c = tmp_path / "class"
    for i in range(12):
        shutil.copytree(SOLUTIONS_DIR, c / f"s{i:02d}" / "cnn")
    read: list[str] = []
    real = stream.Pending.load

    def load(self):
        read.append(self.student)
        return real(self)

    monkeypatch.setattr(stream.Pending, "load", load)
    pending = stream.discover_pending([c])
    assert read == []  # listing the class read no student's files
    mine = [p for p in pending if batch_mod.in_shard(p.student, (2, 4))]
    subs = [p.load() for p in mine]
    assert read == [p.student for p in mine] and len(mine) < 12
    assert all(s.files for s in subs)


def _result(student: str, score_cases: list[bool], error: str = "") -> SubmissionResult:
    test = ResultOfTest("conv.conv2d", "hidden", 10.0, "visible")
    test.cases = [
        CaseResult("conv.conv2d", f"case {i}", "hidden", "reference", ok, "" if ok else "bad")
        for i, ok in enumerate(score_cases)
    ]
    test.cases[-1].message = "not implemented yet (it raised NotImplementedError)."
    return SubmissionResult(student, f"/x/{student}", [test], error=error, fingerprint="f")


def test_reports_from_the_slim_index_are_the_reports_from_the_files(tmp_path):
    from autograder.report import gradebook_rows, to_gradescope

    results = [
        to_gradescope(_result("a", [True, False, True])),
        to_gradescope(_result("b", [False, False, True])),
        to_gradescope(_result("c", [True], error="not graded: x")),
    ]
    slims = [slim(r) for r in results]
    items = ["conv.conv2d"]
    assert gradebook_rows(slims, items) == gradebook_rows(results, items)
    assert class_report_html(slims, items) == class_report_html(results, items)
    assert len(json.dumps(slims)) < len(json.dumps(results))


def test_the_index_rereads_only_results_that_changed(tmp_path):
    from autograder.report import write_submission

    out = tmp_path / "out"
    for name in ("a", "b", "c"):
        write_submission(out, _result(name, [True, False]))
    first = Index.load(out)
    assert first.reread == 3 and [r["extra_data"]["student"] for r in first.records()] == [
        "a",
        "b",
        "c",
    ]
    first.save()
    assert Index.load(out).reread == 0
    write_submission(out, _result("b", [True, True]))  # changed behind the index's back
    shutil.rmtree(out / "c")
    again = Index.load(out)
    assert again.reread == 1 and [r["extra_data"]["student"] for r in again.records()] == ["a", "b"]
    (out / NAME).write_text("not json\n")  # a damaged index is only a cache
    assert len(Index.load(out).records()) == 2


def _fake_class(root: Path, names) -> Path:
    subs = root / "class"
    for name in names:
        (subs / name / "cnn").mkdir(parents=True)
        (subs / name / "cnn" / "shapes.py").write_text(f"X = {name!r}\n")
    return subs


def _grade_empty(monkeypatch) -> None:
    """Grading gives every student an empty result (no case run): the batch's own logic."""
    monkeypatch.setattr(
        batch_mod.Grader,
        "grade",
        lambda self, sub: SubmissionResult(
            sub.student, sub.origin, fingerprint=self.fingerprint(sub)
        ),
    )


def test_jobs_2_grades_in_processes_and_a_dead_one_leaves_not_graded(tmp_path, monkeypatch):
    names = [f"s{i}" for i in range(7)]
    subs = _fake_class(tmp_path, names)

    def fake_grade(self, sub):
        if sub.student == "s3":
            os._exit(7)  # the grading process dies (a grader bug, an OOM kill)
        if sub.student == "s5":
            raise GraderFailure("the sandbox worker could not be started (status 126)")
        return SubmissionResult(
            sub.student,
            sub.origin,
            fingerprint=self.fingerprint(sub),
            metadata={"pid": os.getpid()},
        )

    monkeypatch.setattr(batch_mod.Grader, "grade", fake_grade)
    out = tmp_path / "out"
    summary = batch_mod.grade_batch([subs], out, Config(secret="s"), jobs=2)
    assert sorted(summary.graded) == names
    assert sorted(summary.failed) == ["s3", "s5"]
    pids = {
        json.loads((out / n / "results.json").read_text())["extra_data"]["metadata"].get("pid")
        for n in names
        if n not in ("s3", "s5")
    }
    assert os.getpid() not in pids and len(pids) >= 2  # graded in other processes
    dead = json.loads((out / "s3" / "results.json").read_text())["extra_data"]
    assert dead["status"] == "not graded" and "grading process" in dead["error"]
    assert "s3,not graded," in (out / "gradebook.csv").read_text()
    # the rerun grades only the two not graded, in this process or the pool
    _grade_empty(monkeypatch)
    again = batch_mod.grade_batch([subs], out, Config(secret="s"), jobs=2)
    assert sorted(again.graded) == ["s3", "s5"] and len(again.skipped) == 5
    assert not again.failed and again.totals.students == 7 and again.totals.graded == 7


def test_a_rerun_reads_only_the_students_whose_files_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "RECENT_NS", 0)  # the files here are milliseconds old
    names = [f"s{i}" for i in range(6)]
    subs = _fake_class(tmp_path, names)
    graded, read = [], []
    real = stream.Pending.load

    def load(self):
        read.append(self.student)
        return real(self)

    def fake_grade(self, sub):
        graded.append(sub.student)
        return SubmissionResult(sub.student, sub.origin, fingerprint=self.fingerprint(sub))

    monkeypatch.setattr(stream.Pending, "load", load)
    monkeypatch.setattr(batch_mod.Grader, "grade", fake_grade)
    out = tmp_path / "out"

    def run(config=None, **kw):
        graded.clear(), read.clear()
        config = config or Config(secret="s")
        time.sleep(0.05)  # past the file system clock's granularity
        return batch_mod.grade_batch([subs], out, config, **kw)

    assert sorted(run().graded) == names and sorted(read) == names
    # s2 changes its file, keeping its size and modification time; s4's is touched only
    changed = subs / "s2" / "cnn" / "shapes.py"
    st = changed.stat()
    changed.write_text("X = 's9'\n")
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert changed.stat().st_size == st.st_size and changed.stat().st_mtime_ns == st.st_mtime_ns
    os.utime(subs / "s4" / "cnn" / "shapes.py")
    again = run()
    assert sorted(read) == ["s2", "s4"] and graded == ["s2"], (read, graded)
    assert sorted(again.skipped) == ["s0", "s1", "s3", "s4", "s5"]
    assert again.totals.students == 6
    third = run()  # s4 was found current by its fingerprint and its new stamp kept
    assert read == [] and graded == [] and len(third.skipped) == 6
    # another config (points, limits, secret) or --force reads and grades every student
    assert sorted(run(Config(secret="other")).graded) == names and sorted(read) == names
    assert sorted(run(Config(secret="other"), force=True).graded) == names


def test_an_output_folder_inside_the_class_is_never_a_student(tmp_path, monkeypatch):
    subs = _fake_class(tmp_path, ["s0", "s1"])

    def fake_grade(self, sub):
        return SubmissionResult(sub.student, sub.origin, fingerprint=self.fingerprint(sub))

    monkeypatch.setattr(batch_mod.Grader, "grade", fake_grade)
    for _ in range(2):  # the second run finds the folders the first one wrote in the class
        summary = batch_mod.grade_batch([subs], subs / "grades", Config(secret="s"))
        assert sorted(summary.graded + summary.skipped) == ["s0", "s1"]
        assert summary.totals.students == 2


def test_the_source_stamp_follows_every_file_and_distrusts_fresh_changes(tmp_path, monkeypatch):
    root = tmp_path / "s"
    (root / "cnn").mkdir(parents=True)
    (root / "cnn" / "conv.py").write_text("A = 1\n")
    assert stream.tree_stamp(str(root)) is None  # changed less than two seconds ago
    monkeypatch.setattr(stream, "RECENT_NS", 0)
    first = stream.tree_stamp(str(root))
    assert first and stream.tree_stamp(str(root)) == first
    stamps = {first}
    for change in (
        lambda: (root / "cnn" / "notes.txt").write_text("x"),  # a new file, even ignored
        lambda: (root / "cnn" / "notes.txt").unlink(),  # its removal (the folder changed)
        lambda: (root / "cnn" / "conv.py").chmod(0o600),  # metadata
        lambda: (root / "cnn" / "conv.py").write_text("A = 2\n"),  # content, same size
    ):
        time.sleep(0.05)
        change()
        stamps.add(stream.tree_stamp(str(root)))
    assert len(stamps) == 5 and None not in stamps
    assert stream.tree_stamp(str(tmp_path / "missing")) is None
    # the stamp's format is the documented one (stamps kept in an index stay valid): each
    # entry's line, depth first in name order
    import hashlib

    def line(rel, path):
        st = os.lstat(path)
        return (
            f"{rel}\0{st.st_mode}|{st.st_size}|{st.st_dev}|{st.st_ino}|"
            f"{st.st_mtime_ns}|{st.st_ctime_ns}\n"
        )

    (root / "cnn" / "b.py").write_text("B = 1\n")
    (root / "a").mkdir()
    text = "".join(
        line(rel, root / rel[1:] if rel else root)
        for rel in ("", "/a", "/cnn", "/cnn/b.py", "/cnn/conv.py")
    )
    wanted = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    assert stream.tree_stamp(str(root)) == wanted
    monkeypatch.setattr(stream, "MAX_STAMP_ENTRIES", 5)
    assert stream.tree_stamp(str(root)) == wanted  # five entries: still stamped
    monkeypatch.setattr(stream, "MAX_STAMP_ENTRIES", 4)
    assert stream.tree_stamp(str(root)) is None  # too many files: read them instead


def _old_tree_stamp(where: str) -> str | None:
    """tree_stamp as it was first written (one lstat per joined path, a stack of every entry
    met): the reference its faster form must give the same digest as, for every tree."""
    import hashlib
    import stat as stat_mod

    limit = time.time_ns() - stream.RECENT_NS
    lines: list[str] = []
    add, lstat, join = lines.append, os.lstat, os.path.join
    todo = [("", where)]
    try:
        while todo:
            rel, path = todo.pop()
            st = lstat(path)
            if st.st_mtime_ns > limit or st.st_ctime_ns > limit:
                return None
            if len(lines) >= stream.MAX_STAMP_ENTRIES:
                return None
            mode = st.st_mode
            add(
                f"{rel}\0{mode}|{st.st_size}|{st.st_dev}|{st.st_ino}|"
                f"{st.st_mtime_ns}|{st.st_ctime_ns}\n"
            )
            if stat_mod.S_ISDIR(mode):
                with os.scandir(path) as it:
                    names = sorted([e.name for e in it], reverse=True)
                todo.extend([(f"{rel}/{n}", join(path, n)) for n in names])
    except OSError:
        return None
    data = "".join(lines).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def test_the_source_stamp_is_the_digest_of_its_first_form_for_every_tree(tmp_path, monkeypatch):
    """Folders nested and empty, files, names that sort apart from their paths ("a" < "a b" <
    "a.py" < "a/x"), a name that is not UTF-8, links to a folder, a file and nothing (not
    followed), a lone file, a link as the root, too many entries, a missing path, a recent
    change: the same digest (or None) as the first tree_stamp."""
    monkeypatch.setattr(stream, "RECENT_NS", 0)
    root = tmp_path / "s"
    for folder in ("a/x/y", "a b", "cnn/sub", "empty", "z/deep/er/est"):
        (root / folder).mkdir(parents=True)
    for path in ("a.py", "B.md", "a/x/1.txt", "a/x/y/2.txt", "a b/c", "cnn/conv.py", "z/deep/er/f"):
        (root / path).write_text(path * 3)
    (root / "cnn" / "sub" / "__init__.py").write_bytes(b"")
    os.symlink("../a", root / "cnn" / "to-a")
    os.symlink("conv.py", root / "cnn" / "to-conv")
    os.symlink("nowhere", root / "dangling")
    odd = os.fsencode(str(root / "cnn")) + b"/\xff\xfe-odd.py"
    with open(odd, "wb") as f:
        f.write(b"x")
    os.symlink(root / "a", tmp_path / "link-root")
    trees = [root, root / "a", root / "empty", root / "a.py", root / "cnn", tmp_path / "link-root"]
    digests = [stream.tree_stamp(str(t)) for t in trees]
    assert digests == [_old_tree_stamp(str(t)) for t in trees] and None not in digests
    assert len(set(digests)) == len(digests)
    entries = sum(1 for _ in root.rglob("*")) + 1  # the symlinks listed, not followed
    for cap in (entries - 1, entries, entries + 1, 1, 2):
        monkeypatch.setattr(stream, "MAX_STAMP_ENTRIES", cap)
        assert stream.tree_stamp(str(root)) == _old_tree_stamp(str(root)), cap
    assert stream.tree_stamp(str(root)) is None  # cap 2
    monkeypatch.setattr(stream, "MAX_STAMP_ENTRIES", entries)
    assert stream.tree_stamp(str(root)) == digests[0]
    assert stream.tree_stamp(str(tmp_path / "missing")) is _old_tree_stamp(str(tmp_path / "x"))
    monkeypatch.setattr(stream, "RECENT_NS", 10**12)  # everything is recent now
    assert stream.tree_stamp(str(root)) is None is _old_tree_stamp(str(root))


def _eager(recipes, expected, distinct):
    kept = {}
    for name, make in recipes.items():
        try:
            out = make()
        except ValueError:
            continue
        if matches(out, expected) or (distinct and any(matches(out, o) for o in kept.values())):
            continue
        kept[name] = out
    return kept


@pytest.mark.parametrize("distinct", [False, True])
def test_lazy_mistakes_are_the_eager_ones_and_computed_only_when_needed(distinct):
    expected = np.arange(4.0)
    calls = []

    def recipe(name, value):
        def make():
            calls.append(name)
            if value is None:
                raise ValueError("does not apply")
            return np.asarray(value, dtype=float)

        return make

    recipes = {
        "same-as-expected": recipe("same-as-expected", [0, 1, 2, 3]),
        "off-by-one": recipe("off-by-one", [1, 2, 3, 4]),
        "skip": recipe("skip", None),
        "again-off-by-one": recipe("again-off-by-one", [1, 2, 3, 4]),
        "doubled": recipe("doubled", [0, 2, 4, 6]),
    }
    lazy = LazyMistakes(recipes, expected, matches, distinct=distinct, skip=(ValueError,))
    assert calls == []
    first = next(name for name, out in lazy.items() if matches(np.array([1.0, 2, 3, 4]), out))
    assert first == "off-by-one" and calls == ["same-as-expected", "off-by-one"]
    calls.clear()
    eager = _eager(recipes, expected, distinct)
    assert list(lazy) == list(eager) and len(lazy) == len(eager)
    assert all(np.array_equal(lazy[k], eager[k]) for k in eager)


def test_a_killed_runs_half_written_files_are_removed_and_a_finished_run_scans_no_student(
    tmp_path, monkeypatch
):
    """A batch marks its output folder while it writes (batch.RUNNING) and unmarks it when it
    finishes. The next run removes half-written temp files (write_atomic's names) from every
    student folder when the mark is there (a killed run), and only from the folder itself
    after a finished run, which wrote none it did not finish."""
    names = ["a", "b"]
    subs = _fake_class(tmp_path, names)
    _grade_empty(monkeypatch)
    out = tmp_path / "out"
    batch_mod.grade_batch([subs], out, Config(secret="s"))
    assert not (out / batch_mod.RUNNING).exists()
    half = [out / "a" / ".results.json.x1.tmp", out / ".gradebook.csv.x2.tmp"]
    for p in half:
        p.write_text("half")
    batch_mod.grade_batch([subs], out, Config(secret="s"))
    assert half[0].exists() and not half[1].exists()  # after a finished run: the folder only
    (out / batch_mod.RUNNING).write_text("")  # as a killed run leaves it
    batch_mod.grade_batch([subs], out, Config(secret="s"))
    assert not half[0].exists() and not (out / batch_mod.RUNNING).exists()


def test_a_grading_process_retires_after_its_share_and_a_fresh_one_goes_on(tmp_path, monkeypatch):
    """With pool.RETIRE = 2, seven students are graded by at least four processes (each
    retired after two, none left running), every one graded once; a process that dies meanwhile
    still costs only its own student."""
    from autograder import pool as pool_mod

    monkeypatch.setattr(pool_mod, "RETIRE", 2)
    names = [f"s{i}" for i in range(7)]
    subs = _fake_class(tmp_path, names)

    def fake_grade(self, sub):
        if sub.student == "s4":
            os._exit(7)
        return SubmissionResult(
            sub.student,
            sub.origin,
            fingerprint=self.fingerprint(sub),
            metadata={"pid": os.getpid()},
        )

    monkeypatch.setattr(batch_mod.Grader, "grade", fake_grade)
    out = tmp_path / "out"
    summary = batch_mod.grade_batch([subs], out, Config(secret="s"), jobs=2)
    assert sorted(summary.graded) == names and summary.failed == ["s4"]
    pids = [
        json.loads((out / n / "results.json").read_text())["extra_data"]["metadata"]["pid"]
        for n in names
        if n != "s4"
    ]
    assert len(set(pids)) >= 3 and max(pids.count(p) for p in pids) <= 2
    for pid in set(pids):
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()


def test_a_rerun_that_grades_nobody_keeps_the_reports_and_anything_else_rewrites_them(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(stream, "RECENT_NS", 0)  # the files here are milliseconds old
    names = [f"s{i}" for i in range(5)]
    subs = _fake_class(tmp_path, names)
    _grade_empty(monkeypatch)
    out = tmp_path / "out"
    files = [out / name for name in batch_mod.REPORT_FILES]
    passes = []
    real = batch_mod.write_index_reports

    def counted(*args, **kwargs):
        passes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_mod, "write_index_reports", counted)

    def run(config=None):
        passes.clear()
        time.sleep(0.05)  # past the file system clock's granularity
        return batch_mod.grade_batch([subs], out, config or Config(secret="s"))

    first = run()
    assert passes == [1] and all(f.is_file() for f in files)
    written = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files}
    again = run()  # nothing changed: no pass, the same files, the same totals
    assert passes == [] and {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files} == written
    assert again.totals == first.totals and again.totals.students == 5
    # each of these makes the next run write the reports again
    (out / "summary.html").write_text("edited")
    assert run().totals == first.totals and passes == [1]
    assert b"</html>" in (out / "summary.html").read_bytes()
    (out / "mistakes.csv").unlink()
    run()
    assert passes == [1] and (out / "mistakes.csv").is_file()
    run(Config(secret="s", assignment="other"))  # another config: everyone regraded, rewritten
    assert passes == [1]
    shutil.rmtree(subs / "s3")
    shutil.rmtree(out / "s3")  # a student gone from the folder
    gone = run(Config(secret="s", assignment="other"))
    assert passes == [1] and gone.totals.students == 4
    assert "s3," not in (out / "gradebook.csv").read_text()
    run(Config(secret="s", assignment="other"))
    assert passes == []
    (out / batch_mod.REPORTS).write_text("{not json")  # a damaged record of them: rewritten
    run(Config(secret="s", assignment="other"))
    assert passes == [1]
