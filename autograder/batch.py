"""``grade run``: grade every submission found, in parallel, resumably, then the gradebook.

A student is done when ``OUT/<student>/results.json`` exists with the fingerprint of the same
submission, config and kit (a digest of everything that decides a score) and was graded; a rerun
skips those (``force`` regrades). A student the grader failed on (a worker that could not start,
an internal error) is "not graded": the report says why, the run's exit status says so, and the
next run retries it. Files are written atomically, so a batch killed at any point resumes where
it stopped.

SIGTERM, SIGINT and SIGHUP stop the batch cleanly: every worker (and everything it started) is
killed at once, no new one starts, the students already graded are written and stay done,
and :class:`BatchInterrupted` tells the caller how many; the gradebook is left as the last
complete run wrote it (a rerun rebuilds it). Any other way out (an exception) also kills
every worker first; a SIGKILL is covered by the workers' parent-death signal.
"""

from __future__ import annotations

import gc
import hashlib
import json
import signal
import sys
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import Config
from .discover import Submission
from .engine import Grader, kit_digest
from .exports import not_graded
from .index import LINES_OF, NAME, Index, encode_facts, slim, stamp
from .pool import Done, Pool, WorkerDied
from .report import (
    csv_text,
    gradebook_header,
    gradebook_rows,
    open_atomic,
    write_atomic,
    write_submission,
)
from .results import GraderFailure, SubmissionResult
from .sandbox import runner
from .sandbox.errors import WorkerStartError
from .stream import Pending, discover_pending
from .summary import MATRIX_PAGE, ClassStats, feedback_of, report_facts, write_index_reports
from .summary_extra import RUN_FILE, run_info

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)


class BatchError(Exception):
    """An instructor error in a batch: one clear sentence."""


class BatchInterrupted(Exception):
    """The batch was stopped by a signal; the students graded so far are written."""

    def __init__(self, signum: int, graded: int = 0, total_done: int = 0):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.graded, self.total_done = signum, graded, total_done


class _Stop(BaseException):
    def __init__(self, signum: int):
        self.signum = signum


@dataclass
class BatchSummary:
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # the grader failed (not the student)
    isolation: str = ""
    # every student in the output folder (this run's and earlier ones'), added up for the CLI
    totals: Totals = field(default_factory=lambda: Totals())


@dataclass
class Totals:
    """What the CLI says about the whole output folder, added up one student at a time."""

    students: int = 0
    graded: int = 0  # the grader did not fail on them
    score_sum: float = 0.0  # of the graded
    with_problems: int = 0
    not_graded: list[str] = field(default_factory=list)  # the first few
    not_graded_count: int = 0

    def add(self, record: dict) -> None:
        extra = record.get("extra_data", {})
        failed = not_graded(extra)
        student = str(extra.get("student", "?"))
        score = 0.0 if failed else record["score"]
        self.add_fact([bool(extra.get("problems")), failed, student, score])

    def add_fact(self, fact: list) -> None:
        """:meth:`add` of a student's totals fact (:func:`autograder.summary.report_facts`)."""
        problems, failed, student, score = fact
        self.students += 1
        self.with_problems += problems
        if failed:
            self.not_graded_count += 1
            if len(self.not_graded) < 10:
                self.not_graded.append(student)
        else:
            self.graded += 1
            self.score_sum += score

    @property
    def mean(self) -> float:
        return self.score_sum / self.graded if self.graded else 0.0


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N) with 1 <= K <= N."""
    if not text:
        return None
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise BatchError(f"--shard must look like K/N (e.g. 2/8); received {text!r}.") from None
    if not 1 <= k <= n:
        raise BatchError(f"--shard K/N needs 1 <= K <= N; received {text!r}.")
    return k, n


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    k, n = shard
    return zlib.crc32(student.encode()) % n == k - 1


def _existing(out: Path, student: str) -> dict | None:
    path = out / student / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "extra_data" in data else None


def grade_batch(
    paths: list[Path],
    out: Path,
    config: Config,
    *,
    jobs: int = 1,
    force: bool = False,
    shard: tuple[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchSummary:
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out} exists and is not a folder.")
    # Names first (no files read), then this shard's students only; each is read when graded.
    pending = discover_pending(paths)
    # Only a PATH that holds the output folder (or lies in it) can list it as a student: the
    # origins of the others need not be resolved one by one.
    roots = [Path(p).resolve() for p in paths]
    if any(r == out or r in out.parents or out in r.parents for r in roots):
        pending = [p for p in pending if not _inside(p.origin, out)]
    pending = [p for p in pending if in_shard(p.student, shard)]
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(out)
    hide = (out, *(Path(p).resolve() for p in paths))
    grader = Grader.create(config, hide=tuple(h for h in hide if h.is_dir()))
    summary = BatchSummary(isolation=grader.isolation.level)
    index = Index.load(out)
    if on_start:
        on_start(len(pending))
    written: set[str] = set()
    # A student whose files carry the stamp they were graded from, by this kit and config, is
    # done without reading them; the others are graded (or found current by fingerprint).
    run_key = grader.run_key
    facts_key = report_facts(grader.items, "feedback.html")[0]
    todo = []
    for i, p in enumerate(pending):
        if not force and index.fresh(p.student, p.source_stamp(), run_key):
            summary.skipped.append(p.student)
        else:
            todo.append(i)
    if progress and len(todo) < len(pending):
        progress(len(pending) - len(todo))

    def work(i: int) -> Done:
        return grade_task(grader, pending[i], out, index, force, i)

    def record(done: Done) -> None:
        if done.kind == "error":  # the grading code itself broke on this student
            print(f"grade: internal error on {pending[done.index].student}: {done.student}",
                  file=sys.stderr)  # fmt: skip
            done = _write_failure(grader, pending[done.index], out, done.index,
                                  "internal grader error")  # fmt: skip
        student = pending[done.index].student
        if done.kind == "skipped":
            summary.skipped.append(student)
            index.restamp(student, done.source, run_key)
        else:
            facts = encode_facts(facts_key, done.facts)
            index.put(student, done.stamp, done.record or {}, done.source, run_key, facts)
            written.add(student)
            if done.kind == "failed":
                summary.failed.append(student)
            summary.graded.append(student)
        if progress:
            progress(1)

    tasks = todo
    pool = Pool(jobs, work) if jobs > 1 and len(tasks) > 1 else None
    if pool is not None:
        grader.shared_cases()  # built once, before the grading processes are forked
        kit_digest()
        gc.freeze()  # what they share (the cases above): never scanned by their collections
    runner.reset_stop()
    with _stop_on_signals():
        try:
            if pool is None:
                for i in tasks:
                    record(work(i))
            else:
                for item in pool.run(tasks):
                    if isinstance(item, WorkerDied):
                        record(_write_failure(grader, pending[item.index], out, item.index,
                                              str(item)))  # fmt: skip
                    else:
                        record(item)
        except _Stop as stop:
            with _ignoring_signals():
                runner.stop_all()
                if pool is not None:
                    for done in pool.stop(signal.SIGTERM):
                        if pending[done.index].student not in written:
                            record(done)
                    pool.close()
                index.save()
                done_count = sum(1 for p in out.iterdir() if (p / "results.json").is_file())
                runner.reset_stop()
            raise BatchInterrupted(stop.signum, len(written), done_count) from None
        except BaseException:
            runner.stop_all()  # never leave a worker running behind an error
            if pool is not None:
                pool.stop(signal.SIGTERM)
                pool.close()
            runner.reset_stop()
            raise
        if pool is not None:
            pool.close()
    # The gradebook lists every student graded into this folder, by this run or an earlier one
    # (from the folder's index: a results.json is re-read only when it changed behind our back),
    # streamed: one pass for the gradebook and the counts, one for the class report's page.
    # (The index is saved by the report's pass, not before it: until then the lines of the
    # students this run regraded are still where the last report read them, see _last_stats.)
    summary.totals = write_reports(out, index, grader.items, config)
    (out / RUNNING).unlink(missing_ok=True)  # finished: no write of this run is half done
    return summary


REPORTS = ".grade-reports.json"  # what the folder's reports were last written from
STATS = LINES_OF  # the class statistics of the last report, and where their lines are
REPORT_FILES = ("gradebook.csv", "mistakes.csv", "summary.html", RUN_FILE)


def write_reports(out: Path, index: Index, items: list[str], config: Config | None) -> Totals:
    """gradebook.csv, mistakes.csv and summary.html from the index: two passes over it that
    hold one student at a time and read each student's facts, not its results
    (:func:`autograder.summary.write_index_reports`). When they were last written from the
    same index lines, items, config and report code and are still as written
    (:func:`report_state`), they are left alone (a rerun that graded nobody: no pass)."""
    state = report_state(out, index, items, config)
    kept = _kept_totals(out, state)
    if kept is not None:
        return kept
    (out / REPORTS).unlink(missing_ok=True)  # until the new reports are all written
    key = state["facts"]
    stats = _last_stats(out, index, items, key)
    (out / STATS).unlink(missing_ok=True)
    totals = Totals()
    with open_atomic(out / "gradebook.csv") as f:
        f.write(csv_text([gradebook_header(items)]))
        _, stats = write_index_reports(out, index, items, config, f, totals, stats)
    _save_stats(out, index, key, stats)
    state = report_state(out, index, items, config)  # (the report's pass may compact the index)
    state["totals"] = asdict(totals)
    write_atomic(out / REPORTS, json.dumps(state) + "\n")
    return totals


def _save_stats(out: Path, index: Index, key: str, stats: ClassStats) -> None:
    """Keep the class statistics of the report just written, with where each student's line
    is in the index they were added up from (after the pass: it may have compacted it)."""
    state = stats.state()
    where = stamp(index.path)  # [size, mtime, inode]
    if state is None or where is None:
        return  # (the next report adds up the class again)
    offsets = [[name, index.entries[name].offset] for name in sorted(index.entries)]
    record = {"facts": key, "index": where, "offsets": offsets, "stats": state}
    write_atomic(out / STATS, json.dumps(record, allow_nan=False) + "\n")


# A run whose students changed more than 1/REGRADED_AT_MOST of the class (and more than 8 of
# them) adds up the class again: taking students away and adding them costs two passes of each.
REGRADED_AT_MOST = 8


def _last_stats(out: Path, index: Index, items: list[str], key: str) -> ClassStats | None:
    """The class statistics of the index as it is now, from those of the last report
    (:func:`_save_stats`) when only a few students' lines changed since: the students whose
    line moved are taken away (their line then, still in the same index file: lines are only
    appended until the report's pass rewrites it) and added again (their line now), so a
    regrade of one student does not add up the whole class. They are the statistics that
    adding up the class would give (:meth:`ClassStats.settle`); None (add it up) whenever
    that is not certain: another index file (inode) or a shorter one, facts of another key,
    too many changes, a line not found."""
    try:
        last = json.loads((out / STATS).read_text(encoding="utf-8"))
        now, then = stamp(index.path), last["index"]  # [size, mtime, inode]
        if last["facts"] != key or now is None or now[2] != then[2] or now[0] < then[0]:
            return None
        old = {name: offset for name, offset in last["offsets"]}
        gone = [(n, o) for n, o in old.items() if getattr(index.entries.get(n), "offset", -1) != o]
        new = [n for n, e in index.entries.items() if old.get(n) != e.offset]
        changed = len({n for n, _ in gone} | set(new))
        if changed * REGRADED_AT_MOST > max(len(index.entries), 8 * REGRADED_AT_MOST):
            return None
        stats = ClassStats.from_state(items, last["stats"])
        for name, offset in gone:
            stats.add_stat(index.facts_at(name, offset, key, 1), -1)
        for name in new:
            stats.add_stat(index.facts_at(name, index.entries[name].offset, key, 1))
        return stats if stats.settle() else None
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def report_state(out: Path, index: Index, items: list[str], config: Config | None) -> dict:
    """What the reports of ``out`` are made of: the index file (its stamp) and where each
    student's line is in it, the facts key (items, feedback links, the report's code), the
    config's run info but its date, and the stamps of the report files themselves and of a
    large class's matrix page (a report edited, deleted or rewritten by ``grade report`` does
    not match)."""
    lines = hashlib.sha256()
    for name in sorted(index.entries):
        lines.update(f"{name}\0{index.entries[name].offset}\n".encode("utf-8", "surrogateescape"))
    key, _ = report_facts(items, feedback_of(out, sorted(index.entries)))
    run = None
    if config is not None:
        run = {k: v for k, v in run_info(config).items() if k != "graded_at"}
    return {
        "index": stamp(index.path),
        "lines": lines.hexdigest(),
        "facts": key,
        "run": run,
        "files": {name: stamp(out / name) for name in (*REPORT_FILES, MATRIX_PAGE)},
    }


def _kept_totals(out: Path, state: dict) -> Totals | None:
    """The totals recorded with the reports when ``state`` is what they were written from."""
    try:
        last = json.loads((out / REPORTS).read_text(encoding="utf-8"))
        totals = last.pop("totals")
        missing = any(state["files"][name] is None for name in REPORT_FILES)
        if last != state or missing or state["index"] is None:
            return None
        return Totals(**totals)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def grade_task(grader: Grader, pending: Pending, out: Path, index: Index, force: bool,
               number: int = 0) -> Done:  # fmt: skip
    """Grade one student (in this process or a grading process): skip it when its results are
    current, else grade it and write its files. Returns what the batch records."""
    source = pending.source_stamp()  # before the files are read: a later change shows
    sub = pending.load()
    if not force and index.current(sub.student, grader.fingerprint(sub)):
        return Done(number, "skipped", sub.student, source=source)
    result = _grade_one(grader, sub)
    data = write_submission(out, result)
    kind = "failed" if result.error else "graded"
    path = out / sub.student / "results.json"
    record = slim(data)
    return Done(number, kind, sub.student, stamp(path), record, source, _facts(grader, record))


def _facts(grader: Grader, record: dict) -> list[dict]:
    """What the reports read of a student just written (with its feedback.html: a folder
    that ``grade run`` writes links to those), built where it was graded."""
    return report_facts(grader.items, "feedback.html")[1](record)


def _write_failure(grader: Grader, pending: Pending, out: Path, number: int, why: str) -> Done:
    """A student whose grading process died (or whose grading code broke): "not graded"."""
    result = SubmissionResult(
        pending.student,
        pending.origin,
        error=f"not graded: {why}; the next run retries it",
        isolation=grader.isolation.level,
    )
    data = write_submission(out, result)
    path = out / pending.student / "results.json"
    record = slim(data)
    facts = _facts(grader, record)
    return Done(number, "failed", pending.student, stamp(path), record, facts=facts)


class _stop_on_signals:
    """Turn SIGTERM/SIGINT/SIGHUP into :class:`_Stop` in the main thread (workers killed first)."""

    def __enter__(self) -> None:
        self.old: dict = {}
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, _frame):
            runner.stop_all()
            for sig in STOP_SIGNALS:  # one stop is enough; the next signals only kill
                signal.signal(sig, lambda *_: runner.stop_all())
            raise _Stop(signum)

        for sig in STOP_SIGNALS:
            self.old[sig] = signal.signal(sig, handler)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)


class _ignoring_signals:
    """While the batch winds down after a stop: further signals only kill workers."""

    def __enter__(self) -> None:
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self.old[sig] = signal.signal(sig, lambda *_: runner.stop_all())

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)


RUNNING = ".grade-running"  # in OUT while a batch writes to it: left behind by a killed run


def _remove_stale_temp(out: Path) -> None:
    """Remove the temp files of writes a killed run left half done (write_atomic's names):
    in the student folders too when the last run did not finish (its :data:`RUNNING` mark is
    still there) or the folder has no index yet; then mark this run."""
    marker = out / RUNNING
    every = marker.exists() or not (out / NAME).exists()
    for path in [*out.glob(".*.tmp"), *(out.glob("*/.*.tmp") if every else [])]:
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            pass
    marker.touch()


def iter_results(out: Path) -> Iterator[dict]:
    """The results.json of every student folder in ``out``, one at a time (folder order)."""
    for folder in sorted(p for p in Path(out).iterdir() if p.is_dir()):
        data = _existing(out, folder.name)
        if data is not None:
            yield data


def collect_results(out: Path) -> list[dict]:
    """The results.json of every student folder in ``out``."""
    return list(iter_results(out))


def _grade_one(grader: Grader, sub: Submission) -> SubmissionResult:
    """Grade one submission; a failure of the grader gives a "not graded" result (no fingerprint,
    so it is never taken for done)."""
    try:
        return grader.grade(sub)
    except (GraderFailure, WorkerStartError) as exc:
        error = f"not graded: {exc}; the next run retries it"
    except Exception as exc:  # noqa: BLE001 - one failure must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(f"grade: internal error on {sub.student}: {detail}", file=sys.stderr)
        error = f"not graded: internal grader error ({type(exc).__name__}); the next run retries it"
    return SubmissionResult(
        sub.student,
        sub.origin,
        problems=list(sub.problems),
        error=error,
        isolation=grader.isolation.level,
    )


def _inside(origin: str, folder: Path) -> bool:
    path = Path(origin.split("!")[0]).resolve()
    return path == folder or folder in path.parents


def write_gradebook(out: Path, results: list[dict], items: list[str]) -> Path:
    path = out / "gradebook.csv"
    write_atomic(path, csv_text(gradebook_rows(results, items)))
    return path


def merge_outputs(shards: list[Path], out: Path, items: list[str]) -> int:
    """Join the outputs of ``grade run --shard`` into ``out``; return the number of students.

    One student at a time: its files are copied and its slim results go to ``out``'s index,
    from which the gradebook and report are streamed (memory flat in the class size)."""
    out = Path(out).resolve()
    seen: dict[str, Path] = {}
    if out.is_dir():
        _remove_stale_temp(out)  # (and marks the folder: this writes into student folders)
    index = Index(out)
    for shard in shards:
        shard = Path(shard)
        if not shard.is_dir():
            raise BatchError(f"No such shard output folder: {shard}.")
        for folder in sorted(p for p in shard.iterdir() if p.is_dir()):
            data = _existing(shard, folder.name)
            if data is None:
                continue
            if folder.name in seen and seen[folder.name] != shard:
                raise BatchError(
                    f"Student {folder.name} was graded in two shards ({seen[folder.name]} "
                    f"and {shard}); merge outputs of one `--shard K/N` series only."
                )
            seen[folder.name] = shard
            if shard.resolve() != out:
                for name in ("feedback.md", "feedback.html", "results.json"):
                    src = folder / name
                    if src.is_file():
                        write_atomic(out / folder.name / name, src.read_text(encoding="utf-8"))
            out.mkdir(parents=True, exist_ok=True)
            index.put(folder.name, stamp(out / folder.name / "results.json"), slim(data))
    if not seen:
        raise BatchError(
            "No graded students found in the shard folders: expected "
            "<student>/results.json written by `grade run`."
        )
    index.save()
    write_reports(out, index, items, None)
    (out / RUNNING).unlink(missing_ok=True)
    return len(seen)
