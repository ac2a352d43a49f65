"""Isolation on the non-root path: the grader run as an unprivileged user (a throwaway uid) still
hides the kit and the output folder from student code, and says which level it used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder.paths import KIT_ROOT, STUBS_DIR
from autograder.sandbox.isolation import LEVEL_TEXT, detect, landlock_abi

PROBE = textwrap.dedent(
    """
    import os
    def _look():
        seen = []
        for p in ({kit!r}, {out!r}, os.path.expanduser("~")):
            try:
                seen.append("%s:%d" % (p, len(os.listdir(p))))
            except OSError as e:
                seen.append("%s:denied" % p)
        return " ".join(seen)
    def pad2d(*a, **k):
        raise ValueError("PROBE " + _look())
    """
)


def _unprivileged(
    tmp: Path, args: list[str], argv: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Run the grader as uid 1987654322 in a private mount namespace where the interpreter (which
    lives under root's 0700 home here) is reachable; nothing else changes."""
    exe_root = Path(sys.base_prefix).resolve()
    home = Path(os.path.expanduser("~"))
    script = ["set -e", "mount --make-rprivate /"]
    if str(exe_root).startswith(str(home) + "/"):
        park = tmp / "park"
        park.mkdir()
        script += [
            f"mount --bind {home} {park}",
            f"mount -t tmpfs -o mode=0755 tmpfs {home}",
            f"mkdir -p {exe_root}",
            f"mount --bind {park}/{exe_root.relative_to(home)} {exe_root}",
        ]
    grade = argv or [sys.executable, "-c", "from autograder.cli import main; main()", *args]
    quoted = " ".join(f"'{a}'" for a in grade)
    script.append(f"exec setpriv --reuid=1987654322 --regid=1987654322 --clear-groups {quoted}")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp / "home"), "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):  # a worktree's checkout, not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", "\n".join(script)],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="making an unprivileged grader needs root")
def test_unprivileged_grader_uses_user_namespaces_and_hides_kit_and_output():
    tmp_path = Path(tempfile.mkdtemp(prefix="cnn-iso-test-"))  # pytest's own is 0700
    try:
        _check_unprivileged(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _check_unprivileged(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    sub = tmp_path / "class" / "probe"
    shutil.copytree(STUBS_DIR, sub / "cnn")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "home").mkdir()
    for p in (tmp_path / "class", out, tmp_path / "home"):
        shutil.chown(p, 1987654322, 1987654322)
    (sub / "cnn" / "conv.py").write_text(PROBE.format(kit=str(KIT_ROOT), out=str(out)))
    for p in [tmp_path / "class", *(tmp_path / "class").rglob("*")]:
        os.chown(p, 1987654322, 1987654322)
    cfg = tmp_path / "grade.toml"
    cfg.write_text('[points]\n"conv.pad2d" = 2\n')
    os.chmod(cfg, 0o644)
    done = _unprivileged(
        tmp_path, ["run", str(tmp_path / "class"), "--out", str(out), "--config", str(cfg)]
    )
    assert done.returncode == 0, done.stderr + done.stdout
    (found,) = out.glob("*/results.json")
    results = json.loads(found.read_text())
    level = results["extra_data"]["isolation"]
    assert level == "namespaces", f"expected the user-namespace level, got {level}"
    text = "\n".join(t["output"] for t in results["tests"])
    assert "PROBE" in text
    # Covered by an empty tmpfs (0 entries) or refused by Landlock: never the real listing.
    for folder in (str(KIT_ROOT), str(out)):
        shown = text.split(folder.replace("_", "\\_") + ":", 1)[1].split()[0]
        assert shown in ("0", "denied"), (folder, shown)
    assert "Your code ran in a sandbox without network." in results["output"]


def test_levels_are_named_in_reports_and_the_fallback_says_it_is_weaker():
    from autograder.report import ISOLATION_NOTE

    assert set(LEVEL_TEXT) <= set(ISOLATION_NOTE)
    assert "weaker" in ISOLATION_NOTE["process-group"]
    assert "WEAKER" in LEVEL_TEXT["process-group"]
    forced = detect.__wrapped__("process-group")
    assert forced.level == "process-group"
    assert forced.landlock == landlock_abi()


ROOTLESS_DISK_BOMB = """
import dataclasses, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from test_sandbox import DISK_BOMB, make_package, run
from autograder.cases import Call
from autograder.sandbox.isolation import Limits, detect
iso = dataclasses.replace(detect(), landlock=0)  # the mounts alone
pkg = make_package(Path(sys.argv[2]), conv=DISK_BOMB)
places = [".", "pkg/cnn", "/tmp", "/dev/shm", "/var/tmp"]
report = run(pkg, [Call("call", "conv.bomb", (places,))], isolation=iso,
             limits=Limits(call_timeout=30.0, import_timeout=10.0, memory_mb=1024))
print(iso.level, report.outcomes[0].status, report.outcomes[0].value)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="making an unprivileged grader needs root")
def test_a_rootless_worker_cannot_fill_its_job_folder_on_the_hosts_shm():
    """Without Landlock, the worker's inherited working folder (the job folder on the host's
    /dev/shm, under the private tmpfs) was writable at the rootless level: 688 MB got there."""
    tmp = Path(tempfile.mkdtemp(prefix="cnn-iso-test-"))
    try:
        os.chmod(tmp, 0o755)
        (tmp / "pkg").mkdir()
        os.chmod(tmp / "pkg", 0o777)
        script = tmp / "bomb.py"
        script.write_text(ROOTLESS_DISK_BOMB)
        tests = str(Path(__file__).resolve().parent)
        run = _unprivileged(tmp, [], [sys.executable, str(script), tests, str(tmp / "pkg")])
        assert run.returncode == 0, run.stderr[-2000:]
        level, status, written = run.stdout.split()[-3:]
        assert (level, status) == ("namespaces", "ok"), run.stdout
        assert int(written) <= 48 * 1024 * 1024, f"{int(written) >> 20} MB written"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
