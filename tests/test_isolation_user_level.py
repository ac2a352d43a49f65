"""The ``user`` level: root without namespaces (a container that refuses ``unshare``) still runs
student code as a uid of its own (leased from the kit's range), never as root or ``nobody``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.cases import Call
from autograder.sandbox import isolation, slots
from autograder.sandbox.isolation import PROBE_UID, Isolation, Limits, command
from autograder.sandbox.runner import run_calls

SETPRIV = shutil.which("setpriv")


def test_root_without_namespaces_drops_to_another_user(monkeypatch):
    if SETPRIV is None:
        pytest.fail("setpriv (util-linux) is needed for the user level")
    calls = []

    def fake_runs(cmd):
        calls.append(cmd)
        return "--mount" not in cmd  # namespaces refused, setpriv (and the probe) allowed

    monkeypatch.setattr(isolation, "_runs", fake_runs)
    monkeypatch.setattr(isolation.os, "geteuid", lambda: 0)
    isolation.detect.cache_clear()
    try:
        iso = isolation.detect("user")
    finally:
        isolation.detect.cache_clear()
    assert iso.level == "user" and iso.own_uid and not iso.namespaces
    assert any(f"--reuid={PROBE_UID}" in c for c in calls[-1])  # not the shared nobody


def test_user_level_command_runs_python_as_the_leased_uid(tmp_path):
    iso = Isolation("user", setpriv=SETPRIV or "/usr/bin/setpriv")
    uid = slots.UID_BASE + 7
    argv, sites, inside = command(
        iso, tmp_path, ["{job}/worker.py", "{job}", "0", "5"], [], uid=uid
    )
    assert argv[0] == iso.setpriv and f"--reuid={uid}" in argv and "--no-new-privs" in argv
    assert sys.executable in argv and f"{tmp_path}/worker.py" in argv
    assert inside == str(tmp_path) and Path(sites[0]).is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="the user level is for a grader running as root")
def test_user_level_end_to_end(tmp_path):
    if SETPRIV is None or not isolation.nobody_can_run(SETPRIV):
        pytest.skip(
            "this interpreter lives where nobody cannot run it (e.g. pyenv under /root); "
            "detect() then falls back to process-group"
        )
    pkg = tmp_path / "cnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "conv.py").write_text("import os\ndef uid():\n    return os.getuid()\n")
    report = run_calls(
        pkg,
        [Call("call", "conv.uid")],
        ["conv.uid"],
        [False],
        limits=Limits(call_timeout=5),
        isolation=Isolation("user", setpriv=SETPRIV),
        modules=("conv",),
    )
    first = slots.domain_base(slots._slot_dir())
    assert first <= report.outcomes[0].value < first + slots.UID_COUNT
    assert np.isscalar(report.outcomes[0].value)
