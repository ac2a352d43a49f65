"""``grade audit``: grade the mistake corpus with the real engine and measure the suite."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def register(group: click.Group) -> None:
    group.add_command(audit)


@click.command()
@click.option(
    "--out",
    "-o",
    default="audit-report",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for audit.md and audit.json.",
)
@click.option(
    "--jobs",
    "-j",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Submissions graded in parallel.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Grade mutants on every item, not only on their module's (slower; shows collateral).",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when a target is missed.")
@click.option(
    "--part",
    "parts",
    multiple=True,
    type=click.Choice(["forward", "backward"]),
    help="The part(s) to audit, as in the config's [grading] parts (default: forward).",
)
def audit(out, jobs, full, strict, parts) -> None:
    """Grade every wrong and correct implementation of the corpus; report how the suite did.

    Reports the mutation score (wrong implementations that lose points on the item they break),
    the points lost by correct implementations, and the share of mistakes the feedback names.

    Example: grade audit --out audit-report --jobs 2
    """
    from ..audit.corpus import CorpusError, load_correct, load_mutants
    from ..audit.nothing import KINDS
    from ..audit.report import write_report
    from ..audit.runner import AUDIT_IDS, run_audit

    if out.exists() and not out.is_dir():
        raise click.ClickException(f"--out {out} exists and is not a folder.")
    try:
        mutants, correct = load_mutants(), load_correct()
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    bar = None
    total = (len(mutants) + len(correct) + len(KINDS)) * AUDIT_IDS
    if sys.stderr.isatty():
        bar = click.progressbar(length=total, label="auditing", file=sys.stderr)
        bar.__enter__()
    try:
        result = run_audit(
            jobs=jobs,
            mutants=mutants,
            correct=correct,
            full=full,
            parts=tuple(parts) or ("forward",),
            progress=(lambda n: bar.update(n)) if bar else None,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    json_path, md_path = write_report(result, out)
    s = result.to_json()["summary"]
    click.echo(
        f"Mutants killed {s['killed']}/{s['mutants']}; mistakes named "
        f"{s['mistakes_named']}/{s['mistakes_expected']} ({100 * s['named_share']:.0f} %); "
        f"correct implementations {s['correct_implementations']}, points lost "
        f"{s['points_lost_by_correct']:g} ({s['false_failures']} failing cases); "
        f"largest score difference between {s['student_ids']} student ids "
        f"{s['max_spread']:g}; computes-nothing adversaries {s['nothing_score']:g} points. "
        f"Targets {'met' if s['targets_met'] else 'NOT met'}. Report: {md_path}"
    )
    if strict and not result.targets_met:
        raise click.ClickException("The audit missed a target; see " + str(md_path) + ".")
