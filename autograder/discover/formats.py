"""The LMS export formats: a Gradescope export (``submission_metadata.yml`` next to
per-submission folders) and a Canvas download (``[<name>_][LATE_]<id>_<fileid>_<file>``)."""

from __future__ import annotations

import dataclasses
import re
from contextlib import ExitStack

from .files import (
    _NOT_FOLLOWED,
    _Entry,
    _reason,
    _show,
    _TooLarge,
    _zip_stem,
    _ZipDir,
    _ZipTree,
    disk_path,
)
from .read import _build, _Found, _from_dir, _guard, _unreadable
from .submission import DiscoveryError

MAX_META_BYTES = 16 << 20  # Gradescope's submission_metadata.yml


GRADESCOPE_META = "submission_metadata.yml"


# A Canvas download names each file [<name>_][LATE_]<id>_<fileid>_<file> (ContentZipper): <name>
# is the sortable name, lowercased, non-word characters removed, absent when the assignment is
# anonymous; <id> is the user id, or anon_<anonymous id> (5 base58 characters) for anonymous
# grading. Older Canvas lowercased the whole name ("late_"), and its anonymous-grading feature
# left out the name but kept the user id. A name is never "late_..."/"anon_..." or all digits.
_CANVAS = re.compile(
    r"(?:(?!(?i:late|anon)_|\d+_)(?P<name>.+?)_)?"
    r"(?:(?P<late>(?i:late))_)?"
    r"(?:(?i:anon)_(?P<anon>[A-Za-z0-9]+)|(?P<uid>\d+))_"
    r"(?P<fid>\d+)_(?P<rest>.+)"
)


_CANVAS_RESUBMITTED = re.compile(r"(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[^.]+)")


def _canvas_key(match: re.Match) -> str:
    """The student id of a Canvas file: the user id, or anon_<id> for anonymous grading."""
    return match["uid"] or f"anon_{match['anon']}"


def _canvas_student(d, uid: str, items: list[tuple[str, re.Match]]) -> _Found:
    """One student's files in a Canvas download, all named ``<name>_<uid>_<fileid>_<rest>``."""
    with ExitStack() as stack:  # the student's zips stay open until their files are read
        return _canvas_student_in(d, uid, items, stack)


def _canvas_student_in(d, uid: str, items: list[tuple[str, re.Match]], stack: ExitStack) -> _Found:
    origin = d.child_origin(f"*{uid}_*")
    names = sorted({m["name"] or "" for _, m in items})
    anonymous = uid.startswith("anon_")
    metadata = {
        "source": "canvas",
        "canvas_user_id": "" if anonymous else uid,
        "name": names[0],
        "late": any(m["late"] for _, m in items),
        **({"canvas_anonymous_id": uid[5:]} if anonymous else {}),
        "files": sorted(_show(name) for name, _ in items),
    }
    problems: list[str] = []
    entries: dict[str, _Entry] = {}
    rank: dict[str, tuple[int, int]] = {}
    loose: list[tuple[str, re.Match]] = []
    for name, match in sorted(items, key=lambda it: (int(it[1]["fid"]), it[0])):
        rest = match["rest"]
        if not rest.lower().endswith(".zip"):
            loose.append((name, match))
            continue
        prefix = _zip_stem(rest)
        inner = _from_canvas_zip(d, name, stack)
        if isinstance(inner, str):
            problems.append(inner)
            continue
        tree_entries, tree_problems = inner
        problems += tree_problems
        for e in tree_entries:
            entries.setdefault(
                f"{prefix}/{e.path}", dataclasses.replace(e, path=f"{prefix}/{e.path}")
            )
    for name, match in loose:
        rest = match["rest"]
        resub = _CANVAS_RESUBMITTED.fullmatch(rest)
        target, number = (resub["stem"] + resub["ext"], int(resub["n"])) if resub else (rest, 0)
        order = (int(match["fid"]), number)
        if target in entries and target in rank:
            older = min(order, rank[target])
            problems.append(
                f"several copies of {_show(target)}; the newest was graded "
                f"(file id {max(order, rank[target])[0]}, not {older[0]})."
            )
            if order < rank[target]:
                continue
        try:
            entry = d.entry(name)
        except Exception as exc:
            problems.append(f"could not read {_show(name)}: {_reason(exc)}.")
            continue
        entries[target] = dataclasses.replace(entry, path=target)
        rank[target] = order
    ordered = [entries[k] for k in sorted(entries)]
    return _Found(_build(uid, origin, ordered, problems, metadata, d.archive), True)


def _from_canvas_zip(d, name: str, stack: ExitStack) -> tuple[list[_Entry], list[str]] | str:
    """The files of a student's zip in a Canvas download, or a sentence saying why not."""
    try:
        zf = stack.enter_context(d.open_zip(name))
        tree = _ZipTree(zf, d.child_origin(name))
    except _TooLarge as exc:
        return str(exc)
    except Exception as exc:
        return f"the archive {_show(name)} could not be opened: {_reason(exc)}."
    return _ZipDir(tree, "").files()


def _gradescope(d) -> list[_Found]:
    """The submissions of a Gradescope export (folders listed in submission_metadata.yml)."""
    import yaml  # here: only a Gradescope export needs it (~40 ms to import)

    where = d.child_origin(GRADESCOPE_META)
    try:
        text = d.read(GRADESCOPE_META, MAX_META_BYTES + 1)
        if len(text) > MAX_META_BYTES:
            raise DiscoveryError(
                f"Cannot read the Gradescope metadata {_show(where)}: it is too large."
            )
        data = yaml.safe_load(text)
    except DiscoveryError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        why = getattr(exc, "problem", None) or "invalid YAML"
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: {_show(str(why))}{at}."
        ) from None
    except Exception as exc:
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: {_reason(exc)}."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DiscoveryError(
            f"Cannot read the Gradescope metadata {_show(where)}: "
            "it is not a mapping of submission folders."
        )
    kids = d.children()
    found: list[_Found] = []
    for key in sorted(data, key=str):
        folder = str(key)
        info = data[key] if isinstance(data[key], dict) else {}
        sub_id = folder.removeprefix("submission_")
        submitters = _submitters(info)
        ids = [s.get("sid") or s.get("email", "").partition("@")[0] for s in submitters]
        raw_id = "+".join(i for i in ids if i) or folder
        metadata = {"source": "gradescope", "submission_id": sub_id, "submitters": submitters}
        for extra in ("created_at", "score", "status"):
            value = _field(info, extra)
            if value is not None:
                metadata[extra] = str(value)
        origin = d.child_origin(folder)
        kind = kids.get(folder)
        if kind == "dir":
            maker = lambda f=folder, r=raw_id, m=metadata: _from_dir(r, d.subdir(f), m, True)  # noqa: E731
            found.append(_guard(raw_id, origin, maker, disk_path(d, folder)))
        elif kind == "link":
            found.append(_unreadable(raw_id, origin, f"{_show(folder)} {_NOT_FOLLOWED}.", metadata))
        else:
            sentence = "the submission folder is missing from the Gradescope export."
            found.append(_unreadable(raw_id, origin, sentence, metadata))
    listed = {str(k) for k in data}
    for name, kind in sorted(kids.items()):
        if kind == "dir" and name not in listed:
            item = _guard(name, d.child_origin(name), lambda n=name: _from_dir(n, d.subdir(n)))
            item.sub.problems.insert(0, f"{_show(name)} is not listed in {GRADESCOPE_META}.")
            found.append(item)
    return found


def _field(info: dict, name: str):
    """``info[':name']``: Gradescope writes Ruby symbols (``:sid: 1`` loads as ``':sid'``)."""
    for key in (f":{name}", f":{name}:", name):
        if key in info:
            return info[key]
    return None


def _submitters(info: dict) -> list[dict[str, str]]:
    raw = _field(info, "submitters")
    out = []
    for person in raw if isinstance(raw, list) else []:
        if not isinstance(person, dict):
            continue
        entry = {}
        for field_name in ("name", "sid", "email"):
            value = _field(person, field_name)
            if value is not None and str(value).strip():
                entry[field_name] = str(value).strip()
        out.append(entry)
    return out
