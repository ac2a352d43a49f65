"""The adversarial corpus through the real ``grade run``: nothing forged, leaked or lost."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest

from autograder.paths import KIT_ROOT
from autograder.sandbox.isolation import detect

from .conftest import (
    SHARED,
    SpaceWatch,
    find_markers,
    shallow_markers,
    skeleton,
    solution_lines,
    student_id,
)
from .payloads import payloads

NAMES = [p.name for p in payloads()]


def _outputs(batch) -> list[str]:
    """Every text the batch produced: reports (JSON strings decoded), gradebook, console."""
    texts = [batch.proc.stdout, batch.proc.stderr]
    for path in batch.out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            texts.append(text)
            if path.suffix == ".json":
                texts.append(json.dumps(json.loads(text), ensure_ascii=False))
                texts += _strings(json.loads(text))
    return texts


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _markers(batch) -> list[str]:
    deep = [Path(p) for p in SHARED] + [batch.out, batch.subs, batch.root]
    shallow = [Path("/"), Path.home(), KIT_ROOT, KIT_ROOT / "solutions"]
    return find_markers(batch.token, deep) + shallow_markers(batch.token, shallow)


def test_the_batch_finishes_and_grades_everyone(hostile_batch):
    assert hostile_batch.proc.returncode == 0, hostile_batch.proc.stderr
    graded = {p.name for p in hostile_batch.out.iterdir() if (p / "results.json").is_file()}
    assert graded == {"honest", *map(student_id, NAMES)}
    _gradebook_lists(hostile_batch, {"honest", *map(student_id, NAMES)})


def _gradebook_lists(batch, students: set[str]) -> None:
    import csv

    with open(batch.out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert students <= {
        r.get("student") or r.get("Student") or next(iter(r.values())) for r in rows
    }
    assert (batch.out / "summary.html").is_file() and (batch.out / "mistakes.csv").is_file()


# ---- issue #11: nothing outlives the batch, memory and disk stay bounded, a non-root grader


def _contained(batch) -> None:
    held = {k: v >> 20 for k, v in batch.space_held.items()}
    print(f"\n[{batch.root.name}] grader peak {batch.peak_kb >> 10} MB, batch's files MB {held}")
    assert batch.survivors == [], "processes a submission started outlived grade run"
    assert batch.peak_kb and batch.peak_kb < 1024 * 1024, f"grader peak {batch.peak_kb} kB"
    for place, held in batch.space_held.items():
        assert held < 512 * 1024 * 1024, f"the batch's files held {held >> 20} MB in {place}"


def test_the_space_watch_counts_the_batchs_files_and_only_them(tmp_path):
    token = "cnnpwn" + secrets.token_hex(6)
    watch = SpaceWatch(token, tmp_path)
    mine, other = Path("/tmp") / f"{token}-disk", Path("/tmp") / f"cnn-other-{secrets.token_hex(6)}"
    try:
        for path, size in ((mine, 3 << 20), (other, 32 << 20), (tmp_path / "out.bin", 3 << 20)):
            path.write_bytes(os.urandom(size))
        time.sleep(4 * SpaceWatch.EVERY)
        mine.unlink()
        other.unlink()
        held = watch.close()
    finally:
        mine.unlink(missing_ok=True)
        other.unlink(missing_ok=True)
    assert 3 << 20 <= held["/tmp"] < 16 << 20  # the token's file, not the other one
    assert held[str(tmp_path)] >= 3 << 20


def test_nothing_outlives_the_batch_and_memory_and_disk_stay_bounded(hostile_batch):
    _contained(hostile_batch)


def test_the_new_attacks_earn_nothing_and_say_why(hostile_batch):
    for name in (
        "huge_answers",
        "raw_pipe_answers",
        "status_line_disk_bomb",
        "fork_bomb",
        "setsid_sleepers",
        "tensorflow_by_path",
        "hidden_mutation",
    ):
        results = hostile_batch.results(name)
        assert results["extra_data"].get("isolation") == detect().level  # the strongest here
        assert "internal grader error" not in json.dumps(results)
    mutated = json.dumps(hostile_batch.results("hidden_mutation"))
    assert "changed input array" in mutated
    raw = json.dumps(hostile_batch.results("raw_pipe_answers"))
    assert "nested too deeply" in raw or "out of order" in raw


def test_a_non_root_grader_contains_the_same_attacks(nonroot_batch):
    assert nonroot_batch.proc.returncode == 0, nonroot_batch.proc.stderr
    names = {student_id(n) for n in nonroot_batch.by_name} | {"honest"}
    graded = {p.name for p in nonroot_batch.out.iterdir() if (p / "results.json").is_file()}
    assert graded == names
    _gradebook_lists(nonroot_batch, names)
    honest = nonroot_batch.item_scores("honest")
    assert sum(honest.values()) > 0
    for name, payload in nonroot_batch.by_name.items():
        assert nonroot_batch.results(name)["extra_data"]["isolation"] == "namespaces"
        scores = nonroot_batch.item_scores(name)
        for item in payload.faked:
            assert scores[item] == 0, (name, item, scores[item])
        if payload.keeps_honest:
            acts = {k: v for k, v in honest.items() if k.startswith("activations.")}
            assert {k: scores[k] for k in acts} == acts, f"{name} broke the honest module"
    _contained(nonroot_batch)
    assert _markers(nonroot_batch) == []
    joined = "\n".join(_outputs(nonroot_batch))
    assert nonroot_batch.secret not in joined


@pytest.mark.parametrize("name", NAMES)
def test_a_payload_scores_nothing_for_what_it_faked(hostile_batch, name):
    payload = hostile_batch.by_name[name]
    honest = hostile_batch.item_scores("honest")
    scores = hostile_batch.item_scores(name)
    assert sum(honest.values()) > 0, (
        "the honest part earns points, so the comparison means something"
    )
    for item in payload.faked:
        assert scores[item] == 0, f"{name} earned {scores[item]} on {item}"
    total = hostile_batch.results(name)["score"]
    assert total <= hostile_batch.results("honest")["score"] + 1e-9
    if payload.keeps_honest:
        acts = {k: v for k, v in honest.items() if k.startswith("activations.")}
        assert {k: scores[k] for k in acts} == acts, f"{name} broke the honest module's score"
    results = hostile_batch.results(name)
    assert results["extra_data"]["fingerprint"] != "x"  # the grader's own file, not a forgery


def test_no_marker_is_left_anywhere(hostile_batch):
    assert _markers(hostile_batch) == []


def test_no_file_outside_the_output_folder_changed(hostile_batch):
    changed = sorted(
        k
        for k in set(hostile_batch.before) | set(hostile_batch.after)
        if hostile_batch.before.get(k) != hostile_batch.after.get(k)
    )
    assert changed == []
    for place in [Path("/tmp"), Path.home(), hostile_batch.root / "cwd"]:
        for name in ("results.json", "gradebook.csv", "forge_results"):
            path = place / name
            if path.is_file():
                assert hostile_batch.token not in path.read_text(errors="replace"), path


def test_no_secret_or_solution_text_reaches_any_output(hostile_batch):
    texts = _outputs(hostile_batch)
    joined = "\n".join(texts)
    assert hostile_batch.secret not in joined
    flat = skeleton(joined)
    leaked = [line for line in solution_lines() if skeleton(line) in flat]
    assert leaked == []
    assert "BEGIN STUDENT CODE" not in joined


def test_no_connection_reached_the_listener(hostile_batch):
    assert hostile_batch.connections == []


def test_student_text_cannot_inject_html_or_markdown(hostile_batch):
    md = (hostile_batch.out / "html_injection" / "feedback.md").read_text()
    results = hostile_batch.results("html_injection")
    texts = [md, results["output"], *(t["output"] for t in results["tests"])]
    for text in texts:
        assert "<script" not in text and "<img" not in text and "<b>" not in text
        assert "](http" not in text.replace("\\]\\(", "")
        assert "\u202e" not in text and "\x1b" not in text
    headings = [line for line in md.splitlines() if line.startswith("# ")]
    assert headings == ["# Feedback for html\\_injection"]
    assert "raised" in md  # the student still sees what their code raised (escaped)


def test_messages_from_student_code_are_capped(hostile_batch):
    results = hostile_batch.results("read_secrets")
    for test in results["tests"]:
        for line in test["output"].splitlines():
            assert len(line) < 1200
    assert "could not be imported" in results["output"]


def test_the_fallback_level_still_holds_against_host_attacks(fallback_batch):
    """Process-group level (no namespaces): Landlock and process tracking do the work."""
    from autograder.sandbox.isolation import landlock_abi

    assert fallback_batch.proc.returncode == 0, fallback_batch.proc.stderr
    assert "weaker isolation" in fallback_batch.proc.stderr
    for name in fallback_batch.by_name:
        assert fallback_batch.results(name)["extra_data"]["isolation"] == "process-group"
        for item in fallback_batch.by_name[name].faked:
            assert fallback_batch.item_scores(name)[item] == 0, (name, item)
    if landlock_abi() < 4:
        pytest.fail("this machine's kernel lacks Landlock with TCP rules (ABI >= 4)")
    assert _markers(fallback_batch) == []
    assert [c for c in fallback_batch.connections if c[0] == "tcp"] == []
    joined = "\n".join(_outputs(fallback_batch))
    assert fallback_batch.secret not in joined
    assert [line for line in solution_lines() if skeleton(line) in skeleton(joined)] == []
    assert "Your code ran with resource limits only" in fallback_batch.results("honest")["output"]
    assert fallback_batch.survivors == [], "processes outlived grade run at the fallback level"
    _contained(fallback_batch)
