"""Tests of submission discovery (autograder.discover): layouts, hostile input, materialise.

Every fixture is built in tmp_path at test time (folders, zips, symlinks), never committed.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import discover as dmod
from autograder.discover import (
    DiscoveryError,
    Submission,
    discover,
    find_package,
    materialise,
)
from autograder.discover import files as dfiles
from autograder.paths import MODULES

MODULE_FILES = [f"{m}.py" for m in MODULES]
ID_RE = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*(~\d+)?")


# --------------------------------------------------------------------------- fixture builders


def body(module: str, who: str = "x") -> bytes:
    return f"# {module} by {who}\n".encode()


def package(who: str = "x", prefix: str = "cnn/", skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """{path: bytes} of a full package (minus ``skip``) under ``prefix``."""
    return {f"{prefix}{m}.py": body(m, who) for m in MODULES if m not in skip}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    return root


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_zip(path: Path, members: dict[str, bytes], **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(members, **kw))
    return path


def by_id(subs: list[Submission]) -> dict[str, Submission]:
    return {s.student: s for s in subs}


def has(sub: Submission, text: str) -> bool:
    return any(text in p for p in sub.problems)


def assert_clean(subs: list[Submission]) -> None:
    """Invariants of every discovery result."""
    ids = [s.student for s in subs]
    assert ids == sorted(ids)
    assert len({i.lower() for i in ids}) == len(ids)
    for sub in subs:
        assert ID_RE.fullmatch(sub.student) and len(sub.student) <= 100, sub.student
        for name, data in sub.files.items():
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", name)
            assert isinstance(data, bytes)
        for problem in sub.problems:
            assert problem and "\n" not in problem and "Traceback" not in problem
            problem.encode("utf-8")  # printable in any report
        sub.origin.encode("utf-8")


def full(sub: Submission, who: str = "x") -> bool:
    return all(sub.files.get(f) == body(f[:-3], who) for f in MODULE_FILES)


# --------------------------------------------------------------------------- layouts


def test_single_folder_with_cnn(tmp_path):
    root = write_tree(tmp_path / "alice", package("alice") | {"README.md": b"hi"})
    [sub] = discover([root])
    assert sub.student == "alice" and sub.origin == str(root)
    assert full(sub, "alice") and sub.problems == []
    assert_clean([sub])


def test_single_folder_with_loose_modules(tmp_path):
    root = write_tree(tmp_path / "bob", package("bob", prefix=""))
    [sub] = discover([root])
    assert sub.student == "bob" and full(sub, "bob") and sub.problems == []


def test_single_folder_wrapped_in_its_top_folder(tmp_path):
    root = write_tree(tmp_path / "carol", package("carol", prefix="carol-main/cnn/"))
    [sub] = discover([root])
    assert sub.student == "carol" and full(sub, "carol")


def test_single_folder_with_package_deep_down(tmp_path):
    root = write_tree(tmp_path / "dan", package("dan", prefix="submission/src/cnn/"))
    [sub] = discover([root])
    assert sub.student == "dan" and full(sub, "dan")


def test_zip_of_one_student(tmp_path):
    path = write_zip(tmp_path / "erin.zip", package("erin") | {"cnn/__init__.py": b""})
    [sub] = discover([path])
    assert sub.student == "erin" and sub.origin == str(path)
    assert full(sub, "erin") and sub.files["__init__.py"] == b"" and sub.problems == []


def test_zip_with_package_deep_down_and_loose_modules(tmp_path):
    deep = write_zip(tmp_path / "f1.zip", package("f1", prefix="submission/src/cnn/"))
    loose = write_zip(tmp_path / "f2.zip", package("f2", prefix="work/code/"))
    subs = by_id(discover([deep, loose]))
    assert full(subs["f1"], "f1") and full(subs["f2"], "f2")


def test_zip_is_one_student_even_with_several_folders(tmp_path):
    members = package("g", prefix="attempt2/") | package("old", prefix="zzz_old/attempt1/")
    [sub] = discover([write_zip(tmp_path / "gina.zip", members)])
    assert sub.student == "gina" and full(sub, "g")
    assert has(sub, "ignored the one(s) in zzz_old/attempt1/")


def test_class_folder_of_folders_and_zips(tmp_path):
    cls = tmp_path / "class"
    write_tree(cls / "zoe", package("zoe"))
    write_tree(cls / "adam", package("adam", prefix=""))
    write_zip(cls / "mia.zip", package("mia", prefix="mia/cnn/"))
    write_tree(cls, {"grades.csv": b"a,b", ".DS_Store": b"x"})
    write_tree(cls / "__MACOSX", {"zoe/._conv.py": b"junk"})
    subs = discover([cls])
    assert [s.student for s in subs] == ["adam", "mia", "zoe"]
    assert all(full(s, s.student) and s.problems == [] for s in subs)
    assert by_id(subs)["mia"].origin == str(cls / "mia.zip")
    assert_clean(subs)


def test_class_folder_wrapped_in_a_folder(tmp_path):
    inner = tmp_path / "download" / "class"
    write_tree(inner / "a1", package("a1"))
    write_tree(inner / "b2", package("b2"))
    assert [s.student for s in discover([tmp_path / "download"])] == ["a1", "b2"]


def test_student_folder_holding_only_a_zip(tmp_path):
    cls = tmp_path / "class"
    write_zip(cls / "Ann Lee_1234_assignsubmission_file_" / "cnn.zip", package("ann"))
    write_tree(cls / "ben", package("ben"))
    subs = by_id(discover([cls]))
    ann = subs["Ann_Lee_1234_assignsubmission_file_"]
    assert full(ann, "ann") and ann.origin.endswith("cnn.zip")


def test_student_with_nothing_is_listed_when_others_have_work(tmp_path):
    cls = tmp_path / "class"
    write_tree(cls / "ok", package("ok"))
    write_tree(cls / "empty", {"report.pdf": b"%PDF"})
    subs = by_id(discover([cls]))
    assert subs["empty"].files == {}
    assert has(subs["empty"], "no cnn package or module files found")


def test_several_paths_are_merged_and_sorted(tmp_path):
    a = write_tree(tmp_path / "c1" / "yan", package("yan"))
    b = write_zip(tmp_path / "c2" / "xia.zip", package("xia"))
    assert [s.student for s in discover([a, b])] == ["xia", "yan"]


# --------------------------------------------------------------------------- Gradescope

GRADESCOPE_YAML = """\
submission_101:
  :submitters:
  - :name: Alice A
    :sid: '1001'
    :email: alice@uni.edu
  :created_at: 2024-05-01 10:00:00.000000000 +00:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Bob B
    :email: bob.b@uni.edu
submission_103:
  :submitters: []
submission_104:
  :submitters:
  - :sid: 1004
submission_105:
  :submitters:
  - :name: Cy
    :sid: '2001'
  - :name: Di
    :sid: '2002'
"""


def gradescope_files(prefix: str = "") -> dict[str, bytes]:
    files = {f"{prefix}submission_metadata.yml": GRADESCOPE_YAML.encode()}
    files |= package("a", prefix=f"{prefix}submission_101/cnn/")
    files |= package("b", prefix=f"{prefix}submission_102/")
    files |= package("c", prefix=f"{prefix}submission_103/stuff/cnn/")
    files |= package("g", prefix=f"{prefix}submission_105/cnn/")
    files |= package("u", prefix=f"{prefix}submission_999/cnn/")
    return files


def check_gradescope(subs: list[Submission]) -> None:
    subs = by_id(subs)
    assert sorted(subs) == [
        "1001",
        "1004",
        "2001+2002",
        "bob.b",
        "submission_103",
        "submission_999",
    ]
    alice = subs["1001"]
    assert full(alice, "a") and alice.problems == []
    assert alice.metadata["source"] == "gradescope"
    assert alice.metadata["submission_id"] == "101"
    assert alice.metadata["submitters"] == [
        {"name": "Alice A", "sid": "1001", "email": "alice@uni.edu"}
    ]
    assert alice.metadata["created_at"].startswith("2024-05-01")
    assert full(subs["bob.b"], "b") and full(subs["submission_103"], "c")
    assert full(subs["2001+2002"], "g") and len(subs["2001+2002"].metadata["submitters"]) == 2
    assert subs["1004"].files == {} and has(subs["1004"], "missing from the Gradescope export")
    assert has(subs["submission_999"], "not listed in submission_metadata.yml")
    assert_clean(list(subs.values()))


def test_gradescope_export_folder(tmp_path):
    root = write_tree(tmp_path / "export", gradescope_files())
    check_gradescope(discover([root]))


def test_gradescope_export_zip(tmp_path):
    path = write_zip(tmp_path / "export.zip", gradescope_files("assignment_7_export/"))
    subs = discover([path])
    check_gradescope(subs)
    assert by_id(subs)["1001"].origin == f"{path}!assignment_7_export/submission_101"


@pytest.mark.parametrize(
    "text", ["submission_1: [unclosed\n  - x: : :", "- just\n- a list\n", "\tbad: tab"]
)
def test_gradescope_unreadable_metadata_is_an_instructor_error(tmp_path, text):
    root = write_tree(tmp_path / "export", {"submission_metadata.yml": text.encode()})
    write_tree(root / "submission_1", package())
    with pytest.raises(DiscoveryError, match="Cannot read the Gradescope metadata") as info:
        discover([root])
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- Canvas


def canvas_files() -> dict[str, bytes]:
    files = {
        "smithjohn_1234_5001_conv.py": body("conv", "js"),
        "smithjohn_1234_5002_pooling.py": body("pooling", "js"),
        "smithjohn_1234_4000_model.py": b"# old model\n",
        "smithjohn_1234_5003_model-1.py": body("model", "js"),
        "leeann_9999_7001_conv.ipynb": b"{}",
    }
    files["doejane_LATE_5678_6001_my_cnn.zip"] = zip_bytes(package("jd"))
    for m in ("shapes", "activations", "optimizers", "regularization", "training"):
        files[f"smithjohn_1234_{5100 + len(m)}{len(files)}_{m}.py"] = body(m, "js")
    return files


def check_canvas(subs: list[Submission]) -> None:
    subs = by_id(subs)
    assert sorted(subs) == ["1234", "5678", "9999"]
    john = subs["1234"]
    assert full(john, "js"), john.files
    assert has(john, "several copies of model.py")
    assert john.metadata["name"] == "smithjohn" and john.metadata["canvas_user_id"] == "1234"
    assert john.metadata["late"] is False
    jane = subs["5678"]
    assert full(jane, "jd") and jane.metadata["late"] is True
    assert jane.metadata["name"] == "doejane"
    ann = subs["9999"]
    assert ann.files == {} and has(ann, "conv.ipynb is not a Jupyter notebook")
    assert_clean(list(subs.values()))


def test_canvas_download_folder(tmp_path):
    check_canvas(discover([write_tree(tmp_path / "canvas", canvas_files())]))


def test_canvas_download_zip(tmp_path):
    check_canvas(discover([write_zip(tmp_path / "submissions.zip", canvas_files())]))


# --------------------------------------------------------------------------- find_package


def test_find_package_prefers_shallowest_cnn_and_ignores_junk():
    files = package("deep", prefix="a/b/cnn/") | package("top", prefix="x/cnn/")
    files |= package("loose", prefix="")
    files |= {"__MACOSX/x/cnn/._conv.py": b"\0", "x/cnn/__pycache__/conv.cpython-311.pyc": b"\0"}
    files |= {"x/cnn/.hidden.py": b"", "x/.cnn/conv.py": b""}
    flat, problems = find_package(files)
    assert flat == {f: body(f[:-3], "top") for f in MODULE_FILES}
    assert any("a/b/cnn/" in p for p in problems)


def test_find_package_notes():
    files = package(prefix="cnn/", skip=("pooling", "model"))
    files |= {
        "cnn/notes.txt": b"",
        "cnn/utils/helpers.py": b"",
        "model.ipynb": b"{}",
        "cnn/pooling.txt": b"",
        "cnn/helper.py": b"# mine",
        "cnn/model (1).py": b"# model",
        "cnn/bad-name.py": b"",
    }
    flat, problems = find_package(files)
    assert flat["helper.py"] == b"# mine" and flat["model.py"] == b"# model"
    assert "pooling.py" not in flat and "bad-name.py" not in flat
    expect = [
        "module pooling.py is missing.",
        "extra file cnn/notes.txt ignored.",
        "found model.ipynb: a notebook is graded only when the upload holds no cnn/ package",
        "found cnn/pooling.txt: only .py files are graded",
        "subfolder cnn/utils/ ignored",
        "file model (1).py was graded as model.py.",
        "file bad-name.py ignored",
    ]
    for text in expect:
        assert any(text in p for p in problems), (text, problems)
    assert not any("module model.py is missing" in p for p in problems)


def test_find_package_nothing_found():
    flat, problems = find_package({"conv.ipynb": b"{}", "readme.md": b""})
    assert flat == {}
    assert "no cnn package or module files found." in problems
    assert any(p.startswith("found conv.ipynb: a notebook is graded only when") for p in problems)


def test_find_package_skips_unsafe_keys():
    flat, problems = find_package({"../cnn/conv.py": b"x", "/abs/conv.py": b"y"} | package())
    assert full(Submission("x", "", flat, [], {}))
    assert sum("unsafe path" in p for p in problems) == 2


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=0, max_size=30), st.binary(max_size=4), max_size=8))
def test_find_package_never_raises(files):
    flat, problems = find_package(files)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", n) for n in flat)
    assert all(isinstance(p, str) and p for p in problems)


# --------------------------------------------------------------------------- hostile archives


def test_zip_slip_entries_are_skipped(tmp_path):
    members = package("s") | {
        "../evil.py": b"boom",
        "/etc/conv.py": b"boom",
        "C:\\Windows\\conv.py": b"boom",
        "cnn/../../up.py": b"boom",
    }
    path = write_zip(tmp_path / "in" / "slip.zip", members)
    [sub] = discover([path])
    assert full(sub, "s")
    assert sum("unsafe path" in p for p in sub.problems) == 4
    dest = tmp_path / "out" / "dest"
    dest.parent.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    materialise(sub, dest)
    after = {p for p in tmp_path.rglob("*")}
    assert all(dest in p.parents or p == dest or p in before for p in after)
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / "up.py").exists()


def test_symlink_members_in_zip_are_skipped(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in package("l", skip=("conv",)).items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("cnn/conv.py")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    path = tmp_path / "link.zip"
    path.write_bytes(buf.getvalue())
    [sub] = discover([path])
    assert "conv.py" not in sub.files
    assert has(sub, "cnn/conv.py is a symbolic link") and has(sub, "module conv.py is missing")


def test_oversized_member_is_not_read(tmp_path):
    big = b"x = 1\n" * 200_000  # 1.2 MB
    path = write_zip(tmp_path / "big.zip", package("b") | {"cnn/conv.py": big})
    [sub] = discover([path])
    assert "conv.py" not in sub.files and has(sub, "archive too large")
    assert sub.files["pooling.py"] == body("pooling", "b")


def test_zip_bomb_ratio_guard(tmp_path):
    bomb = b"0" * (600 << 10)  # compresses ~1000:1
    path = write_zip(tmp_path / "bomb.zip", package("b") | {"cnn/conv.py": bomb})
    [sub] = discover([path])
    assert "conv.py" not in sub.files and has(sub, "archive too large")


def test_lying_sizes_are_bounded(tmp_path):
    """A member whose header claims 100 bytes but holds 2 MB: never read past the claim."""
    data = bytearray(zip_bytes(package("b") | {"cnn/conv.py": b"#" * (2 << 20)}))
    name = b"cnn/conv.py"
    central = data.index(b"PK\x01\x02")
    while True:  # find the central directory record of cnn/conv.py and patch its file_size
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == name:
            struct.pack_into("<I", data, central + 24, 100)
            break
        central = data.index(b"PK\x01\x02", central + 4)
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(data))
    [sub] = discover([path])
    assert len(sub.files.get("conv.py", b"")) <= 100
    assert full(Submission("b", "", {**sub.files, "conv.py": body("conv", "b")}, [], {}), "b")
    assert_clean([sub])


def test_total_size_cap(tmp_path):
    chunk = bytes(range(32, 127)) * 10_000  # ~0.9 MiB, incompressible enough, stored
    members = {f"cnn/m{i}.py": chunk for i in range(10)} | package("t")
    path = write_zip(tmp_path / "huge.zip", members, compression=zipfile.ZIP_STORED)
    [sub] = discover([path])
    assert has(sub, "archive too large: its .py files add up to more than 8 MiB")
    assert sum(len(v) for v in sub.files.values()) <= 8 << 20


def test_too_many_entries(tmp_path):
    members = package("t") | {f"junk/f{i}.txt": b"" for i in range(2001)}
    [sub] = discover([write_zip(tmp_path / "many.zip", members, compression=zipfile.ZIP_STORED)])
    assert sub.files == {} and has(sub, "archive too large")


@pytest.mark.parametrize(
    "content", [b"", b"this is not a zip", b"PK\x03\x04" + b"\0" * 40, zip_bytes(package())[:-30]]
)
def test_broken_archives_are_listed_with_a_problem(tmp_path, content):
    cls = tmp_path / "class"
    write_tree(cls / "good", package("good"))
    (cls / "broken.zip").write_bytes(content)
    subs = by_id(discover([cls]))
    assert full(subs["good"], "good")
    assert subs["broken"].files == {} and has(subs["broken"], "could not be opened")
    assert_clean(list(subs.values()))


def test_broken_zip_path_is_listed_not_raised(tmp_path):
    path = tmp_path / "solo.zip"
    path.write_bytes(b"garbage")
    [sub] = discover([path])
    assert sub.student == "solo" and sub.files == {} and has(sub, "could not be opened")


def test_corrupt_member_data(tmp_path):
    data = bytearray(zip_bytes(package("c"), compression=zipfile.ZIP_STORED))
    at = data.index(body("conv", "c"))
    data[at : at + 4] = b"XXXX"  # CRC now wrong
    path = tmp_path / "crc.zip"
    path.write_bytes(bytes(data))
    [sub] = discover([path])
    assert "conv.py" not in sub.files and has(sub, "could not read cnn/conv.py")
    assert sub.files["pooling.py"] == body("pooling", "c")


def test_encrypted_member(tmp_path):
    data = bytearray(zip_bytes(package("e")))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set bit 0 on every header
        at = data.find(sig)
        while at >= 0:
            struct.pack_into(
                "<H", data, at + flag_at, struct.unpack_from("<H", data, at + flag_at)[0] | 1
            )
            at = data.find(sig, at + 4)
    path = tmp_path / "secret.zip"
    path.write_bytes(bytes(data))
    [sub] = discover([path])
    assert sub.files == {} and has(
        sub, "could not read cnn/conv.py from the archive: it is encrypted"
    )


def test_zip_without_zip_suffix(tmp_path):
    path = write_zip(tmp_path / "handin", package("h"))
    [sub] = discover([path])
    assert sub.student == "handin" and full(sub, "h")


def test_nested_zip_in_student_zip_is_ignored(tmp_path):
    inner = zip_bytes(package("in"))
    [sub] = discover([write_zip(tmp_path / "nest.zip", {"inner.zip": inner})])
    assert sub.files == {} and has(sub, "nested archive inner.zip ignored")


def test_cp437_and_bad_utf8_names_in_zip(tmp_path):
    members = package("u", prefix="Xbung/cnn/") | {"Xbung/cnn/X.py": b""}
    data = zip_bytes(members).replace(b"Xbung", b"\x9abung").replace(b"cnn/X.py", b"cnn/\x81.py")
    path = tmp_path / "cp437.zip"
    path.write_bytes(data)
    [sub] = discover([path])
    assert full(sub, "u")  # names decoded as cp437 (flag bit 11 unset): "Übung/cnn/"
    assert_clean([sub])

    # flag bit 11 set (UTF-8) but the bytes are not UTF-8: the archive cannot be opened
    raw = zip_bytes({"cnn/é.py": b""} | package()).replace("é".encode(), b"\xff\xfe")
    bad = tmp_path / "badutf8.zip"
    bad.write_bytes(raw)
    [sub] = discover([bad])
    assert sub.files == {} and has(sub, "could not be opened")


# --------------------------------------------------------------------------- hostile folders


def test_symlinks_on_disk_are_never_followed(tmp_path):
    outside = write_tree(tmp_path / "outside", package("secret"))
    cls = tmp_path / "class"
    write_tree(cls / "ok", package("ok"))
    write_tree(cls / "filelink", package("fl", skip=("conv",)))
    os.symlink(outside / "cnn" / "conv.py", cls / "filelink" / "cnn" / "conv.py")
    os.symlink(outside, cls / "dirlink")
    write_tree(cls / "cnnlink", {"notes.py": b""})
    os.symlink(outside / "cnn", cls / "cnnlink" / "cnn")
    subs = by_id(discover([cls]))
    assert "conv.py" not in subs["filelink"].files
    assert has(subs["filelink"], "cnn/conv.py is a symbolic link")
    assert subs["dirlink"].files == {} and has(subs["dirlink"], "symbolic link")
    assert not any(b"secret" in v for s in subs.values() for v in s.files.values())
    assert has(subs["cnnlink"], "cnn is a symbolic link")


def test_hard_links_are_read_as_regular_files(tmp_path):
    outside = write_tree(tmp_path / "outside", package("h"))
    student = tmp_path / "hl"
    (student / "cnn").mkdir(parents=True)
    for f in MODULE_FILES:
        os.link(outside / "cnn" / f, student / "cnn" / f)
    [sub] = discover([student])
    assert full(sub, "h") and sub.problems == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_without_blocking(tmp_path):
    student = write_tree(tmp_path / "fifo", package("f", skip=("conv",)))
    os.mkfifo(student / "cnn" / "conv.py")
    [sub] = discover([student])
    assert "conv.py" not in sub.files and has(sub, "cnn/conv.py is not a regular file")


def test_unreadable_file_is_a_problem(tmp_path, monkeypatch):
    student = write_tree(tmp_path / "perm", package("p"))
    real = dfiles._read_disk

    def read(path, limit):
        if path.endswith("conv.py"):
            raise PermissionError(13, "Permission denied", path)
        return real(path, limit)

    monkeypatch.setattr(dfiles, "_read_disk", read)
    [sub] = discover([student])
    assert "conv.py" not in sub.files
    assert has(sub, "could not read cnn/conv.py: permission denied.")
    assert sub.files["model.py"] == body("model", "p")


def test_unreadable_folder_is_a_problem(tmp_path, monkeypatch):
    cls = tmp_path / "class"
    write_tree(cls / "a", package("a"))
    write_tree(cls / "b", package("b"))
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith(os.sep + "b"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(dmod.os, "scandir", scandir)
    subs = by_id(discover([cls]))
    assert full(subs["a"], "a")
    assert subs["b"].files == {} and has(subs["b"], "permission denied")


def test_non_utf8_names_on_disk(tmp_path):
    base = os.fsencode(tmp_path / "class")
    student = os.path.join(base, b"\xffj\xc3rg")
    os.makedirs(os.path.join(student, b"cnn"))
    for f in MODULE_FILES:
        with open(os.path.join(student, b"cnn", f.encode()), "wb") as fh:
            fh.write(body(f[:-3], "j"))
    with open(os.path.join(student, b"cnn", b"\xfe.py"), "wb") as fh:
        fh.write(b"")
    write_tree(tmp_path / "class" / "other", package("o"))
    subs = discover([tmp_path / "class"])
    assert_clean(subs)
    [odd] = [s for s in subs if s.student != "other"]
    assert full(odd, "j") and has(odd, "not a valid Python module name")


def test_too_many_files_on_disk(tmp_path):
    student = write_tree(tmp_path / "many", package("m"))
    for i in range(2001):
        (student / f"f{i}.txt").touch()
    [sub] = discover([student])
    assert sub.files == {} and has(sub, "submission too large")


def test_ignored_folders_do_not_count(tmp_path):
    student = write_tree(tmp_path / "venvy", package("v"))
    for i in range(2100):
        write_tree(student / ".venv" / "lib", {f"f{i}.py": b""})
    [sub] = discover([student])
    assert full(sub, "v")


# --------------------------------------------------------------------------- ids


def test_duplicate_ids_get_suffixes_and_problems(tmp_path):
    a = write_tree(tmp_path / "one" / "alice", package("a1"))
    b = write_zip(tmp_path / "two" / "alice.zip", package("a2"))
    c = write_tree(tmp_path / "three" / "Alice", package("a3"))
    subs = discover([a, b, c])
    assert [s.student for s in subs] == ["Alice", "alice~2", "alice~3"]
    assert all(has(s, "duplicate student id") for s in subs)
    assert discover([c, b, a]) == subs  # order of PATHs does not matter
    assert_clean(subs)


def test_same_path_twice_is_read_once(tmp_path):
    a = write_tree(tmp_path / "alice", package())
    assert [s.student for s in discover([a, a])] == ["alice"]


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        ("Jürgen Müller", "Jurgen_Muller"),
        (".hidden", "hidden"),
        ("a/b\\c:d", "a_b_c_d"),
        ("x" * 300, "x" * 100),
        ("jo+cnn@uni.edu", "jo+cnn@uni.edu"),
    ],
)
def test_safe_ids(raw, expect):
    assert dmod.safe_id(raw) == expect


def test_safe_ids_of_non_latin_names_are_distinct():
    a, b = dmod.safe_id("张三"), dmod.safe_id("李四")
    assert a != b and a.startswith("student-")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=150))
def test_safe_id_property(raw):
    sid = dmod.safe_id(raw)
    assert re.fullmatch(r"[A-Za-z0-9._@+-]{1,100}", sid) and not sid.startswith(".")


def test_determinism(tmp_path):
    cls = tmp_path / "class"
    for who in ("q", "p", "r"):
        write_tree(cls / who, package(who))
    write_zip(cls / "s.zip", package("s"))
    assert discover([cls]) == discover([cls])
    assert [s.student for s in discover([cls])] == ["p", "q", "r", "s"]


# --------------------------------------------------------------------------- instructor errors


def test_missing_path(tmp_path):
    with pytest.raises(DiscoveryError, match=r"^No such file or folder: .*nope\.$"):
        discover([tmp_path / "nope"])


def test_dangling_symlink_path(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    with pytest.raises(DiscoveryError, match="No such file or folder"):
        discover([tmp_path / "dangling"])


@pytest.mark.parametrize(
    "files",
    [{}, {"README.txt": b"hi"}, {"a/report.pdf": b"%PDF", "b/notes.md": b""}, {"w/x/": b""}],
)
def test_nothing_gradable(tmp_path, files):
    root = tmp_path / "empty"
    root.mkdir()
    for rel, data in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True)
        else:
            write_tree(root, {rel: data})
    with pytest.raises(DiscoveryError, match=r"^No submissions found in .*empty: expected"):
        discover([root])


def test_plain_file_path(tmp_path):
    path = tmp_path / "conv.py"
    path.write_text("x = 1\n")
    with pytest.raises(DiscoveryError, match="expected a folder, a .zip file or a handout"):
        discover([path])


def test_no_paths():
    with pytest.raises(DiscoveryError):
        discover([])


# --------------------------------------------------------------------------- materialise


def test_materialise_writes_flat_files(tmp_path):
    sub = Submission("a", "x", {"conv.py": b"c", "_checks.py": b"k"}, [], {})
    pkg = materialise(sub, tmp_path / "dest")
    assert pkg == tmp_path / "dest" / "cnn"
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py", "_checks.py", "conv.py"]
    assert (pkg / "conv.py").read_bytes() == b"c" and (pkg / "__init__.py").read_bytes() == b""
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in pkg.iterdir())
    sub.files["__init__.py"] = b"# mine"
    materialise(sub, tmp_path / "dest")  # again, over the old files
    assert (pkg / "__init__.py").read_bytes() == b"# mine"


@pytest.mark.parametrize("name", ["../x.py", "/tmp/x.py", "a/b.py", "x.txt", "..py", "9a.py", ""])
def test_materialise_refuses_bad_names(tmp_path, name):
    sub = Submission("a", "x", {"conv.py": b"c", name: b"boom"}, [], {})
    with pytest.raises(ValueError):
        materialise(sub, tmp_path / "dest")
    assert not (tmp_path / "dest" / "cnn").exists() and not (tmp_path / "x.py").exists()


def test_materialise_never_writes_through_symlinks(tmp_path):
    outside = write_tree(tmp_path / "outside", {"conv.py": b"precious", "keep/x": b"k"})
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside / "keep", dest / "cnn")  # a planted package folder link
    pkg = materialise(Submission("a", "x", {"conv.py": b"new"}, [], {}), dest)
    assert not pkg.is_symlink() and (pkg / "conv.py").read_bytes() == b"new"
    assert sorted(p.name for p in (outside / "keep").iterdir()) == ["x"]
    os.unlink(pkg / "conv.py")
    os.symlink(outside / "conv.py", pkg / "conv.py")  # a planted file link
    materialise(Submission("a", "x", {"conv.py": b"newer"}, [], {}), dest)
    assert (outside / "conv.py").read_bytes() == b"precious"
    assert not (pkg / "conv.py").is_symlink() and (pkg / "conv.py").read_bytes() == b"newer"


def test_discover_then_materialise_round_trip(tmp_path):
    [sub] = discover([write_zip(tmp_path / "rt.zip", package("rt", prefix="src/cnn/"))])
    pkg = materialise(sub, tmp_path / "work")
    assert sorted(p.name for p in pkg.iterdir()) == sorted([*MODULE_FILES, "__init__.py"])
    assert (pkg / "conv.py").read_bytes() == body("conv", "rt")


def test_the_ascii_fast_paths_give_what_the_general_path_gives():
    """safe_id and _show skip their per-character passes for ASCII and printable names: the
    same results as the general path (forced here by a non-ASCII suffix cut off after)."""
    import random

    from autograder.discover.files import _show
    from autograder.discover.ids import safe_id

    rng = random.Random(7)
    names = [
        "".join(chr(rng.randrange(128)) for _ in range(rng.randrange(1, 20))) for _ in range(3000)
    ]
    names += ["ada", ".hidden", "a b", "x\x00y", "\x7f", "-+@.", "a" * 150]
    for name in names:
        general = safe_id(name + "\u0301")  # a combining accent: the general path, dropped
        digests = general.startswith("student-") and safe_id(name).startswith("student-")
        assert safe_id(name) == general or digests, repr(name)  # (a digest of the raw name)
        shown = _show(name + "é")
        assert _show(name) == shown[: len(shown) - 1] or len(shown) > 200, repr(name)
