"""The class report: summary.html (statistics, escaping, a real headless browser) and
mistakes.csv."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import statistics
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from _class_results import HOSTILE, HOSTILE_DIR, ITEMS, klass, results, submission, write_class
from click.testing import CliRunner

from autograder import summary
from autograder.cli import main
from autograder.report import to_gradescope
from autograder.topics import MISTAKES


class Dom(HTMLParser):
    """Elements (tag, attrs) and the text of every script and of the whole page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def tags(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.elements if tag == name]


def students_rows(page: str) -> list[str]:
    body = page.split('id="students"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


# ---------------------------------------------------------------------------------------------
# The page as a string


def test_every_student_controlled_string_is_escaped():
    page = summary.class_report_html(results(), ITEMS)
    dom = Dom(page)
    assert len(dom.scripts) == 1 and dom.scripts[0] == summary._JS  # only the page's own script
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>markup" not in page
    assert html.escape(HOSTILE) in page
    text = "".join(dom.text)
    assert HOSTILE in text  # shown as text, not markup
    assert "<img src=x onerror=alert(2)>" in text
    assert "**bold** [link](javascript:alert(3)) <b>markup</b> & more" in text
    assert not [a for _, attrs in dom.elements for a in attrs if a.startswith("on")]
    hrefs = [a["href"] for a in dom.tags("a")]
    assert all(not h.lower().startswith("javascript") for h in hrefs)
    hostile_href = [h for h in hrefs if unquote(h) == f"{HOSTILE}/feedback.html"]
    assert hostile_href and "<" not in hostile_href[0] and "/" not in hostile_href[0][:-14]


def test_page_is_self_contained_and_restricted_by_csp():
    page = summary.class_report_html(results(), ITEMS)
    dom = Dom(page)
    assert not [a for _, a in dom.elements if a.get("src") or a.get("href", "").startswith("/")]
    charts = {a.get("id"): a for a in dom.tags("svg")}
    assert set(charts) == {"histogram", "items-plot"}  # inline SVG, drawn by the kit
    assert all(a["role"] == "img" and a["aria-labelledby"] for a in charts.values())
    assert not dom.tags("img") and not dom.tags("image") and not dom.tags("use")
    assert not dom.tags("link") and "http://" not in page and "https://" not in page
    csp = [
        a["content"] for a in dom.tags("meta") if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and "default-src 'none'" in csp[0] and "script-src 'sha256-" in csp[0]


def test_item_statistics_match_the_results():
    res = [r for r in results() if not r["extra_data"]["error"]]
    stats = {s["item"]: s for s in summary.item_stats(res, ITEMS)}
    for item in ITEMS:
        scores = [r["extra_data"]["item_scores"][item] for r in res]
        tops = {
            sum(t["max_score"] for t in r["tests"] if item.split(".")[1] in t["name"]) for r in res
        }
        assert stats[item]["points"] == max(tops)
        assert stats[item]["mean"] == pytest.approx(statistics.fmean(scores))
        assert stats[item]["full"] == sum(s == max(tops) for s in scores)
        made = [m for r in res for m in r["extra_data"]["mistakes"].get(item, [])]
        assert dict(stats[item]["mistakes"]) == {m: made.count(m) for m in set(made)}


def test_page_shows_scores_mistake_descriptions_and_isolation():
    res = results()
    page = summary.class_report_html(res, ITEMS)
    rows = students_rows(page)
    assert len(rows) == len(res)
    mean = statistics.fmean(r["score"] for r in res)
    assert f"{mean:.1f} / {res[0]['extra_data']['max_score']:g}" in page
    for mistake in ("conv-flipped-kernel", "adagrad-zero-init"):
        assert html.escape(MISTAKES[mistake]) in page
    assert "process-group" in page and "WEAKER ISOLATION" in page
    for r in res:
        student = html.escape(r["extra_data"]["student"])
        row = next(row for row in rows if f">{student}</a>" in row)
        assert f'data-v="{r["score"]:.6g}"' in row


def test_grader_failures_are_listed_but_left_out_of_the_statistics():
    base = klass()
    broken = submission("zed", {}, error="internal grader error (KeyError)")
    broken.tests = []
    plain = summary.class_report_html([to_gradescope(s) for s in base], ITEMS)
    both = summary.class_report_html([to_gradescope(s) for s in [*base, broken]], ITEMS)
    mean = re.compile(r"mean<b>([^<]*)</b>")
    assert mean.search(plain).group(1) == mean.search(both).group(1)
    assert "grader failed" in both and "grader failed" not in plain
    assert len(students_rows(both)) == len(base) + 1


def test_an_empty_class_still_gives_a_page():
    page = summary.class_report_html([], ITEMS)
    assert "No graded students yet" in page and not Dom(page).tags("svg")


def test_write_class_report_writes_the_page_and_mistake_counts(tmp_path):
    res = results()
    path = summary.write_class_report(tmp_path, res, ITEMS)
    assert path == tmp_path / "summary.html" and path.read_text(encoding="utf-8").startswith(
        "<!DOCTYPE html>"
    )
    rows = list(csv.DictReader(io.StringIO((tmp_path / "mistakes.csv").read_text())))
    expected = {}
    for r in res:
        for item, ids in r["extra_data"]["mistakes"].items():
            for m in ids:
                expected[(item, m)] = expected.get((item, m), 0) + 1
    assert {(row["item"], row["mistake"]): int(row["students"]) for row in rows} == expected
    assert all(row["description"] == MISTAKES[row["mistake"]] for row in rows)
    assert expected[("conv.conv2d", "conv-flipped-kernel")] == 2  # the fixture has two


# ---------------------------------------------------------------------------------------------
# `grade report`


def test_grade_report_command_writes_summary_with_working_feedback_links(tmp_path):
    write_class(tmp_path)
    out = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    links = {a["href"] for a in Dom(page).tags("a") if a.get("href", "").endswith("feedback.html")}
    assert len(links) == len(klass())  # the students table and the matrix link the same pages
    assert all((tmp_path / unquote(h)).is_file() for h in links)
    assert any(unquote(h).startswith(HOSTILE_DIR) for h in links)
    assert (tmp_path / "mistakes.csv").is_file()


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_grade_report_command_says_what_is_wrong(tmp_path, make):
    target = tmp_path / "grades"
    if make == "empty":
        target.mkdir()
    out = CliRunner().invoke(main, ["report", str(target)])
    assert out.exit_code == 1
    assert out.output.count("\n") == 1 and "Traceback" not in out.output
    assert ("No such graded folder" if make == "missing" else "No graded students") in out.output


# ---------------------------------------------------------------------------------------------
# A real headless browser


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "The class-report tests need a headless Chromium: apt-get install -y chromium "
        "(CI installs it in .ci/run)."
    )


def dump_dom(page: Path, profile: Path) -> str:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "</html>" in proc.stdout, proc.stderr[-3000:]
    return proc.stdout


def dump_probed(page: Path, probe: str, probed: Path) -> str:
    """The DOM of ``page`` with ``probe`` (a script, ending in ``</body>``) added and the
    page's script policy removed (so that the probe may run), rendered in Chromium."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    probed.write_text(text.replace("</body>", probe), encoding="utf-8")
    return dump_dom(probed, probed.parent / "profile")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    res = results()
    path = summary.write_class_report(folder, res, ITEMS)
    return folder, path, res


def test_browser_renders_rows_and_images_and_runs_no_injected_script(rendered):
    folder, path, res = rendered
    dom_text = dump_dom(path, folder / "profile")
    dom = Dom(dom_text)
    assert len(students_rows(dom_text)) == len(res)
    items_table = dom_text.split('id="items"', 1)[1].split("</table>")[0]
    assert items_table.count("<tr>") == len(ITEMS) + 1  # header and one row per function
    assert {a.get("id") for a in dom.tags("svg")} == {"histogram", "items-plot"}
    assert len(dom.tags("rect")) > len(ITEMS)  # the bars were parsed as SVG elements
    assert len(dom.scripts) == 1 and "alert" not in dom.scripts[0]
    assert HOSTILE in "".join(dom.text)


def test_browser_blocks_a_script_that_got_into_the_page(rendered):
    folder, path, _ = rendered
    hacked = folder / "hacked.html"
    text = path.read_text(encoding="utf-8")
    hacked.write_text(
        text.replace("</body>", '<script>document.title = "pwned";</script></body>'),
        encoding="utf-8",
    )
    dom = dump_dom(hacked, folder / "profile")
    assert "<title>Class report</title>" in dom and "pwned</title>" not in dom


def test_browser_sorts_the_students_table_and_draws_the_charts(rendered):
    folder, path, res = rendered
    probe = """<script>
window.addEventListener("load", function () {
  document.querySelector("#students thead th:nth-child(2)").click();
  document.body.setAttribute("data-imgs", Array.prototype.map.call(
    document.querySelectorAll("svg.chart"), function (s) {
      return Math.round(s.getBoundingClientRect().width) + "x" +
        Math.round(s.getBoundingClientRect().height) + "x" + s.querySelectorAll("rect").length;
    }).join(","));
});
</script></body>"""
    dom = dump_probed(path, probe, folder / "probed.html")
    order = [
        float(v)
        for v in re.findall(r'<td class="n" data-v="([^"]+)">', "".join(students_rows(dom)))[::2]
    ]
    assert order == sorted(r["score"] for r in res)
    assert 'aria-sort="ascending"' in dom
    charts = [[int(v) for v in c.split("x")] for c in re.search(r'data-imgs="([^"]*)"', dom)
              .group(1).split(",")]  # fmt: skip
    assert len(charts) == 2 and all(w > 100 and h > 100 and bars > 0 for w, h, bars in charts)


def test_browser_colours_the_matrix_and_names_a_hovered_cell(rendered):
    """A cell carries its points and a colour class; hovered, its title names the student and
    the function (the page's script), and its colour is the percent's hue (red 0, green 100)."""
    import colorsys

    folder, path, res = rendered
    probe = """<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("#matrix tbody tr:first-child td").forEach(function (td) {
    td.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
    td.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));  // named once
    out.push(td.textContent + "|" + getComputedStyle(td).backgroundColor + "|" + td.title);
  });
  document.body.setAttribute("data-cells", out.join(";"));
});
</script></body>"""
    dom = dump_probed(path, probe, folder / "probed-matrix.html")
    text = path.read_text(encoding="utf-8")
    cells = [c.split("|") for c in html.unescape(re.search(r'data-cells="([^"]*)"', dom).group(1))
             .split(";")]  # fmt: skip
    assert len(cells) == len(ITEMS)
    first = unquote(re.search(r'<th class="st"><a href="([^"/]+)/', text).group(1))
    for (percent, colour, title), item in zip(cells, ITEMS, strict=True):
        r, g, b = colorsys.hls_to_rgb(round(1.2 * int(percent)) / 360, 0.8, 0.7)
        want = [round(255 * v) for v in (r, g, b)]
        got = [int(v) for v in re.findall(r"\d+", colour)]
        assert all(abs(x - y) <= 1 for x, y in zip(got, want, strict=True)), (percent, colour)
        assert re.fullmatch(
            rf"{re.escape(first)} / {re.escape(item)}: [\d.e+-]+ of [\d.e+-]+", title
        )
