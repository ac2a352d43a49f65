"""The audit report: ``audit.json`` (every measurement) and ``audit.md`` (for people)."""

from __future__ import annotations

import json
from pathlib import Path

from ..report import write_atomic
from .runner import TARGET_NAMED, Audit


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "-"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def markdown(audit: Audit) -> str:
    mutants = audit.mutants
    lines = [
        "# Audit of the hidden suite",
        "",
        f"Graded with the real engine (sandbox: {audit.isolation}) in {audit.seconds:.0f} s.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| mutants killed (lose points on the item they break) | "
        f"{_pct(audit.killed, len(mutants))} | all |",
        f"| expected mistakes named in the feedback | "
        f"{_pct(audit.named, len(audit.expected_named))} | >= {TARGET_NAMED:.0%} |",
        f"| points lost by correct implementations ({len(audit.correct)}) | "
        f"{audit.points_lost_by_correct:g} ({audit.false_failures} failing cases) | 0 |",
        f"| largest score difference of one submission between {audit.ids} student ids | "
        f"{audit.max_spread:g} | 0 |",
        f"| best score of a computes-nothing adversary ({len(audit.nothing)}) | "
        f"{audit.nothing_score:g} | 0 |",
        "",
        f"**Targets {'met' if audit.targets_met else 'NOT met'}.**",
        "",
    ]
    if audit.unequal:
        lines += ["Scores that depend on the student id:", ""]
        lines += [f"- {_cell(e, 400)}" for e in audit.unequal] + [""]
    earning = [n for n in audit.nothing if n.score]
    if earning:
        lines += ["Points earned by computing nothing:", ""]
        lines += [f"- {n.kind}: {n.score:g} ({_cell(n.items, 400)})" for n in earning] + [""]
    if audit.errors:
        lines += ["The grader itself failed on (not counted as killed):", ""]
        lines += [f"- {_cell(e, 400)}" for e in audit.errors] + [""]
    lines += [
        "## Per item",
        "",
        "| item | mutants killed | mistakes named |",
        "|---|---|---|",
    ]
    for item, row in audit.per_item().items():
        if row["mutants"]:
            lines.append(
                f"| {item} | {_pct(row['killed'], row['mutants'])} | "
                f"{_pct(row['named'], row['expected_named'])} |"
            )
    untested = [item for item, row in audit.per_item().items() if not row["mutants"]]
    if untested:
        lines += ["", f"Items without a mutant: {', '.join(untested)}."]
    survivors = [m for m in mutants if not m.killed]
    lines += ["", "## Surviving mutants", ""]
    lines += [f"- `{m.id}` ({m.item}): {m.story}" for m in survivors] or ["None."]
    unnamed = [m for m in audit.expected_named if not m.named]
    lines += ["", "## Killed but not named", ""]
    lines += [
        f"- `{m.id}` ({m.item}) expected `{m.expected}`, named "
        f"{', '.join(f'`{i}`' for i in m.named_ids) or 'nothing'}. Feedback: "
        f"{_cell(m.example, 300)}"
        for m in unnamed
    ] or ["None."]
    lines += ["", "## Correct implementations", "", "| name | style | score | failing cases |"]
    lines += ["|---|---|---|---|"]
    for c in audit.correct:
        lines.append(
            f"| {c.name} | {_cell(c.style)} | {c.score:g} / {c.max_score:g} | {len(c.failures)} |"
        )
    for c in audit.correct:
        for f in c.failures:
            lines.append(
                f"- **false failure** {c.name}, {f['item']} ({f['group']}) {_cell(f['case'])}: "
                f"{_cell(f['message'], 300)}"
            )
    lines += [
        "",
        "## Every mutant",
        "",
        "| mutant | item | points | expected mistake | named | mistake story |",
        "|---|---|---|---|---|---|",
    ]
    for m in mutants:
        named = "yes" if m.named else ("-" if not m.expected else "no")
        lines.append(
            f"| `{m.id}` | {m.item} | {m.item_score:g} / {m.item_max:g} | "
            f"{m.expected or '(none)'} | {named} | {_cell(m.story)} |"
        )
    return "\n".join(lines) + "\n"


def write_report(audit: Audit, out: Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "audit.json", out / "audit.md"
    write_atomic(json_path, json.dumps(audit.to_json(), indent=2) + "\n")
    write_atomic(md_path, markdown(audit))
    return json_path, md_path
