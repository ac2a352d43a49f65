"""A regrade of a few students updates the class statistics of the last report instead of adding
up the whole class again (issue #16: a regrade of one student costs about one student), and the
reports it writes are byte for byte those that adding up the class gives."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest
from _class_results import ITEMS, POINTS, submission

from autograder import batch as batch_mod
from autograder import stream
from autograder.config import Config
from autograder.index import Index
from autograder.report import to_gradescope
from autograder.summary import ClassStats, stat_of
from autograder.summary_extra import Hardest

MISTAKE_IDS = ("conv-flipped-kernel", "adagrad-zero-init", "relu-leaky")


def _random_result(rng: random.Random, name: str) -> dict:
    passed = {
        item: (rng.randint(0, 4), rng.randint(0, 10)) for item in POINTS if rng.random() < 0.6
    }
    mistakes = {item: rng.choice(MISTAKE_IDS) for item in passed if rng.random() < 0.5}
    problems = ["cnn/conv.py could not be imported"] if rng.random() < 0.2 else []
    error = "not graded: the grading process died" if rng.random() < 0.1 else ""
    isolation = rng.choice(["namespaces+user", "process-group"])
    sub = submission(name, passed, mistakes, problems=problems, error=error, isolation=isolation)
    return to_gradescope(sub)


def _view(stats: ClassStats):
    """Everything the report shows of ``stats``, and their state with its lists sorted."""
    state = stats.state()

    def canon(value):
        if isinstance(value, list):
            items = [canon(v) for v in value]
            return sorted(items, key=json.dumps) if value and isinstance(value[0], list) else items
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        return value

    shown = (
        stats.item_stats(),
        stats.score_cards(),
        stats.overall_mistakes(),
        stats.mistake_rows(),
        stats.splits.fractions(),
        stats.hardest.ranked(),
        sorted(stats.isolation.items()),
        (stats.students, stats.failed, stats.with_problems, stats.problem_students),
    )
    return shown, canon(state)


@pytest.mark.parametrize("seed", range(6))
def test_statistics_with_students_taken_away_and_added_are_those_added_up(seed):
    rng = random.Random(seed)
    names = [f"s{i:03d}" for i in range(60)]
    before = {n: _random_result(rng, n) for n in names}
    after = dict(before)
    for n in rng.sample(names, 7):  # regraded
        after[n] = _random_result(rng, n)
    for n in rng.sample(names, 3):  # gone
        after.pop(n)
    for i in range(4):  # new
        after[f"t{i}"] = _random_result(rng, f"t{i}")
    stats = ClassStats.of([before[n] for n in sorted(before)], ITEMS)
    saved = json.loads(json.dumps(stats.state()))  # as the folder keeps it
    updated = ClassStats.from_state(ITEMS, saved)
    for n in sorted(before):
        if after.get(n) is not before[n]:
            updated.add_stat(stat_of(before[n], ITEMS), -1)
    for n in sorted(after):
        if before.get(n) is not after[n]:
            updated.add_stat(stat_of(after[n], ITEMS))
    assert updated.settle()
    assert _view(updated) == _view(ClassStats.of([after[n] for n in sorted(after)], ITEMS))


def test_taking_away_a_student_never_added_is_refused():
    rng = random.Random(1)
    stats = ClassStats.of([_random_result(rng, f"s{i}") for i in range(5)], ITEMS)
    stranger = submission("x", {"conv.conv2d": (1, 2)}, {"conv.conv2d": "never-seen-mistake"})
    stats.add_stat(stat_of(to_gradescope(stranger), ITEMS), -1)
    assert not stats.settle()


def test_hardest_cases_past_their_cap_are_not_kept_nor_updated():
    hardest = Hardest(cap=4)
    hardest.add_parsed(["conv.conv2d"], [["conv.conv2d", "hidden", [f"c{i}" for i in range(6)]]])
    assert not hardest.exact
    stats = ClassStats(ITEMS)
    stats.hardest = hardest
    assert stats.state() is None and not stats.settle()


# ---------------------------------------------------------------------------------------------
# grade run: the regrade of a few students


def _klass(root: Path, names) -> Path:
    subs = root / "class"
    for name in names:
        (subs / name / "cnn").mkdir(parents=True)
        (subs / name / "cnn" / "shapes.py").write_text("V = 0\n")
    return subs


def _variant(sub_root: Path, name: str) -> int:
    return int((sub_root / name / "cnn" / "shapes.py").read_text().split("=")[1])


def _result_of(student: str, origin: str, variant: int, fingerprint: str):
    """A student's result as its file says (variant): scores, mistakes, problems, failures."""
    rng = random.Random(f"{student}/{variant}")
    passed = {
        item: (rng.randint(0, 4), rng.randint(0, 10)) for item in POINTS if rng.random() < 0.7
    }
    mistakes = {item: rng.choice(MISTAKE_IDS) for item in passed if rng.random() < 0.5}
    problems = ["cnn/pooling.py is missing"] if variant % 3 == 2 else []
    sub = submission(student, passed, mistakes, problems=problems)
    sub.origin, sub.fingerprint = origin, fingerprint
    return sub


def _set(subs: Path, name: str, variant: int) -> None:
    (subs / name / "cnn" / "shapes.py").write_text(f"V = {variant}\n")


REPORTED = ("gradebook.csv", "mistakes.csv", "summary.html")


def test_a_regrade_of_a_few_students_updates_the_statistics_and_writes_the_same_reports(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(stream, "RECENT_NS", 0)  # the files here are milliseconds old
    names = [f"s{i:02d}" for i in range(40)]
    subs = _klass(tmp_path, names)
    for i, name in enumerate(names):
        _set(subs, name, i % 5)
    monkeypatch.setattr(
        batch_mod.Grader,
        "grade",
        lambda self, sub: _result_of(
            sub.student, sub.origin, _variant(subs, sub.student), self.fingerprint(sub)
        ),
    )
    given = []
    real = batch_mod.write_index_reports

    def spied(*args, **kwargs):
        given.append(args[6] if len(args) > 6 else kwargs.get("stats"))
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_mod, "write_index_reports", spied)
    out = tmp_path / "out"
    config = Config(secret="s")

    def run():
        given.clear()
        time.sleep(0.05)  # past the file system clock's granularity
        return batch_mod.grade_batch([subs], out, config)

    def check_against_a_full_report():
        """The reports as written, then those of adding up the class (the record of the
        statistics removed): the same bytes."""
        written = {name: (out / name).read_bytes() for name in REPORTED}
        items = json.loads((out / batch_mod.STATS).read_text())["stats"]["items"]  # the grader's
        (out / batch_mod.STATS).unlink()
        (out / batch_mod.REPORTS).unlink()
        index = Index.load(out)
        batch_mod.write_reports(out, index, items, None)
        assert {name: (out / name).read_bytes() for name in REPORTED} == written

    first = run()
    assert given == [None] and first.totals.students == 40  # the first report adds them up
    assert (out / batch_mod.STATS).is_file()

    _set(subs, "s07", 11)  # one student's new submission: new scores, mistakes, a problem
    one = run()
    assert len(given) == 1 and isinstance(given[0], ClassStats)
    assert one.graded == ["s07"]
    check_against_a_full_report()

    run()  # (the record of the statistics is written again by a full report)
    _set(subs, "s03", 7)  # two students, one of them gone, one new
    shutil.rmtree(subs / "s12")
    shutil.rmtree(out / "s12")
    (subs / "s40" / "cnn").mkdir(parents=True)
    _set(subs, "s40", 4)
    moved = run()
    assert isinstance(given[0], ClassStats) and moved.totals.students == 40
    assert "s12," not in (out / "gradebook.csv").read_text()
    check_against_a_full_report()

    run()
    for name in names[20:30]:  # a quarter of the class: added up again
        _set(subs, name, 9)
    run()
    assert given == [None]

    (out / batch_mod.STATS).write_text("{not json")  # a damaged record: added up again
    _set(subs, "s01", 8)
    run()
    assert given == [None] and json.loads((out / batch_mod.STATS).read_text())["stats"]

    Index.load(out).save(compact=True)  # the index rewritten (its inode may be reused): the
    assert not (out / batch_mod.STATS).exists()  # record of where its lines were goes with it
    _set(subs, "s02", 6)
    run()
    assert given == [None] and (out / batch_mod.STATS).is_file()
