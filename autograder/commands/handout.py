"""``grade handout``: write what students download (stubs, public tests, README)."""

from __future__ import annotations

from pathlib import Path

import click


def register(group: click.Group) -> None:
    group.add_command(handout)


@click.command()
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="New folder for the handout (must not exist or be empty).",
)
@click.option("--zip", "make_zip", is_flag=True, help="Also write OUT.zip next to the folder.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config whose points and public share the README and test summary show.",
)
@click.option(
    "--notebook",
    is_flag=True,
    help="Also write cnn_exercises.ipynb: one %%writefile cell per module and a cell that runs "
    "the public tests; students may submit that notebook.",
)
def handout(out, make_zip, config_path, notebook) -> None:
    """Write the student handout: cnn/ stubs, public tests with a points summary, README.

    It holds no solution, hidden case, oracle data or secret (checked before it is written).

    Example: grade handout --out handout --zip
    """
    from ..config import ConfigError, load_config
    from ..lms.handout import HandoutError, build_handout
    from ..outpath import OutPathError, check_out_folder

    try:
        cfg = load_config(config_path)
        check_out_folder(out)
        folder = build_handout(out, cfg, make_zip, notebook)
    except (ConfigError, HandoutError, OutPathError) as exc:
        raise click.ClickException(str(exc)) from None
    extra = f" and {folder.name}.zip" if make_zip else ""
    how = "a zip of cnn/ or cnn_exercises.ipynb" if notebook else "a zip of cnn/"
    click.echo(
        f"Wrote the handout to {folder}{extra}: students run `pytest` in it and submit {how}."
    )
