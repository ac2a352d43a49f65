"""``grade handout``: the folder (or zip) students download.

It holds the stubs (``cnn/``), the public tests with their points summary (``tests/``,
``pytest.ini``) and a README built from the config. Nothing else leaves the kit: no solution,
no hidden suite, no oracle data, no secret. :func:`leaks` checks a built handout for exactly that.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

from ..config import DEV_SECRET, FORWARD_POINTS, Config
from ..paths import KIT_ROOT, PACKAGE_DIR, PUBLIC_TESTS_DIR, STUBS_DIR
from ..stubs import BEGIN, END, expected_stubs
from ..topics.model.plan_part2 import OUTCOME_ACCURACY, OUTCOME_TEXT, OUTCOME_TIMEOUT
from .public_cases import public_cases_json

# Public data shipped with the stubs (given code reads it): copied into the handout's cnn/ and
# allowed by the leak check only when byte-identical to the kit's copy in assignments/cnn/.
DATA_FILES = ("digits28.npz",)
# What ships only when part 2 ("backward") is graded: its stubs, data and public tests. The
# part-1 stubs always ship (part 2's training runs the student's own forward layers).
PART2_STUBS = ("backward.py", "gradcheck.py", "data.py")
PART2_TESTS = ("test_backward.py", "test_gradcheck.py", "test_lecture_training.py")


def _ships(config: Config, name: str) -> bool:
    return "backward" in config.parts or name not in (*PART2_STUBS, *PART2_TESTS, *DATA_FILES)


class HandoutError(Exception):
    """An instructor error while building the handout: one clear sentence."""


CONVENTIONS = [
    "**'same' padding follows TensorFlow:** total = max((ceil(n/s) - 1)*s + k_eff - n, 0), "
    "`before = total // 2`, and the odd extra cell goes *after* (bottom/right).",
    "**Convolution is cross-correlation** (the kernel is not flipped), summed over all input "
    "channels, plus the bias; channels-last shapes like Keras.",
    "**'same' max pooling pads with -inf**, so padding never wins a maximum.",
    "**'same' average pooling divides by the number of real (unpadded) cells** in each window.",
    "**AdaGrad's accumulator starts at 0.1** (`initial_accumulator_value=0.1`, like Keras), "
    "not at 0 as in the lecture's formula.",
    "**Adam is Keras's Adam:** `m` and `v` stay uncorrected, the bias correction goes into "
    "the step size `alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`, and `epsilon=1e-7` is "
    "added to `sqrt(v)` outside the square root (not the lecture's recursion).",
    "**Leaky ReLU's default slope is 0.2** (`keras.activations.leaky_relu`).",
    "**Dropout is inverted:** the identity unless `training`; kept units are scaled by "
    "1/(1 - rate).",
    "**The L2 penalty has no 1/2:** `l2 * sum(w**2)` as in `keras.regularizers.L2`, so nothing "
    "cancels the factor its gradient gets from the square.",
    "**EarlyStopping follows `keras.callbacks.EarlyStopping`:** `wait` grows before the "
    "improvement test, so `patience=0` stops like `patience=1`; ties are not improvements and "
    "`min_delta` is measured from the last best; `mode='auto'` is min for losses and max for "
    "accuracies; with `restore_best_weights`, `on_train_end` returns the best weights even when "
    "training ran all its epochs.",
    "**Inputs are never modified in place** (optimizers excepted: they update `params` in "
    "place), and invalid arguments raise `ValueError` (that checking code is given).",
]


def _points_json(config: Config) -> str:
    items = {item: points for item, points in config.points.items() if points > 0}
    data: dict = {"public_share": config.public_share, "items": items}
    if "forward" not in config.parts:  # part 2 alone: part 1's stubs ship, graded by no one
        data["not_graded"] = list(FORWARD_POINTS)
    return json.dumps(data, indent=1) + "\n"


def readme(config: Config) -> str:
    """The student README: running the tests, the tasks with points, conventions, submitting."""
    share = config.public_share
    total = sum(p for p in config.points.values() if p > 0)
    lines = [
        f"# CNN exercises ({config.assignment})",
        "",
        "You implement convolution, pooling, activations, optimizers, regularization and the "
        "lecture's network in numpy, in the package `cnn/`. Every function to write has a "
        "docstring with the shapes, the formula, the Keras counterpart and the conventions "
        "graded; its body is the marked region between `# BEGIN STUDENT CODE` and "
        "`# END STUDENT CODE` that raises `NotImplementedError` until you fill it in. Use only "
        "numpy and the standard library (a module that imports TensorFlow, Keras, PyTorch, JAX, "
        "`scipy.signal` or `scipy.ndimage` earns nothing).",
        "",
        "## Running the public tests",
        "",
        "You need Python >= 3.10. On Debian 12, Ubuntu 24.04 and other recent Linux systems `pip` "
        "refuses to install outside a virtual environment (PEP 668, "
        '"externally-managed-environment"), so make one first (once; about a minute):',
        "",
        "```bash",
        "python3 -m venv .venv && . .venv/bin/activate   # Windows: .venv\\Scripts\\activate",
        "python3 -m pip install numpy pytest",
        "pytest                      # from this folder: every public test (about 15 s)",
        "pytest tests/test_conv.py   # one module",
        "pytest --all-failures       # every failing test in full, not only the first per function",
        "```",
        "",
        "The first run fits on a screen: a function you have not written yet is one line in the "
        "table at the end; for each function the first failing test is shown in full and the "
        "others are counted. The table ends with your **public points**.",
        "",
        "## What the public tests promise",
        "",
        "`tests/test_public_cases.py` runs **the grader's own public cases** (in "
        "`tests/public_cases.json`) and judges them with a copy of the grader's rules "
        "(`tests/_judge.py`): the same float32 tolerance "
        "(`|got - want| <= 1e-5 max|want| + 1e-5 |want|`, so float32 answers pass), the same types "
        "(an exact `np.ndarray` where an array is expected, a Python `int` for sizes and counts), "
        "the same shapes, inputs left unchanged, and the same partial credit. So the public "
        "points pytest prints are the points the grader gives your code for the public part. "
        "The other test files (`test_conv.py`, ...) are lessons with hand-worked examples, such "
        "as the lecture's X image; they never judge more strictly than the grader, and they "
        "count no points of their own.",
        "",
        "What can still differ from the grader:",
        "",
        "- **Time.** The grader stops a call after its time limit per call (10 s by default) on "
        "its own machine, and a submission after its total budget; a very slow function may "
        "pass here and time out there, or the other way round on a slow laptop.",
        "- **Frameworks.** A module that imports TensorFlow, Keras, PyTorch, JAX, `scipy.signal` "
        "or `scipy.ndimage` earns nothing from the grader, even where its tests pass here.",
        "- **Code that ends Python** (`os._exit`, `sys.exit` at import) ends the local pytest "
        "run; the grader reports it and grades the rest.",
        "- **Sandbox.** The grader runs your code without network, with limited memory, and "
        "throws away files it writes.",
        "- **Hidden cases** are not here: passing every public case is a good sign, not a "
        "guarantee.",
        "",
        "## How you are graded",
        "",
        f"Each function below is worth the points shown ({total:g} in all). "
        f"{share:.0%} of a function's points are earned on **public cases** and "
        f"{1 - share:.0%} on **hidden cases**; partial credit is the fraction of cases passed. "
        "The grader's public cases are the ones in `tests/public_cases.json`, the same for "
        "everyone, and their results are shown at once. The hidden cases are drawn for "
        "you alone (so copying outputs does not help) and some are checked against real Keras; "
        "they are shown after the due date. Passing every public test here is a good sign, not "
        "a guarantee.",
        "",
        "| function | file | points | public | hidden |",
        "|---|---|---:|---:|---:|",
    ]
    for item, points in config.points.items():
        if points <= 0:
            continue
        module, name = item.split(".")
        lines.append(
            f"| `{name}` | `cnn/{module}.py` | {points:g} | {points * share:g} | "
            f"{points * (1 - share):g} |"
        )
    lines += [
        "",
        *_part2_paragraph(config),
        "## Conventions that decide grades",
        "",
        "Where the lecture's formula and Keras differ, **Keras's behaviour is graded**:",
        "",
        *[f"- {c}" for c in CONVENTIONS],
        "",
        "## Submitting",
        "",
        "Zip the `cnn/` folder itself (the zip holds `cnn/__init__.py`, `cnn/conv.py`, ...) and "
        "upload the zip:",
        "",
        "```bash",
        "zip -r submission.zip cnn",
        "```",
        "",
        "Do not rename files or functions, keep `cnn/_checks.py` as it is, and keep the imports "
        "between modules relative (`from .conv import conv2d`). Your code runs in a sandbox with "
        "a time limit per call and no network; files it writes are thrown away.",
        "",
    ]
    return "\n".join(lines)


def _part2_paragraph(config: Config) -> list[str]:
    if "backward" not in config.parts:
        return []
    return [
        "## Part 2: backward passes and training",
        "",
        "`cnn/backward.py`, `cnn/gradcheck.py` and the training functions at the end of "
        "`cnn/model.py` (`lecture_model_loss_and_grads`, `train_lecture_model`) are part 2 of the "
        "lecture (public tests: `tests/test_backward.py`, `tests/test_gradcheck.py`, "
        "`tests/test_lecture_training.py`). Start with the single-window helpers (they earn no "
        "points of their own). The conventions: a max-pooling window sends "
        "its whole gradient to its FIRST maximum in row-major order, overlapping windows add, "
        "'same' padding is cropped off `dx`, biases sum over the batch and space, and the loss "
        "is a batch mean, so its gradient is `(softmax(z) - y) / N`. `cnn/data.py` (given) "
        "loads the digits shipped in `cnn/digits28.npz`. Two epochs of `train_lecture_model` "
        "on them (Adam, learning rate 1e-3, batch 32) take about 10-20 s with a vectorised "
        "implementation and reach about 0.92 held-out accuracy. The hidden suite's outcome "
        f"case runs exactly that ({OUTCOME_TEXT}) and asks for a held-out accuracy of at "
        f"least {OUTCOME_ACCURACY}; it has its own time limit of "
        f"{getattr(config.limits, OUTCOME_TIMEOUT):g} s for the "
        "whole run (the other calls have the usual per-call limit): a slower implementation "
        "loses that case only.",
        "",
        *_part1_not_graded(config),
    ]


def _part1_not_graded(config: Config) -> list[str]:
    if "forward" in config.parts:
        return []
    return [
        "Only part 2 is graded in this assignment. The part-1 modules (`cnn/conv.py`, "
        "`cnn/pooling.py`, `cnn/activations.py`, `cnn/regularization.py`, `cnn/training.py`, "
        "...) ship too, with their lesson tests, and earn no points of their own here; but "
        "`lecture_model_loss_and_grads` and `train_lecture_model` run the lecture's forward "
        "pass, so the forward layers they call from your package (`conv2d`, `relu`, "
        "`max_pool2d`, `flatten`, `dense`, `dropout`, `softmax`, ...) must work for those two "
        "to earn theirs.",
        "",
    ]


def build_handout(
    out: Path, config: Config, make_zip: bool = False, notebook: bool = False
) -> Path:
    """Write the handout to the folder ``out`` (and ``out`` + ``.zip``); return the folder.

    ``notebook``: also write the notebook that writes the ``cnn/`` modules and runs the public
    tests (:mod:`autograder.lms.notebook`)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HandoutError(f"--out {out} already exists and is not an empty folder.")
    if _inside(out.resolve(), KIT_ROOT):
        raise HandoutError(f"--out {out} is inside the kit; choose a folder outside it.")
    stubs = expected_stubs()
    for name, text in stubs.items():
        committed = STUBS_DIR / name
        if not committed.is_file() or committed.read_text(encoding="utf-8") != text:
            raise HandoutError(
                f"assignments/cnn/{name} is out of date; run python -m autograder.stubs first."
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "cnn").mkdir()
    for name in sorted(n for n in stubs if _ships(config, n)):
        shutil.copyfile(STUBS_DIR / name, out / "cnn" / name)
    for name in [n for n in DATA_FILES if _ships(config, n)]:
        if not (STUBS_DIR / name).is_file():
            raise HandoutError(f"assignments/cnn/{name} is missing; run scripts/build_digits28.py.")
        shutil.copyfile(STUBS_DIR / name, out / "cnn" / name)
    (out / "tests").mkdir()
    for src in sorted(p for p in PUBLIC_TESTS_DIR.glob("*.py") if _ships(config, p.name)):
        shutil.copyfile(src, out / "tests" / src.name)
    (out / "tests" / "points.json").write_text(_points_json(config), encoding="utf-8")
    (out / "tests" / "public_cases.json").write_text(public_cases_json(config), encoding="utf-8")
    shutil.copyfile(PUBLIC_TESTS_DIR.parent / "pytest.ini", out / "pytest.ini")
    (out / "README.md").write_text(readme(config), encoding="utf-8")
    if notebook:
        from .notebook import NOTEBOOK_NAME, handout_notebook

        shipped = {n: t for n, t in stubs.items() if _ships(config, n)}
        (out / NOTEBOOK_NAME).write_text(handout_notebook(shipped), encoding="utf-8")
    problems = leaks(out, config.secret)
    if problems:
        shutil.rmtree(out, ignore_errors=True)
        raise HandoutError(f"Refusing to write the handout: {problems[0]}.")
    if make_zip:
        zip_folder(out, out.with_name(out.name + ".zip"), out.name)
    return out


def zip_folder(folder: Path, dest: Path, prefix: str) -> Path:
    """Zip ``folder`` as ``prefix/...`` with fixed timestamps (the same bytes every time)."""
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(f"{prefix}/{path.relative_to(folder).as_posix()}")
                info.date_time = (2020, 1, 1, 0, 0, 0)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    tmp.replace(dest)
    return dest


def student_regions(text: str) -> list[str]:
    """The code between the student-region markers of a module (stripped, one per region)."""
    regions, current = [], None
    for line in text.splitlines():
        if BEGIN.match(line):
            current = []
        elif END.match(line) and current is not None:
            regions.append("\n".join(x.strip() for x in current if x.strip()))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def leaks(folder: Path, secret: str = "") -> list[str]:
    """Everything in a built handout that must not reach students (empty when clean)."""
    from ..paths import SOLUTIONS_DIR

    folder = Path(folder)
    found = []
    solution_regions = {
        r for p in SOLUTIONS_DIR.glob("*.py") for r in student_regions(p.read_text("utf-8")) if r
    }
    private = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for d in ("topics", "oracle")
        for p in (PACKAGE_DIR / d).rglob("*")
        if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    shipped = {
        f"cnn/{name}": hashlib.sha256((STUBS_DIR / name).read_bytes()).hexdigest()
        for name in DATA_FILES
        if (STUBS_DIR / name).is_file()
    }
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        if rel in shipped and hashlib.sha256(data).hexdigest() == shipped[rel]:
            continue  # the public data file, byte-identical to the kit's
        if hashlib.sha256(data).hexdigest() in private or path.suffix in (".npz", ".npy"):
            found.append(f"{rel} is a file of the hidden suite or the oracle bank")
            continue
        text = data.decode("utf-8", errors="replace")
        if secret and secret != DEV_SECRET and secret in text:
            found.append(f"{rel} contains the instructor secret")
        if "_reference_cnn" in text:
            found.append(f"{rel} names the reference solutions package")
        if path.suffix == ".py":
            for region in student_regions(text):
                if region in solution_regions:
                    found.append(f"{rel} contains a reference solution's student region")
                    break
    return found


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
