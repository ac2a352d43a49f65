"""The audit's corpus: wrong implementations (mutants) and correct ones, as submissions.

A mutant is a patch over ONE student region of the reference solutions. The mutants are data in
their topic's folder, ``autograder/topics/<module>/mutants*.yaml`` (listed by its topic.toml), a
list of entries::

    - id: conv2d-flipped-kernel           # unique, used as the audit's student id
      target: conv2d                      # the region: function, or Class.method
      item: conv.conv2d                   # the graded item it breaks (default: module.target)
      mistake: conv-flipped-kernel        # the id the feedback should name (or null)
      story: Uses scipy.signal.convolve2d's convention (a true convolution).
      replace:                            # edits inside the region, each old text exactly once
        - ["kernel[a, b]", "kernel[kh - 1 - a, kw - 1 - b]"]
      # or   region: |                    # the whole new region body (unindented)

``mistake: null`` marks a mistake the suite is not expected to name (it must still lose
points). Correct implementations are full ``cnn/`` packages under ``corpus/correct/<name>/cnn``
of the checkout (data, outside the importable engine; a wheel carries them under
``autograder/_kit/corpus``), plus the sample class's perfect students and the reference
solutions themselves.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..discover import Submission
from ..paths import ALL_MODULES, CORPUS_DIR, EXAMPLES_DIR, SOLUTIONS_DIR
from ..stubs import BEGIN, END, _enclosing_name
from ..topics import TOPICS

CORRECT_DIR = CORPUS_DIR / "correct"
# Perfect students of the sample class (another style each); used when present.
SAMPLE_CORRECT = ("ada-perfect", "ben-vectorised")


class CorpusError(ValueError):
    """A corpus entry is malformed or its patch does not apply: one sentence."""


@dataclass
class Mutant:
    id: str
    module: str
    target: str  # "conv2d" or "Adam.step"
    item: str
    mistake: str | None
    story: str
    replace: list[tuple[str, str]] = field(default_factory=list)
    region: str | None = None


@dataclass
class Correct:
    name: str
    style: str
    path: Path  # the cnn/ folder


def _regions(source: str) -> dict[str, tuple[int, int, str]]:
    """name -> (first body line, END line, indent) for every student region of a module."""
    lines = source.splitlines(keepends=True)
    found: dict[str, tuple[int, int, str]] = {}
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if m:
            j = i + 1
            while not END.match(lines[j]):
                j += 1
            found[_enclosing_name(lines, i, m["indent"])] = (i + 1, j, m["indent"])
            i = j
        i += 1
    return found


def apply_patch(source: str, mutant: Mutant) -> str:
    """The module text with the mutant's region rewritten (the given code is untouched)."""
    regions = _regions(source)
    if mutant.target not in regions:
        raise CorpusError(
            f"mutant {mutant.id}: cnn/{mutant.module}.py has no student region "
            f"{mutant.target!r} (it has {sorted(regions)})."
        )
    start, end, indent = regions[mutant.target]
    lines = source.splitlines(keepends=True)
    body = "".join(lines[start:end])
    if mutant.region is not None:
        new = textwrap.indent(textwrap.dedent(mutant.region).strip("\n") + "\n", indent)
    else:
        new = body
        for old, repl in mutant.replace:
            count = new.count(old)
            if count != 1:
                raise CorpusError(
                    f"mutant {mutant.id}: {old!r} occurs {count} times in the region "
                    f"{mutant.target} of cnn/{mutant.module}.py; it must occur exactly once."
                )
            new = new.replace(old, repl)
    if new == body:
        raise CorpusError(f"mutant {mutant.id}: the patch changes nothing.")
    return "".join(lines[:start]) + new + "".join(lines[end:])


def mutant_files(folder: Path | None = None) -> list[tuple[str, Path]]:
    """(label, path) of every mutant file, by label: the topics' (``model_part2`` for the model
    topic's mutants_part2.yaml), or ``folder/<label>.yaml`` when a folder is given."""
    if folder is not None:
        return [(p.stem, p) for p in sorted(Path(folder).glob("*.yaml"))]
    return sorted(pair for topic in TOPICS.values() for pair in topic.mutant_files())


def load_mutants(folder: Path | None = None) -> list[Mutant]:
    """Every mutant of the topics (or of ``folder/<module>.yaml``), checked for well-formedness."""
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for label, path in mutant_files(folder):
        module = label.removesuffix("_part2")  # model_part2: part 2's model items
        if module not in ALL_MODULES:
            raise CorpusError(f"{path.name}: {module!r} is not a module of the contract.")
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for entry in entries:
            mid = entry.get("id")
            if not mid or mid in seen:
                raise CorpusError(f"{path.name}: missing or duplicate mutant id {mid!r}.")
            seen.add(mid)
            target = entry["target"]
            default_item = f"{module}.{target.split('.')[0]}"
            replace = [tuple(pair) for pair in entry.get("replace", [])]
            if bool(replace) == ("region" in entry):
                raise CorpusError(f"mutant {mid}: give exactly one of `replace` and `region`.")
            mutants.append(
                Mutant(
                    id=mid,
                    module=module,
                    target=target,
                    item=entry.get("item", default_item),
                    mistake=entry.get("mistake"),
                    story=" ".join(str(entry.get("story", "")).split()),
                    replace=replace,
                    region=entry.get("region"),
                )
            )
    return mutants


def _package_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*.py"))}


def mutant_submission(mutant: Mutant, solutions: Path = SOLUTIONS_DIR) -> Submission:
    """The reference package with the mutant's region replaced, as a submission."""
    files = _package_files(solutions)
    name = f"{mutant.module}.py"
    source = files[name].decode("utf-8")
    files[name] = apply_patch(source, mutant).encode("utf-8")
    return Submission(student=f"mutant-{mutant.id}", origin=f"audit:{mutant.id}", files=files)


def load_correct(folder: Path = CORRECT_DIR) -> list[Correct]:
    """Correct implementations: the corpus's own, the sample class's perfect ones, the reference."""
    found = [Correct("reference", "the reference solutions themselves", SOLUTIONS_DIR)]
    for sub in sorted(p for p in Path(folder).iterdir() if (p / "cnn").is_dir()):
        style_file = sub / "STYLE"
        style = style_file.read_text(encoding="utf-8").strip() if style_file.is_file() else ""
        found.append(Correct(sub.name, style, sub / "cnn"))
    for name in SAMPLE_CORRECT:
        path = EXAMPLES_DIR / "sample-class" / name / "cnn"
        if path.is_dir():
            found.append(Correct(name, "sample class (examples/sample-class)", path))
    return found


def correct_submission(correct: Correct) -> Submission:
    return Submission(
        student=f"correct-{correct.name}",
        origin=f"audit:{correct.path}",
        files=_package_files(correct.path),
    )
