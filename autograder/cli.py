"""The ``grade`` command line: thin; each command calls one engine function.

User errors are one clear sentence (``ClickException``, exit 1); bad flags exit 2; ``grade run``
exits 3 when the grader failed on some submission (it is "not graded" and a rerun retries it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The grader computes expected values one student per process: one BLAS thread each (set before
# numpy is first imported; --jobs N uses N processes, not N x cores threads).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from . import GcPause  # noqa: E402

_loading = GcPause()  # the command line's modules: long-lived, nothing to collect
import click  # noqa: E402

from .config import ConfigError, example_config, load_config  # noqa: E402

EXIT_NOT_GRADED = 3  # grade run: the grader failed on some submission (retried by a rerun)


class _Fail(click.ClickException):
    def format_message(self) -> str:
        return self.message


def _config(path: Path | None):
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _Fail(str(exc)) from None


def _check_out(out: Path) -> None:
    from .outpath import OutPathError, check_out_folder

    try:
        check_out_folder(out)
    except OutPathError as exc:
        raise _Fail(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cnn-exercise-kit")
def main() -> None:
    """Grade the CNN exercises: run the hidden suite on submissions, build the Keras oracle.

    Example: grade run examples/sample-class --out grades
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for gradebook.csv and one folder per student.",
)
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Submissions graded in parallel.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config (points, visibility, limits, secret); see `grade config`.",
)
@click.option("--force", is_flag=True, help="Regrade submissions already graded in --out.")
@click.option(
    "--shard", metavar="K/N", help="Grade only the K-th of N deterministic slices of the class."
)
def run(paths, out, jobs, config_path, force, shard) -> None:
    """Grade every submission in PATHS and write OUT/gradebook.csv and OUT/<student>/.

    A PATH is one submission (a folder holding cnn/, a zip of one, loose module files) or a
    folder of submissions, a Gradescope export or a Canvas download.

    Example: grade run examples/sample-class --out grades --jobs 2
    """
    setup = GcPause()  # until the grader is built (start() below)
    from .batch import BatchError, BatchInterrupted, grade_batch, parse_shard
    from .discover import DiscoveryError

    bar = None
    try:
        cfg = _config(config_path)
        _check_out(out)
        shard_kn = parse_shard(shard)

        def start(total: int) -> None:
            nonlocal bar
            setup.end()
            if sys.stderr.isatty() and total:
                bar = click.progressbar(length=total, label="grading", file=sys.stderr)
                bar.__enter__()

        summary = grade_batch(
            list(paths),
            out,
            cfg,
            jobs=jobs,
            force=force,
            shard=shard_kn,
            on_start=start,
            progress=lambda n: bar.update(n) if bar else None,
        )
    except (DiscoveryError, BatchError) as exc:
        raise _Fail(str(exc)) from None
    except BatchInterrupted as stop:
        if bar is not None:
            bar.__exit__(None, None, None)
            bar = None
        _say_interrupted(stop, out)
        sys.exit(128 + stop.signum)
    finally:
        setup.end()
        if bar is not None:
            bar.__exit__(None, None, None)
    _echo_batch(Path(out), summary, cfg.total)
    if cfg.secret_is_default:
        click.echo(
            "Note: no instructor secret set (CNN_GRADE_SECRET or [grading] secret); "
            "hidden cases use the kit's development secret.",
            err=True,
        )
    if summary.isolation == "process-group":
        click.echo(
            "Note: weaker isolation on this machine (no user namespaces): student code "
            "ran as your user with resource limits only.",
            err=True,
        )
    if summary.failed:
        click.echo(
            f"Not graded (the grader failed, not the student): {', '.join(summary.failed)}. "
            "Their reports say why; run the same command again to retry them.",
            err=True,
        )
        sys.exit(EXIT_NOT_GRADED)


def _say_interrupted(stop, out: Path) -> None:
    """The console line after SIGTERM/SIGINT/SIGHUP (the terminal may be gone: never fail)."""
    text = (
        f"Interrupted by {stop}: graded {stop.graded} submission(s) in this run "
        f"({stop.total_done} graded in {out} in all); every sandbox worker was stopped. "
        "Rerun the same command to resume: graded students are skipped."
    )
    try:
        click.echo(text, err=True)
    except OSError:
        pass


def _echo_batch(out: Path, summary, total: float) -> None:
    """What happened: counts for this run, the whole gradebook's mean, where the report is."""
    totals = summary.totals  # every student in the folder (added up while writing the gradebook)
    missing = totals.not_graded
    click.echo(
        f"Graded {len(summary.graded)} submission(s), skipped {len(summary.skipped)} "
        "already graded (use --force to regrade)."
    )
    click.echo(
        f"All {totals.students} student(s) in {out}: mean score {totals.mean:.1f} / {total:g}"
        + (f" over the {totals.graded} graded" if totals.not_graded_count else "")
        + f"; {totals.with_problems} with problems in their submission, "
        f"{totals.not_graded_count} not graded{': ' + ', '.join(missing) if missing else ''}."
    )
    click.echo(f"Gradebook: {out / 'gradebook.csv'}; class report: {out / 'summary.html'}")


@main.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the joined gradebook.csv and student folders.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="The config the shards were graded with (for the gradebook's columns).",
)
def merge(shards, out, config_path) -> None:
    """Join the outputs of `grade run --shard K/N` runs into one gradebook.

    Example: grade merge grades-1 grades-2 grades-3 --out grades
    """
    from .batch import BatchError, merge_outputs

    cfg = _config(config_path)
    _check_out(out)
    items = [item for item, points in cfg.points.items() if points > 0]
    try:
        count = merge_outputs(list(shards), out, items)
    except BatchError as exc:
        raise _Fail(str(exc)) from None
    click.echo(f"Merged {count} student(s) into {Path(out) / 'gradebook.csv'}.")


@main.command("config")
def config_cmd() -> None:
    """Print a complete config file with every default (points, visibility, limits)."""
    click.echo(example_config(), nl=False)


@main.group()
def oracle() -> None:
    """The Keras ground-truth bank shipped with the kit (building it needs TensorFlow)."""


@oracle.command("build")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for bank.json and bank.npz (default: the kit's own bank).",
)
@click.option(
    "--part",
    "parts",
    type=click.Choice(["forward", "backward"]),
    multiple=True,
    help="The part(s) whose bank to build (default: both); each part has its own bank file.",
)
def oracle_build(out, parts) -> None:
    """Recompute every bank case with real Keras on the CPU and write the bank."""
    try:
        from .oracle.build import build_bank
    except ImportError as exc:
        raise _Fail(
            f"Building the oracle needs TensorFlow ({exc}); install the kit with "
            "pip install -e '.[all]'."
        ) from None
    parts = parts or ("forward", "backward")
    path = build_bank(out, parts=parts)
    click.echo(f"Wrote the Keras bank ({', '.join(parts)}) to {path.parent}.")


@oracle.command("verify")
@click.option(
    "--part",
    "parts",
    type=click.Choice(["forward", "backward"]),
    multiple=True,
    help="The part(s) whose bank to verify (default: both).",
)
def oracle_verify(parts) -> None:
    """Recompute the shipped bank with live Keras and report any difference."""
    try:
        from .oracle.verify import verify_bank
    except ImportError as exc:
        raise _Fail(
            f"Verifying the oracle needs TensorFlow ({exc}); install the kit with "
            "pip install -e '.[all]'."
        ) from None
    rounding: list[float] = []
    problems = verify_bank(rounding=rounding, parts=parts or ("forward", "backward"))
    if problems:
        for p in problems:
            click.echo(p, err=True)
        raise _Fail(f"The bank differs from live Keras in {len(problems)} case(s).")
    near = (
        f"; {len(rounding)} of them within float32 rounding (largest relative difference "
        f"{max(rounding):.2g}), the rest bitwise"
        if rounding
        else ", every one bitwise"
    )
    click.echo(f"Every bank case was reproduced by live Keras{near}.")


def _register_extra_commands() -> None:
    from .commands import register_all

    register_all(main)


_register_extra_commands()
_loading.end()
