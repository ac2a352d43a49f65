"""``grade export canvas|csv|json GRADES_DIR --out FILE``: the gradebook for an LMS."""

from __future__ import annotations

from pathlib import Path

import click


class _Fail(click.ClickException):
    def format_message(self) -> str:
        return self.message


def _results(grades: Path) -> list[dict]:
    """Every student's results, compact (``exports.compact``), read one at a time from the
    folder's index (a cache: a results.json is read only when it changed), or from the files
    themselves when the folder is read-only."""
    from ..batch import iter_results
    from ..exports import compact
    from ..index import Index

    if not grades.is_dir():
        raise _Fail(f"No such graded folder: {grades} (expected the --out folder of grade run).")
    try:
        records = Index.load(grades).iter_records()
    except OSError:  # the index cannot be updated here (a read-only folder)
        records = iter_results(grades)
    results = [compact(r) for r in records]
    if not results:
        raise _Fail(
            f"No graded students in {grades}: expected <student>/results.json written by "
            "`grade run`."
        )
    return results


def _write(out: Path, text: str) -> None:
    from ..report import write_atomic

    if out.is_dir():
        raise _Fail(f"--out {out} is a folder; give the name of the file to write.")
    try:
        write_atomic(out, text)
    except OSError as exc:
        raise _Fail(f"Cannot write {out}: {exc.strerror or exc}.") from None


_GRADES = click.argument("grades", type=click.Path(path_type=Path))
_OUT = click.option(
    "--out", "-o", required=True, type=click.Path(path_type=Path), help="The file to write."
)


def register(group: click.Group) -> None:
    @group.group("export")
    def export() -> None:
        """Export a graded folder's gradebook for an LMS (Canvas, or plain CSV/JSON)."""

    @export.command("canvas")
    @_GRADES
    @_OUT
    @click.option(
        "--assignment",
        default=None,
        help="The Canvas assignment: its name, or 'Name (id)' as in Canvas's export "
        "(default: the config's [grading] assignment).",
    )
    @click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        help="The config the folder was graded with (for the default assignment name).",
    )
    @click.option(
        "--roster",
        type=click.Path(path_type=Path),
        help="A roster CSV (e.g. Canvas's gradebook export) mapping ids to names, SIS ids, "
        "sections.",
    )
    @click.option(
        "--id-column",
        type=click.Choice(["ID", "SIS User ID", "SIS Login ID"]),
        default="SIS User ID",
        show_default=True,
        help="Where a student id that is not a Canvas user id (and not in the roster) goes.",
    )
    def canvas(grades, out, assignment, config_path, roster, id_column) -> None:
        """Write a CSV that Canvas's gradebook import accepts (Grades > Import).

        Canvas downloads carry each student's Canvas user id; other student ids go to
        --id-column unless --roster maps them.

        Example: grade export canvas grades --out canvas.csv --roster canvas-export.csv
        """
        from ..config import ConfigError, load_config
        from ..exports import ExportError, canvas_rows, read_roster
        from ..report import csv_text

        if assignment is None:
            try:
                assignment = load_config(config_path).assignment
            except ConfigError as exc:
                raise _Fail(str(exc)) from None

        results = _results(grades)
        table = None
        if roster is not None:
            try:
                text = roster.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
                raise _Fail(f"Cannot read the roster {roster}: {reason}.") from None
        try:
            if roster is not None:
                table = read_roster(text, f"The roster {roster}")
            export = canvas_rows(results, assignment, table, id_column)
        except ExportError as exc:
            raise _Fail(str(exc)) from None
        _write(out, csv_text(export.rows))
        for warning in export.warnings:
            click.echo(f"Note: {warning}", err=True)
        click.echo(
            f"Wrote {len(export.rows) - 2} row(s) for the assignment column "
            f"{export.header!r} to {out}."
        )

    @export.command("csv")
    @_GRADES
    @_OUT
    def plain_csv(grades, out) -> None:
        """Write a plain CSV: student, score, max_score, one column per function, mistakes.

        Example: grade export csv grades --out scores.csv
        """
        from ..exports import items_of, plain_rows
        from ..report import csv_text

        results = _results(grades)
        rows = plain_rows(results, items_of(results))
        _write(out, csv_text(rows))
        click.echo(f"Wrote {len(rows) - 1} student(s) to {out}.")

    @export.command("json")
    @_GRADES
    @_OUT
    def plain_json(grades, out) -> None:
        """Write JSON: per student the score, every function's score and named mistakes.

        Example: grade export json grades --out scores.json
        """
        from ..exports import items_of
        from ..exports import plain_json as to_json

        results = _results(grades)
        _write(out, to_json(results, items_of(results)))
        click.echo(f"Wrote {len(results)} student(s) to {out}.")
