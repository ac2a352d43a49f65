"""``grade report GRADES_DIR``: (re)write the class report, summary.html and mistakes.csv."""

from __future__ import annotations

from pathlib import Path

import click


def register(group: click.Group) -> None:
    @group.command("report")
    @click.argument("grades", type=click.Path(path_type=Path))
    def report(grades: Path) -> None:
        """Write GRADES/summary.html (the class report) and GRADES/mistakes.csv.

        `grade run` writes both after every batch; this rebuilds them from the results.json
        files, e.g. after `grade merge`.

        Example: grade report grades
        """
        from ..index import Index, items_named
        from ..summary import write_index_reports

        if not grades.is_dir():
            raise _Fail(
                f"No such graded folder: {grades} (expected the --out folder of grade run)."
            )
        try:  # the folder's index (a cache): a results.json is read only when it changed
            index = Index.load(grades)
            if not len(index):
                raise _Fail(
                    f"No graded students in {grades}: expected <student>/results.json written "
                    "by `grade run`."
                )
            index.save()
            items = items_named(index.iter_item_names())
            path, _ = write_index_reports(grades, index, items)
        except OSError as exc:
            raise _Fail(f"Cannot write the report in {grades}: {exc.strerror or exc}.") from None
        click.echo(f"Wrote the class report for {len(index)} student(s): {path}")


class _Fail(click.ClickException):
    def format_message(self) -> str:
        return self.message
