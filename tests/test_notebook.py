"""The notebook route: `grade handout --notebook` and `grade run` on the submitted notebook.

The handout notebook is executed with a real Jupyter kernel (nbclient, from the otter extra) to
show that its %%writefile cells write cnn/ and its last cell runs the public tests. Submitted
notebooks are read as JSON only: a cell that would leave a mark if run never runs.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.discover import discover
from autograder.lms.notebook import NOTEBOOK_NAME, modules_from_notebook
from autograder.paths import MODULES, SOLUTIONS_DIR

SECRET = "notebook-secret-5"
WRONG_CONV = """

_right_conv2d = conv2d


def conv2d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    return _right_conv2d(x, kernel[::-1, ::-1], bias, stride, padding, dilation)
"""


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("h") / "handout"
    run = CliRunner().invoke(main, ["handout", "--out", str(out), "--notebook"])
    assert run.exit_code == 0, run.output
    assert "cnn_exercises.ipynb" in run.output
    return out


def _notebook(handout: Path) -> dict:
    return json.loads((handout / NOTEBOOK_NAME).read_text(encoding="utf-8"))


def _solved(handout: Path, wrong: bool = False, mark: Path | None = None) -> str:
    """The handout notebook with every module cell holding the solution (as a student would)."""
    nb = _notebook(handout)
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if src.startswith("%%writefile cnn/"):
            name = src.split("\n", 1)[0].rsplit("/", 1)[1]
            if (SOLUTIONS_DIR / name).is_file():
                text = (SOLUTIONS_DIR / name).read_text()
                if wrong and name == "conv.py":
                    text += WRONG_CONV
                cell["source"] = f"%%writefile cnn/{name}\n{text}".splitlines(keepends=True)
    if mark is not None:  # a cell that would leave a mark if anything ran it
        code = f"open({str(mark)!r}, 'w').write('ran')"
        nb["cells"].insert(1, {"cell_type": "code", "metadata": {}, "source": [code]})
    return json.dumps(nb)


def test_handout_notebook_has_one_writefile_cell_per_module(handout):
    nb = _notebook(handout)
    assert nb["nbformat"] == 4
    firsts = [
        "".join(c["source"]).split("\n", 1)[0] for c in nb["cells"] if c["cell_type"] == "code"
    ]
    written = [f.split("/", 1)[1] for f in firsts if f.startswith("%%writefile cnn/")]
    assert sorted(written) == sorted(["__init__.py", "_checks.py", *[f"{m}.py" for m in MODULES]])
    assert "pytest" in "".join(nb["cells"][-1]["source"])
    for name in written:  # the cells hold exactly the handout's stubs
        cell = next(
            c for c in nb["cells"] if "".join(c["source"]).startswith(f"%%writefile cnn/{name}\n")
        )
        assert "".join(cell["source"]).split("\n", 1)[1] == (handout / "cnn" / name).read_text()


def test_the_handout_notebook_runs_in_jupyter(handout, tmp_path):
    nbformat = pytest.importorskip("nbformat")  # from the otter extra, installed in CI
    from nbclient import NotebookClient

    work = tmp_path / "student"
    work.mkdir()
    shutil.copytree(handout / "tests", work / "tests")
    shutil.copyfile(handout / "pytest.ini", work / "pytest.ini")
    nb = nbformat.reads((handout / NOTEBOOK_NAME).read_text(), as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    for m in MODULES:
        assert (work / "cnn" / f"{m}.py").read_text() == (handout / "cnn" / f"{m}.py").read_text()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    # The public tests ran on the stubs: every function unfinished, no public point earned.
    assert "not implemented yet" in out and "Public points: 0.00 / " in out


def test_grade_run_grades_submitted_notebooks_without_running_them(handout, tmp_path):
    mark = tmp_path / "RAN"
    cls = tmp_path / "class"
    (cls / "ada").mkdir(parents=True)
    (cls / "ada" / "cnn_exercises.ipynb").write_text(_solved(handout, mark=mark))
    with zipfile.ZipFile(cls / "cy.zip", "w") as zf:
        zf.writestr("work/cnn_exercises.ipynb", _solved(handout, wrong=True))
    shutil.copytree(SOLUTIONS_DIR, cls / "zoe" / "cnn")  # the same code as ada, as a package
    out = tmp_path / "grades"
    run = CliRunner().invoke(
        main, ["run", str(cls), "--out", str(out)], env={"CNN_GRADE_SECRET": SECRET}
    )
    assert run.exit_code == 0, run.output
    assert not mark.exists(), "a notebook cell was executed"
    res = {
        p.name: json.loads((p / "results.json").read_text()) for p in out.iterdir() if p.is_dir()
    }
    assert res["ada"]["score"] == 100 == res["zoe"]["score"]
    assert res["ada"]["extra_data"]["metadata"]["notebook"] == "cnn_exercises.ipynb"
    cy = res["cy"]
    assert 0 < cy["extra_data"]["item_scores"]["conv.conv2d"] < 10
    assert cy["extra_data"]["mistakes"]["conv.conv2d"] == ["conv-flipped-kernel"]


def test_a_notebook_path_is_one_submission(handout, tmp_path):
    path = tmp_path / "dora.ipynb"
    path.write_text(_solved(handout))
    (sub,) = discover([path])
    assert sub.student == "dora" and sorted(sub.files) == sorted(
        ["__init__.py", "_checks.py", *[f"{m}.py" for m in MODULES]]
    )
    assert sub.files["conv.py"] == (SOLUTIONS_DIR / "conv.py").read_bytes()


@pytest.mark.parametrize(
    "data, sentence",
    [
        (b"{not json", "is not a readable notebook"),
        (b"[" * 200_000, "is not a readable notebook"),
        (b'{"cells": 3}', "has no list of cells"),
        (b"\xff\xfe", "is not a readable notebook"),
        (json.dumps({"cells": [{"cell_type": "code", "source": 7}]}).encode(), "no cell starting"),
        (
            json.dumps(
                {"cells": [{"cell_type": "code", "source": "%%writefile /etc/x.py\nx"}]}
            ).encode(),
            "not a cnn/<module>.py file",
        ),
        (
            json.dumps(
                {"cells": [{"cell_type": "code", "source": "%%writefile cnn/../x.py\nx"}]}
            ).encode(),
            "not a cnn/<module>.py file",
        ),
        (b" " * (8 * 1024 * 1024 + 1), "bigger than 8 MiB"),
    ],
)
def test_bad_notebooks_are_one_sentence(data, sentence):
    files, problems = modules_from_notebook(data, "x.ipynb")
    assert files == {}
    assert any(sentence in p for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_repeated_and_appended_cells():
    cells = [
        {"cell_type": "code", "source": "%%writefile cnn/conv.py\nold = 1\n"},
        {"cell_type": "markdown", "source": "%%writefile cnn/shapes.py\nnot code"},
        {"cell_type": "code", "source": ["%%writefile cnn/conv.py\n", "new = 2\n"]},
        {"cell_type": "code", "source": "%%writefile -a cnn/conv.py\nmore = 3\n"},
    ]
    files, problems = modules_from_notebook(json.dumps({"cells": cells}).encode(), "n.ipynb")
    assert files == {"conv.py": b"new = 2\nmore = 3\n"}
    assert any("3 cells write cnn/conv.py" in p for p in problems)
