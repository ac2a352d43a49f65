"""The class report without a plotting library and in bounded memory (issue #16): the SVG
charts, the statistics added up one student at a time, the index that streams the records,
and that `grade run` / `grade report` never import matplotlib."""

from __future__ import annotations

import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tracemalloc
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from _class_results import HOSTILE, ITEMS, klass, results, submission, write_class

from autograder import batch, summary
from autograder.index import NAME, Entry, Index, slim
from autograder.paths import SOLUTIONS_DIR, STUBS_DIR
from autograder.report import to_gradescope, write_submission
from autograder.summary_charts import histogram_counts, histogram_svg, items_svg

KIT = Path(__file__).resolve().parent.parent


class Svg(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.titles: list[str] = []
        self._title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._title = tag == "title"
        if self._title:
            self.titles.append("")

    def handle_endtag(self, tag):
        self._title = False

    def handle_data(self, data):
        if self._title:
            self.titles[-1] += data


# ---------------------------------------------------------------------------------------------
# The charts


@pytest.mark.parametrize("top", [100.0, 12.0, 7.5])
def test_histogram_bins_are_numpys(top):
    rng = random.Random(int(top))
    scores = [round(rng.uniform(-1, top + 1), 2) for _ in range(500)]
    scores += [0.0, top, top / 20 * 3, top / 2]  # edges: the last bin is closed on the right
    clipped = [min(max(s, 0.0), top) for s in scores]
    expected, _ = np.histogram(clipped, bins=[i * (top / 20) for i in range(21)])
    assert histogram_counts(Counter(scores).items(), top) == (top, [int(c) for c in expected])


def test_histogram_svg_states_its_numbers_as_text():
    page = histogram_svg([(10.0, 1), (42.0, 2), (100.0, 3)], 100.0)
    dom = Svg(page)
    svg = dict(dom.tags)["svg"]
    assert svg["role"] == "img" and svg["aria-labelledby"] == "histogram-title histogram-desc"
    assert dom.titles[0] == "Histogram of the scores of 6 students (out of 100)"
    bars = [a for t, a in dom.tags if t == "rect"]
    assert len(bars) == 3  # one per non-empty bin, each with its count on hover
    assert "95 to 100: 3 student(s)" in dom.titles and "40 to 45: 2 student(s)" in dom.titles
    heights = sorted(float(a["height"]) for a in bars)
    assert heights[0] < heights[1] < heights[2] and heights[2] == pytest.approx(3 * heights[0])
    table = page.split("<details", 1)[1]
    assert table.count("<tr>") == 21 and '<td>95 to 100</td><td class="n">3</td>' in table


def test_items_svg_splits_each_function_and_escapes_its_name():
    stats = [
        {"item": "conv.conv2d", "students": 4, "full": 2, "none": 1},
        {"item": f"x.{HOSTILE}", "students": 4, "full": 4, "none": 0},
    ]
    page = items_svg(stats)
    assert HOSTILE not in page and "&lt;script&gt;" in page
    dom = Svg(page)
    assert "conv.conv2d: full points 2/4 (50%)" in dom.titles
    assert "conv.conv2d: partial 1/4 (25%)" in dom.titles
    assert "conv.conv2d: no points 1/4 (25%)" in dom.titles
    widths = [float(a["width"]) for t, a in dom.tags if t == "rect" and float(a["width"]) > 12]
    assert widths[0] == pytest.approx(2 * widths[1]) == pytest.approx(2 * widths[2])
    assert widths[3] == pytest.approx(sum(widths[:3]))  # 100 % is the same length
    assert '<td class="n">50%</td><td class="n">25%</td><td class="n">25%</td>' in page


# ---------------------------------------------------------------------------------------------
# Statistics one student at a time


@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_score_cards_match_the_statistics_module(n):
    rng = random.Random(n)
    res = [to_gradescope(submission(f"s{i}", {"conv.conv2d": (rng.randint(0, 4), 3)}))
           for i in range(n)]  # fmt: skip
    scores = [r["score"] for r in res]
    cards = dict(summary.ClassStats.of(res, ITEMS).score_cards())
    assert cards["median"] == f"{statistics.median(scores):.1f}"
    assert cards["mean"].startswith(f"{statistics.fmean(scores):.1f} / ")
    assert cards["lowest"] == f"{min(scores):.1f}" and cards["highest"] == f"{max(scores):.1f}"


def test_a_streamed_report_is_the_report_of_the_list(tmp_path):
    res = results()
    listed = summary.write_class_report(tmp_path / "a", res, ITEMS).read_text()
    ordered = sorted(res, key=lambda r: r["extra_data"]["student"])
    passes = []

    def source():
        passes.append(1)
        return (r for r in ordered)

    streamed = summary.write_class_report(tmp_path / "b", source, ITEMS).read_text()
    assert streamed == listed and 1 <= len(passes) <= 4
    assert (tmp_path / "a" / "mistakes.csv").read_text() == (
        tmp_path / "b" / "mistakes.csv"
    ).read_text()


def test_hardest_cases_stay_bounded_and_keep_the_frequent_ones():
    from autograder.summary_extra import Hardest

    hardest = Hardest(cap=50)
    for i in range(400):  # every student fails one shared case and one case of its own
        hardest.add(
            {
                "tests": [
                    {
                        "name": "conv2d (conv.py) - hidden cases",
                        "score": 1.0,
                        "output": f"- FAILED: `shared`\n- FAILED: `own {i}`",
                    }
                ]
            }
        )
        assert len(hardest.failing) <= 51
    ranked = hardest.ranked()
    assert ranked[0][:5] == ("conv.conv2d", "hidden", "shared", 400, 400)


# ---------------------------------------------------------------------------------------------
# The index streams the records


def test_the_index_keeps_no_record_in_memory_and_saves_one_sorted_line_each(tmp_path):
    out = tmp_path / "out"
    for name in ("c", "a", "b"):
        write_submission(out, submission(name, {}))
    index = Index.load(out)
    assert all(isinstance(e, Entry) for e in index.entries.values())
    assert index.current("a", "") and not index.current("a", "other")
    write_submission(out, submission("a", {"conv.conv2d": (0, 0)}))
    index.put("a", [1, 2, 3], slim(json.loads((out / "a" / "results.json").read_text())))
    lines = (out / NAME).read_text().splitlines()
    assert len(lines) == 4  # appended: the later line wins
    assert index.record("a")["score"] < index.record("b")["score"]
    index.save()
    lines = (out / NAME).read_text().splitlines()
    assert [json.loads(line.split("\t")[0])[0] for line in lines] == ["a", "b", "c"]
    assert [r["extra_data"]["student"] for r in index.iter_records()] == ["a", "b", "c"]
    assert index.record("a")["score"] < index.record("b")["score"]


def test_a_half_written_index_line_loses_only_that_line(tmp_path):
    out = tmp_path / "out"
    for name in ("a", "b"):
        write_submission(out, submission(name, {}))
    Index.load(out).save()
    with open(out / NAME, "ab") as f:
        f.write(b'["c", [1, 2')  # a run killed in the middle of a line
    write_submission(out, submission("c", {}))
    index = Index.load(out)
    assert index.reread == 1 and [r["extra_data"]["student"] for r in index.records()] == [
        "a",
        "b",
        "c",
    ]
    assert Index.load(out).reread == 0


def test_an_index_is_loaded_from_its_headers_as_the_lines_read_whole(tmp_path):
    """Index.load (the file mapped, each header sliced at its first tab) keeps the entries,
    offsets, sizes and file size that reading the file line by line gives, whatever the
    lines: blank, without a tab, with a header that is not one, replaced, half written."""
    from autograder.index import _parse_header

    out = tmp_path / "out"
    for name in ("a", "b", "c"):
        write_submission(out, submission(name, {}))
    Index.load(out).save()
    lines = (out / NAME).read_bytes().splitlines(keepends=True)
    junk = [b"\n", b"no tab here\n", b'["x"]\tnot a header\n', b"[1, 2\t{}\n"]
    stale = lines[1].replace(b'"b", [', b'"b", [0, ', 1)  # b's stamp, wrong: replaced below
    (out / NAME).write_bytes(b"".join([*junk, stale, *lines, lines[0], b'["c", [1, 2']))
    reference, offset = {}, 0  # the former Index.load: for line in f
    with open(out / NAME, "rb") as f:
        for line in f:
            head, tab, _ = line.partition(b"\t")
            ok = tab and line.endswith(b"\n")
            found = _parse_header(head, offset, len(line)) if ok else None
            if found is not None:
                reference[found[0]] = found[1]
            offset += len(line)
    index = Index.load(out)
    assert index.reread == 0 and index.entries == reference and index.size == offset
    assert [r["extra_data"]["student"] for r in index.iter_records()] == ["a", "b", "c"]


def test_an_empty_index_file_is_loaded_as_none(tmp_path):
    out = tmp_path / "out"
    write_submission(out, submission("a", {}))
    (out / NAME).write_bytes(b"")
    index = Index.load(out)
    assert index.reread == 1 and list(index.entries) == ["a"]
    empty = Index.load(tmp_path / "none")
    assert not empty.entries and empty.size == 0 and list(empty.facts("k", list)(0)) == []


def _fields_split(line: bytes) -> list[bytes]:
    """The former reading of a line's facts fields: the whole line split at its tabs."""
    return line.split(b"\t")[1:-1]


def test_the_facts_fields_sliced_from_the_file_are_those_of_the_split_lines(tmp_path):
    """A pass of Index.facts reads a line's key and parts (sliced from the mapped file at its
    tabs) exactly as splitting the whole line did: a line without facts, with facts of
    another key, with fewer parts than a pass reads or a damaged one is built again from its
    record (and rewritten at the end of the file, read alone after); a line appended while a
    pass runs (beyond what was mapped) is read from the file as it is then."""
    from autograder.index import encode_facts

    out = tmp_path / "out"
    out.mkdir()
    index = Index(out)
    key = "k1"

    def build(r: dict) -> list:
        return [{"gb": r["score"]}, [r["score"], "shared"], {"who": r["extra_data"]["student"]}]

    def record(name: str, score: float) -> dict:
        return {"score": score, "extra_data": {"student": name}, "points": {"i": [score, 1]}}

    full = {"a": key, "b": None, "c": "other", "d": "short", "e": "damaged", "f": key, "g": key}
    for i, (name, kind) in enumerate(full.items()):
        r = record(name, float(i))
        facts = encode_facts(key if kind in (key, "short", "damaged") else "other", build(r))
        if kind is None:
            facts = None
        elif kind == "short":
            facts = facts[:2]  # the key and the first part only
        elif kind == "damaged":
            facts[3] = facts[3][:-2]
        index.put(name, [i, i, i], r, facts=facts)
    before = (out / NAME).read_bytes()
    built: list[str] = []

    def counted(r: dict) -> list:
        built.append(r["extra_data"]["student"])
        return build(r)

    source = index.facts(key, counted)
    assert [f for (f,) in source(0)] == [build(record(n, float(i)))[0] for i, n in enumerate(full)]
    assert built == ["b", "c"]  # d's first part is there, e's damaged one is its page
    expect = {
        n: _fields_split(line)
        for n, line in zip(sorted(index.entries), before.splitlines(keepends=True), strict=True)
    }
    assert expect["d"][0] == json.dumps(key).encode() and len(expect["d"]) == 2
    built.clear()
    got = []
    for first, stat in source(0, 1, shared=(1,)):
        got.append((first, stat))
        if len(got) == 1:  # g again, appended beyond the file as mapped when the pass began
            r = record("g", 99.0)
            index.put("g", [9, 9, 9], r, facts=encode_facts(key, build(r)))
    assert built == ["d"] and got[-1] == ({"gb": 99.0}, [99.0, "shared"])
    built.clear()
    assert [p for (p,) in source(2)][4] == {"who": "e"} and built == ["e"]
    assert list(source(2)) and list(source(0, 1)) and built == ["e"]  # read alone since
    lines = {}
    for name, entry in index.entries.items():
        with open(out / NAME, "rb") as f:
            f.seek(entry.offset)
            lines[name] = f.readline()
            assert len(lines[name]) == entry.size
    assert all(_fields_split(line)[0] == json.dumps(key).encode() for line in lines.values())
    assert all(len(_fields_split(line)) == 4 for line in lines.values())


def test_the_item_names_read_from_the_records_end_are_those_of_the_records(tmp_path, monkeypatch):
    """Index.iter_item_names (what `grade report` reads for its items) gives each line's item
    names from the record's trailing points alone, the names item_points gives of the whole
    record; so items_named of them is items_of the records. A line whose record does not end
    with its own points is parsed whole."""
    from autograder.exports import item_points, items_of
    from autograder.index import items_named

    out = tmp_path / "out"
    write_class(out)
    index = Index.load(out)
    records = list(index.iter_records())
    parsed: list[bytes] = []

    def record(line: bytes) -> dict:
        parsed.append(line)
        return json.loads(line.rpartition(b"\t")[2])

    monkeypatch.setattr("autograder.index._record", record)
    names = list(index.iter_item_names())
    assert not parsed and names == [list(item_points(r)) for r in records]
    assert items_named(names) == items_of(records) and len(items_of(records)) > 1
    fake = {"fake": [1.0, 1.0]}

    def without(r: dict, *keys: str) -> dict:
        return {k: v for k, v in r.items() if k not in keys}

    odd = {  # the record as slim writes it, but (parsed whole unless said)...
        "older": lambda r: without(r, "points"),  # no points (item_points: from its tests)
        "first": lambda r: {"points": r["points"], **without(r, "points")},  # not last
        "inner": lambda r: without(r, "points", "extra_data")  # points last, but within
        | {"extra_data": {**r["extra_data"], "points": fake}},
        "text": lambda r: without(r, "points") | {"z": 'x", "points": {"fake": [1, 1]}'},
        "listed": lambda r: without(r, "points") | {"points": ["fake"]},  # not an object
        "top": lambda r: {"points": {"only": [1.0, 2.0]}},  # its only key: read alone
    }
    for name, make in odd.items():
        index.put(name, [1, 2, 3], make(dict(records[0])))
    parsed.clear()
    names = dict(zip(sorted(index.entries), index.iter_item_names(), strict=True))
    whole = {n: json.loads(index._line(n).rpartition(b"\t")[2]) for n in index.entries}
    assert names == {n: list(item_points(r)) for n, r in whole.items()}
    for name in ("older", "first", "inner", "text"):
        assert names[name] == list(records[0]["points"]), name
    assert names["listed"] == ["fake"] and names["top"] == ["only"]
    assert sorted(json.loads(line.split(b"\t")[0])[0] for line in parsed) == sorted(
        ["older", "first", "inner", "text", "listed"]
    )


@pytest.mark.parametrize("facts", ["built from the records", "read from the index"])
def test_the_reports_pass_holds_one_student_at_a_time(tmp_path, monkeypatch, facts):
    """Working memory of writing the gradebook and report from the index (its peak above what
    is left held after: the index's own entries), for 100 and 500 students: (almost) the
    same, where holding the records would take ten times as much. Once when the students'
    facts are built from their records, once when they are read from the index."""
    monkeypatch.setattr(summary, "SPOOL", 1)  # the matrix and problems go to a file at once
    peaks = []
    for n in (100, 500):
        out = tmp_path / f"out{n}"
        out.mkdir()
        index = Index(out)
        record = slim(to_gradescope(submission("x", {"conv.conv2d": (1, 3)}, problems=["p"])))
        for i in range(n):
            record["extra_data"]["student"] = f"s{i:04d}"
            index.put(f"s{i:04d}", [i, i, i], record)
        index.save()
        if facts == "read from the index":
            batch.write_reports(out, index, ITEMS, None)
            monkeypatch.setattr("autograder.index._record", None)  # a record read: TypeError
        tracemalloc.start()
        totals = batch.write_reports(out, index, ITEMS, None)
        current, peak = tracemalloc.get_traced_memory()
        peaks.append(peak - current)
        tracemalloc.stop()
        assert totals.students == n and (out / "summary.html").read_text().count("<tr><td><a") == n
        monkeypatch.undo()
        monkeypatch.setattr(summary, "SPOOL", 1)
    held = len(json.dumps(record)) * 400  # what a list of the records would hold, at least
    assert peaks[1] - peaks[0] < held / 10, peaks


def _reports(out: Path) -> dict[str, str]:
    return {n: (out / n).read_text() for n in ("gradebook.csv", "mistakes.csv", "summary.html")}


def _listed(out: Path, res: list[dict], items: list[str]) -> dict[str, str]:
    """The reports of a list of results, without an index (in ``out``: the links depend on
    the feedback files there)."""
    batch.write_gradebook(out, res, items)
    summary.write_class_report(out, res, items)
    return _reports(out)


def test_the_reports_from_the_indexs_facts_are_the_reports_of_the_results(tmp_path, monkeypatch):
    """gradebook.csv, mistakes.csv and summary.html built from the facts the index keeps
    (built from the records the first time, read alone the second, built again for other
    items) are byte for byte the files built from the results themselves."""
    import dataclasses

    from _class_results import HOSTILE_DIR

    subs = klass(HOSTILE_DIR)
    twins = [dataclasses.replace(s, student=f"twin-{i}") for i, s in enumerate(subs * 2)]
    res = write_class(tmp_path / "out", subs + twins)  # equal statistics: parsed once, shared
    index = Index.load(tmp_path / "out")
    assert index.reread == len(res)
    totals = batch.write_reports(tmp_path / "out", index, ITEMS, None)
    first = _reports(tmp_path / "out")
    assert first == _listed(tmp_path / "out", res, ITEMS)
    assert totals.students == len(res) and totals.with_problems == 3
    lines = (tmp_path / "out" / NAME).read_bytes().splitlines()
    assert len(lines) == len(res) and all(len(line.split(b"\t")) == 6 for line in lines)
    with monkeypatch.context() as m:  # the second time, no record is parsed
        m.setattr("autograder.index._record", None)
        index = Index.load(tmp_path / "out")
        assert index.reread == 0
        again = batch.write_reports(tmp_path / "out", index, ITEMS, None)
    assert _reports(tmp_path / "out") == first and again == totals
    fewer = ITEMS[:2]  # another key: built again, from the records on the lines
    batch.write_reports(tmp_path / "out", Index.load(tmp_path / "out"), fewer, None)
    built = _reports(tmp_path / "out")
    assert built == _listed(tmp_path / "out", res, fewer) and built != first


def test_the_facts_grade_run_writes_are_the_facts_a_report_builds(tmp_path, monkeypatch):
    """A folder graded by `grade run --jobs 2` carries each student's facts on its index line
    (built in the grading process, sent back as JSON), and they are the ones the reports
    would build from its record; the reports then parse no record."""
    from autograder.config import Config
    from autograder.summary import report_facts

    made = {s.student: s for s in klass()}
    names = sorted(n for n in made if n.isalnum())
    subs = tmp_path / "class"
    for name in names:
        (subs / name / "cnn").mkdir(parents=True)
        (subs / name / "cnn" / "shapes.py").write_text(f"X = {name!r}\n")

    def fake_grade(self, sub):
        made[sub.student].fingerprint = self.fingerprint(sub)
        return made[sub.student]

    monkeypatch.setattr(batch.Grader, "grade", fake_grade)
    parsed: list[bytes] = []

    def record(line: bytes) -> dict:
        parsed.append(line)
        return json.loads(line.rpartition(b"\t")[2])

    monkeypatch.setattr("autograder.index._record", record)
    out = tmp_path / "out"
    config = Config(secret="s")
    done = batch.grade_batch([subs], out, config, jobs=2)
    assert sorted(done.graded) == names and not parsed  # the reports read the facts only
    key, build = report_facts(batch.Grader.create(config).items, "feedback.html")
    lines = (out / NAME).read_bytes().splitlines()
    assert len(lines) == len(names) == 3
    for line in lines:
        _head, tag, first, stat, page, body = line.split(b"\t")
        assert json.loads(tag) == key
        assert [json.loads(first), json.loads(stat), json.loads(page)] == build(json.loads(body))


def test_a_large_index_is_compacted_only_when_its_dead_lines_are_worth_it(tmp_path, monkeypatch):
    import autograder.index as index_module

    monkeypatch.setattr(index_module, "COMPACT_BELOW", 0)  # every index counts as large
    out = tmp_path / "out"
    write_class(out)
    index = Index.load(out)
    index.save(compact=True)
    size = (out / NAME).stat().st_size
    name = sorted(index.entries)[0]
    index.put(name, list(index.entries[name].stamp), index.record(name))  # one student again
    index.save()
    assert (out / NAME).stat().st_size > size  # appended, not rewritten
    assert Index.load(out).record(name) == index.record(name)
    for _ in range(3):  # now a quarter of the file is dead: rewritten
        index.put(name, list(index.entries[name].stamp), index.record(name))
    index.save()
    assert (out / NAME).stat().st_size == size and index.dead == 0
    assert [r["extra_data"]["student"] for r in Index.load(out).iter_records()] == sorted(
        index.entries
    )


def test_an_old_plot_cache_is_removed_and_harmless(tmp_path):
    write_class(tmp_path)
    (tmp_path / ".plot-cache.json").write_text('{"x": "<script>not a png"}')
    path = summary.write_class_report(tmp_path, results(), ITEMS)
    assert not (tmp_path / ".plot-cache.json").exists() and "not a png" not in path.read_text()


# ---------------------------------------------------------------------------------------------
# No matplotlib in `grade run` or `grade report`

# Records every attempt to import matplotlib (installed or not), then runs the CLI.
_WATCH = """
import sys
class Watch:
    seen = []
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("matplotlib", "PIL"):
            Watch.seen.append(name)
        return None
sys.meta_path.insert(0, Watch())
import atexit
atexit.register(lambda: print("IMPORTED:" + ",".join(Watch.seen), file=sys.stderr))
from autograder.cli import main
main()
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", _WATCH, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=KIT)


def test_grade_run_and_grade_report_import_no_plotting_library(tmp_path):
    subs = tmp_path / "class"
    shutil.copytree(STUBS_DIR, subs / "ann" / "cnn")
    shutil.copyfile(SOLUTIONS_DIR / "activations.py", subs / "ann" / "cnn" / "activations.py")
    from autograder.config import DEFAULT_POINTS

    points = [f'"{k}" = {3 if k == "activations.relu" else 0}' for k in DEFAULT_POINTS]
    (tmp_path / "grade.toml").write_text("[points]\n" + "\n".join(points) + "\n")
    out = tmp_path / "out"
    run = _run("run", str(subs), "--out", str(out), "--config", str(tmp_path / "grade.toml"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "IMPORTED:\n" in run.stderr, run.stderr[-2000:]
    page = (out / "summary.html").read_text()
    assert page.count("<svg ") == 2 and "<img" not in page
    report = _run("report", str(out))
    assert report.returncode == 0 and "IMPORTED:\n" in report.stderr, report.stderr[-2000:]
    # the probe works: a command that does import matplotlib would be seen
    probe = subprocess.run(
        [sys.executable, "-c", _WATCH.replace("from autograder.cli import main\nmain()",
                                              "import matplotlib")],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(r"IMPORTED:matplotlib", probe.stderr), probe.stderr[-2000:]


def test_a_damaged_facts_field_is_built_again_from_the_record(tmp_path):
    out = tmp_path / "out"
    res = write_class(out)
    index = Index.load(out)
    batch.write_reports(out, index, ITEMS, None)
    first = _reports(out)
    lines = (out / NAME).read_bytes().splitlines(keepends=True)
    fields = lines[1].split(b"\t")
    fields[4] = fields[4][:-5]  # the page's field cut short: not JSON any more
    (out / NAME).write_bytes(b"".join([lines[0], b"\t".join(fields), *lines[2:]]))
    index = Index.load(out)
    assert index.reread == 0
    batch.write_reports(out, index, ITEMS, None)
    assert _reports(out) == first and len(res) == len(index)


def test_a_large_class_gets_its_matrix_on_a_page_of_its_own(tmp_path, monkeypatch):
    """Above summary.MATRIX_INLINE students the matrix goes to matrix.html (linked, the same
    rows, its own script and policy); a class at or below it has it inline again and the old
    page is removed."""
    monkeypatch.setattr(summary, "MATRIX_INLINE", 2)
    res = results()[:3]
    path = summary.write_class_report(tmp_path, res, ITEMS)
    page, matrix = path.read_text(), (tmp_path / summary.MATRIX_PAGE).read_text()
    assert 'id="matrix"' not in page and 'href="matrix.html"' in page
    assert matrix.count('<th class="st">') == 4  # the header's and one per student
    assert matrix.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in matrix
    assert matrix.rstrip().endswith("</html>") and 'href="summary.html"' in matrix
    monkeypatch.setattr(summary, "MATRIX_INLINE", 3)
    (tmp_path / "inline").mkdir()
    inline = summary.write_class_report(tmp_path / "inline", res, ITEMS).read_text()
    assert 'id="matrix"' in inline and not (tmp_path / "inline" / summary.MATRIX_PAGE).exists()
    rows = re.findall(r"<tr><th class=\"st\"><a .*</tr>", matrix)
    assert len(rows) == 3 and all(row in inline for row in rows)
    summary.write_class_report(tmp_path, res[:2], ITEMS)
    assert 'id="matrix"' in path.read_text() and not (tmp_path / summary.MATRIX_PAGE).exists()
