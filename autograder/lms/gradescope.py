"""The Gradescope autograder bundle: build it (``grade gradescope``) and grade inside it.

The bundle is the kit's engine itself (``autograder/``, ``solutions/``, the handout's
``_checks.py``), a config holding the instructor's secret, ``requirements.txt`` (numpy, click,
pyyaml, tomli: no TensorFlow, the Keras oracle ships as data), ``setup.sh`` and
``run_autograder``. Inside Gradescope, ``run_autograder`` calls :func:`run_gradescope`, which
grades ``/autograder/submission`` exactly as ``grade run`` grades one submission and writes
``/autograder/results/results.json``. The bundle is for the instructor only: it holds the
solutions, the hidden suite and the secret.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import traceback
import zipfile
from dataclasses import fields
from pathlib import Path

from ..config import Config
from ..paths import PACKAGE_DIR, SOLUTIONS_DIR, STUBS_DIR
from .budget import hard_stop_seconds

TEMPLATES = Path(__file__).with_name("templates")
CONFIG_NAME = "grade.toml"
ROOT_ENV = "AUTOGRADER_ROOT"
# What setup.sh installs into its own venv: pinned wheels with their hashes (templates/).
HASHED_REQUIREMENTS = TEMPLATES / "requirements.txt"
# The same versions for otter's environment.yml (conda's pip section takes no hashes).
REQUIREMENTS = "numpy==2.2.6\nclick==8.1.8\nPyYAML==6.0.3\n"
FAILED_TEST = "Autograder failed"


class BundleError(Exception):
    """An instructor error while building a bundle: one clear sentence."""


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def config_toml(cfg: Config) -> str:
    """``cfg`` as a complete TOML config file (secret included)."""
    lines = [
        "# The config this autograder grades with (instructor only: it holds the secret).",
        "[grading]",
        f"assignment = {_toml_string(cfg.assignment)}",
        f"secret = {_toml_string(cfg.secret)}",
        f"public_share = {cfg.public_share!r}",
        f"parts = {json.dumps(list(cfg.parts))}",
        "",
        "[visibility]",
        f"public = {_toml_string(cfg.public_visibility)}",
        f"hidden = {_toml_string(cfg.hidden_visibility)}",
        "",
        "[limits]",
        *[f"{f.name} = {getattr(cfg.limits, f.name)!r}" for f in fields(cfg.limits)],
        "",
        "[points]",
        *[f"{_toml_string(k)} = {float(v)!r}" for k, v in cfg.points.items()],
    ]
    return "\n".join(lines) + "\n"


def kit_files() -> dict[str, Path]:
    """Archive name -> file, for everything the engine needs to grade (and nothing else)."""
    files: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if rel.parts[0] == "_kit":  # an installed wheel's data: the solutions come below
            continue
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files["autograder/" + rel.as_posix()] = path
    for path in sorted(SOLUTIONS_DIR.glob("*.py")):
        files[f"solutions/cnn/{path.name}"] = path
    from .handout import DATA_FILES  # part 2's reference reads its data next to data.py

    for name in DATA_FILES:
        if (STUBS_DIR / name).is_file():
            files[f"solutions/cnn/{name}"] = STUBS_DIR / name
    files["assignments/cnn/_checks.py"] = STUBS_DIR / "_checks.py"
    return files


def _write(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name)
    info.date_time = (2020, 1, 1, 0, 0, 0)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def add_kit(zf: zipfile.ZipFile, cfg: Config, prefix: str = "") -> None:
    """Write the kit (engine, solutions, _checks.py) and its config into ``zf``."""
    for name, path in kit_files().items():
        _write(zf, prefix + name, path.read_bytes())
    _write(zf, prefix + CONFIG_NAME, config_toml(cfg).encode())


def build_bundle(out: Path, cfg: Config) -> Path:
    """Write the Gradescope autograder zip to ``out``."""
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise BundleError(
            f"--out must name a .zip file (Gradescope uploads a zip); received {out}."
        )
    if out.is_dir():
        raise BundleError(f"--out {out} is a folder; give a file name such as autograder.zip.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        _write(zf, "setup.sh", (TEMPLATES / "setup.sh").read_bytes(), 0o755)
        run = (TEMPLATES / "run_autograder").read_text(encoding="utf-8")
        run = run.replace("@HARD_STOP@", str(hard_stop_seconds(cfg)))
        _write(zf, "run_autograder", run.encode(), 0o755)
        _write(zf, "requirements.txt", HASHED_REQUIREMENTS.read_bytes())
        add_kit(zf, cfg)
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------- inside Gradescope


def student_id(metadata_path: Path, default: str = "submission") -> str:
    """The student id Gradescope's metadata gives (as ``grade run`` names a Gradescope export's
    students: each submitter's sid, else the local part of the email, joined by '+')."""
    from ..discover import safe_id

    try:
        data = json.loads(Path(metadata_path).read_text(encoding="utf-8"))
        users = data.get("users") or []
        ids = []
        for user in users:
            sid = str(user.get("sid") or "").strip()
            email = str(user.get("email") or "").strip()
            ids.append(sid or email.partition("@")[0])
        raw = "+".join(i for i in ids if i)
    except (OSError, ValueError, AttributeError, TypeError):
        raw = ""
    return safe_id(raw) if raw else default


def upload_submission(submission: Path, student: str):
    """The upload as one ``Submission`` named ``student`` (as ``grade run`` would read it)."""
    from ..discover import DiscoveryError, Submission, discover

    try:
        subs = discover([submission])
    except DiscoveryError as exc:
        subs = [
            Submission(
                student,
                str(submission),
                {},
                problems=[
                    f"Nothing gradable was uploaded ({exc}) Upload a zip of your cnn/ folder "
                    "or the cnn/*.py files."
                ],
            )
        ]
    sub = subs[0]
    if len(subs) > 1:
        sub.problems.append(
            f"Your upload looks like {len(subs)} submissions; only {subs[0].origin} was graded."
        )
    sub.student = student
    return sub


def grade_result(submission: Path, student: str, cfg: Config, hide: tuple[Path, ...]):
    """Grade one submission folder as ``grade run`` would: a ``SubmissionResult``."""
    from ..engine import Grader

    sub = upload_submission(submission, student)
    return Grader.create(cfg, hide=hide).grade(sub)


def engine_deadline(cfg: Config) -> float:
    """Seconds after which the engine's process is stopped from outside (the otter plugin):
    the per-submission budget, the imports and a margin for starting up."""
    lim = cfg.limits
    return lim.submission_timeout + 2 * lim.import_timeout + 60.0


def failure_results(reason: str) -> dict:
    """A results.json for when the grader itself failed: score 0 and a visible test saying so."""
    return {
        "score": 0,
        "output": "The autograder failed on this submission; this is not your grade. "
        "Please tell your instructor.",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": FAILED_TEST,
                "number": "0",
                "score": 0,
                "max_score": 0,
                "status": "failed",
                "visibility": "visible",
                "output": f"The grading engine failed: {reason}",
                "output_format": "md",
            }
        ],
    }


class Stopped(BaseException):
    """SIGTERM (run_autograder's hard stop): keep the partial results.json as it is."""


def _stop(signum, frame) -> None:
    raise Stopped()


def run_gradescope(root: Path) -> int:
    """Grade ``root/submission`` into ``root/results/results.json``; never raises.

    results.json is rewritten atomically before grading and after each module (see
    :mod:`autograder.lms.budget`), so it is valid whenever Gradescope stops the run. Returns 0
    when the submission was graded, 1 when the fallback result had to be written.
    """
    from .. import GcPause

    setup = GcPause()  # until the grader is built
    from ..config import load_config
    from ..engine import Grader
    from ..report import write_atomic
    from .budget import dumps, grade_progressively

    root = Path(root).resolve()
    results = root / "results" / "results.json"

    def write(data: dict) -> None:
        write_atomic(results, dumps(data))
        os.chmod(results, 0o640)

    signal.signal(signal.SIGTERM, _stop)
    try:
        cfg = load_config(root / "source" / CONFIG_NAME)
        student = student_id(root / "submission_metadata.json")
        sub = upload_submission(root / "submission", student)
        grader = Grader.create(cfg, hide=(root,))
        setup.end()
        grade_progressively(grader, sub, write)
        return 0
    except Stopped:
        print("gradescope-run: stopped from outside; results.json holds what was graded")
        return 1
    except BaseException as exc:  # noqa: BLE001 - the student must get a results.json
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(f"gradescope-run: the engine failed: {detail}", file=sys.stderr)
        traceback.print_exc()
        write(failure_results(type(exc).__name__))
        return 1
    finally:
        setup.end()
