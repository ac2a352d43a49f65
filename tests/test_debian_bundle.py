"""The Gradescope bundle from scratch on a clean Debian system: its setup.sh, then run_autograder.

A minimal Debian 12 (bookworm) is built with ``debootstrap`` from Debian's own packages and
cached in ``/var/cache/cnn-kit/`` (rebuilt when absent, about a minute). Each run
unpacks a fresh copy, runs the bundle's ``setup.sh`` in it (apt-get, then the kit's own venv
from pinned, hashed wheels from PyPI), and grades the correct solutions and a wrong submission
with the bundle's ``run_autograder`` inside the chroot: nothing from the kit's own environment.

Needs root, ``debootstrap`` and the network to Debian and PyPI (CI has all three; ``.ci/run``
installs debootstrap). Without them the test fails with the reason, it does not skip.
Marked slow: 1.5-3 minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.paths import SOLUTIONS_DIR

CACHE = Path(os.environ.get("CNN_KIT_DEBIAN_CACHE", "/var/cache/cnn-kit"))
SUITE = "bookworm"
MIRROR = os.environ.get("CNN_KIT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
WRONG_CONV = """

_right_conv2d = conv2d


def conv2d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    return _right_conv2d(x, kernel[::-1, ::-1], bias, stride, padding, dilation)
"""

# How this machine reaches PyPI (a proxy, its CA bundle once setup.sh has installed it).
PASS_ENV = {"PIP_CERT", "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "http_proxy", "https_proxy"}
PASS_ENV |= {k.upper() for k in PASS_ENV if k.islower()}

pytestmark = pytest.mark.slow


def _base_system() -> Path:
    """The cached minimal Debian tree (built by debootstrap when absent, about a minute)."""
    base = CACHE / f"debian-{SUITE}-minbase"
    if (base / "etc" / "debian_version").is_file():
        return base
    assert os.geteuid() == 0, "building a Debian chroot needs root"
    debootstrap = shutil.which("debootstrap")
    assert debootstrap, "debootstrap is missing: apt-get install debootstrap"
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f"build-{os.getpid()}"
    try:
        subprocess.run(
            [debootstrap, "--variant=minbase", SUITE, str(build), MIRROR],
            check=True,
            capture_output=True,
            timeout=900,
        )
        shutil.rmtree(base, ignore_errors=True)
        build.rename(base)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return base


class Chroot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounts: list[Path] = []

    def __enter__(self) -> Chroot:
        for name, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            target = self.root / name
            target.mkdir(exist_ok=True)
            subprocess.run(["mount", *args, str(target)], check=True)
            self.mounts.append(target)
        # This machine's network, not the kit's: its resolver and any local CA (an egress
        # proxy's), which setup.sh's update-ca-certificates then trusts.
        shutil.copyfile("/etc/resolv.conf", self.root / "etc" / "resolv.conf")
        local_ca = Path("/usr/local/share/ca-certificates")
        if local_ca.is_dir():
            shutil.copytree(
                local_ca, self.root / "usr/local/share/ca-certificates", dirs_exist_ok=True
            )
        return self

    def __exit__(self, *exc) -> None:
        for target in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(target)], check=False)

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        env["HOME"], env["LANG"] = "/root", "C.UTF-8"
        env.update({k: v for k, v in os.environ.items() if k in PASS_ENV})
        return subprocess.run(
            ["chroot", str(self.root), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _submission(chroot: Path, kind: str) -> None:
    ag = chroot / "autograder"
    for sub in ("submission", "results"):
        shutil.rmtree(ag / sub, ignore_errors=True)
        (ag / sub).mkdir(parents=True)
    shutil.copytree(SOLUTIONS_DIR, ag / "submission" / "cnn")
    if kind == "wrong":
        with open(ag / "submission" / "cnn" / "conv.py", "a") as f:
            f.write(WRONG_CONV)
    (ag / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "s1"}]}))


def test_setup_and_run_autograder_on_a_clean_debian(tmp_path):
    assert os.geteuid() == 0, "the clean-Debian test needs root (chroot, mount)"
    bundle = tmp_path / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope", "--out", str(bundle), "--secret", "deb-1"])
    assert run.exit_code == 0, run.output
    root = tmp_path / "debian"
    subprocess.run(["cp", "-a", str(_base_system()), str(root)], check=True)  # a fresh copy
    assert not (root / "usr" / "bin" / "python3").exists()  # really clean: no Python yet
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "autograder" / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "autograder" / "source" / script).chmod(0o755)
    try:
        with Chroot(root) as ch:
            setup = ch.run("bash", "/autograder/source/setup.sh")
            assert setup.returncode == 0, (setup.stdout + setup.stderr)[-3000:]
            assert "grading dependencies installed, numpy 2.2.6" in setup.stdout
            assert (root / "opt" / "cnn-kit" / "venv" / "bin" / "python3").exists()
            scores = {}
            for kind in ("correct", "wrong"):
                _submission(root, kind)
                graded = ch.run("/autograder/source/run_autograder", timeout=600)
                assert graded.returncode == 0, graded.stderr[-3000:]
                data = json.loads((root / "autograder" / "results" / "results.json").read_text())
                assert all(t.get("name") != "Autograder failed" for t in data["tests"]), data
                scores[kind] = data
            assert scores["correct"]["score"] == 100
            assert 0 < scores["wrong"]["extra_data"]["item_scores"]["conv.conv2d"] < 10
            assert scores["correct"]["extra_data"]["student"] == "s1"
            print("isolation in the chroot:", scores["correct"]["extra_data"]["isolation"])
    finally:
        if not any(os.path.ismount(root / m) for m in ("proc", "dev")):  # never the host's /dev
            shutil.rmtree(root, ignore_errors=True)


def test_setup_stops_with_one_sentence_when_python_is_too_old(tmp_path):
    """No apt-get on PATH and a python3 that reports 3.8: setup.sh names the problem."""
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        f'exec {sys.executable} -c \'import sys; sys.version_info = (3, 8, 10, "final", 0); '
        'sys.version = "3.8.10"; exec(sys.stdin.read())\'\n'
    )
    fake.chmod(0o755)
    from autograder.lms.gradescope import TEMPLATES

    run = subprocess.run(
        [shutil.which("bash"), str(TEMPLATES / "setup.sh")],
        env={"PATH": str(bin_dir), "AUTOGRADER_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "needs Python 3.10 to 3.14" in run.stderr and "has Python 3.8.10" in run.stderr
    assert not (tmp_path / "venv").exists()
