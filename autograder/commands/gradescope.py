"""``grade gradescope``: the autograder zip an instructor uploads to Gradescope.

``grade gradescope-run`` is what the bundle's ``run_autograder`` calls inside Gradescope.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def register(group: click.Group) -> None:
    group.add_command(gradescope)
    group.add_command(gradescope_run)


@click.command()
@click.option(
    "--out",
    "-o",
    default="autograder.zip",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The zip to write.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config (points, visibility, limits) the bundle grades with.",
)
@click.option(
    "--secret",
    envvar="CNN_GRADE_SECRET",
    help="The instructor secret behind hidden cases (default: $CNN_GRADE_SECRET or the config's).",
)
@click.option(
    "--otter",
    is_flag=True,
    help="Build the bundle with otter-grader 7 (`otter generate`) instead of the kit's own.",
)
def gradescope(out, config_path, secret, otter) -> None:
    """Build the Gradescope autograder zip: the kit's engine, the solutions, the hidden suite,
    the Keras bank and the secret. Keep it away from students.

    Example: CNN_GRADE_SECRET=... grade gradescope --out autograder.zip
    """
    from ..config import DEV_SECRET, ConfigError, load_config
    from ..lms.gradescope import BundleError, build_bundle
    from ..outpath import OutPathError, check_out_file

    try:
        cfg = load_config(config_path)
        check_out_file(out)
    except (ConfigError, OutPathError) as exc:
        raise click.ClickException(str(exc)) from None
    if secret:
        cfg.secret = secret
    from ..lms.budget import GRADESCOPE_TIMEOUT, bundle_config, explicit_limits, worst_case_seconds

    cfg = bundle_config(cfg, explicit_limits(config_path))
    try:
        if otter:
            from ..lms.otter import OtterError, build_otter_bundle

            try:
                path = build_otter_bundle(out, cfg)
            except OtterError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            path = build_bundle(out, cfg)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Wrote {path}: upload it as the assignment's autograder on Gradescope "
        "(any current Ubuntu base image). It holds the solutions and the secret: instructors only."
    )
    worst = worst_case_seconds(cfg)
    click.echo(
        f"Time budget: {cfg.limits.submission_timeout:g} s per submission, "
        f"{cfg.limits.call_timeout:g} s per call; worst case about {worst:g} s "
        f"(Gradescope's default limit is {GRADESCOPE_TIMEOUT:g} s)."
    )
    if worst > 0.9 * GRADESCOPE_TIMEOUT:
        click.echo(
            "Warning: a submission that hangs may outlast Gradescope's default limit; raise the "
            "assignment's autograder timeout on Gradescope or lower [limits] submission_timeout.",
            err=True,
        )
    if cfg.secret == DEV_SECRET:
        click.echo(
            "Warning: the bundle uses the kit's development secret, which is public; set "
            "--secret or CNN_GRADE_SECRET so students cannot recompute their hidden cases.",
            err=True,
        )


@click.command("gradescope-run", hidden=True)
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=lambda: os.environ.get("AUTOGRADER_ROOT", "/autograder"),
    help="Gradescope's folder holding source/, submission/ and results/.",
)
def gradescope_run(root) -> None:
    """Grade ROOT/submission into ROOT/results/results.json (inside the Gradescope bundle)."""
    from ..lms.gradescope import run_gradescope

    raise SystemExit(run_gradescope(root))
