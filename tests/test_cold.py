"""The cold path (issue #16): what one fresh `grade` process loads and computes before it grades.

The costs themselves are measured by ``benchmarks/bench_throughput.py --cold-only`` (tests do
not time things); these tests check that each shortcut gives exactly what the long way gives.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from autograder import paths, static, topics
from autograder.audit.runner import _from_dict
from autograder.oracle import bank
from autograder.paths import KIT_ROOT
from autograder.results import CaseResult, SubmissionResult
from autograder.results import TestResult as Entry


def test_grade_help_and_config_import_no_numpy_and_no_topic_code():
    code = (
        "import sys\n"
        "from autograder.cli import main\n"
        "from autograder.config import load_config, example_config\n"
        "load_config(None); example_config()\n"
        "heavy = [m for m in ('numpy', 'autograder.topics', 'autograder.engine', 'yaml')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


@pytest.mark.parametrize("part", paths.PARTS)
def test_default_points_from_the_topic_files_equal_the_topics_own(part):
    light, scanned = paths.part_points(part), topics.part_points(part)
    assert list(light.items()) == list(scanned.items())  # same order, same values
    assert [type(v) for v in light.values()] == [type(v) for v in scanned.values()]


def _np_load(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _same_arrays(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs)
    for key, a in ours.items():
        b = theirs[key]
        assert (a.dtype, a.shape, a.flags.f_contiguous) == (b.dtype, b.shape, b.flags.f_contiguous)
        assert a.tobytes("A") == b.tobytes("A") and a.flags.writeable, key


@pytest.mark.parametrize("name", ["bank.npz", "bank_backward.npz"])
def test_the_fast_npz_reader_gives_numpys_arrays_for_the_kits_banks(name):
    _same_arrays(bank.read_npz(bank.DATA_DIR / name), _np_load(bank.DATA_DIR / name))


def test_the_fast_npz_reader_leaves_unusual_arrays_to_numpy(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(
        path,
        scalar=np.float64(3.5),
        fortran=np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        text=np.array(["x", "yz"]),
        empty=np.zeros((0, 3), np.int8),
        complex=np.ones(4, np.complex128),
        flags=np.array([True, False]),
        big_endian=np.arange(3, dtype=">i4"),
    )
    _same_arrays(bank.read_npz(path), _np_load(path))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):  # never unpickled
        bank.read_npz(pickled)


def test_a_part_s_bank_alone():
    forward = bank.load_bank(parts=("forward",))
    backward = bank.load_bank(parts=("backward",))
    both = bank.load_bank()
    assert forward and backward
    assert [c.name for c in both] == [c.name for c in forward + backward]
    assert {c.item.split(".")[0] for c in backward} <= set(paths.PART_MODULES["backward"])


_TRICKS = [
    "import os",
    "import torch",
    "import os, jax.numpy as jnp",
    "from scipy import signal",
    "from tensorflow import keras",
    "x = 'ke' 'ras'",
    "x = ('ke'  # c\n 'ras')",
    "x = ('ke'  # c\r 'ras')",
    "x = f'{y}torch'",
    "x = f'{y:jax}'",
    "x = f'{y} keras '",
    "x = '\\x74orch'",
    "x = 'to' f'rch'",
    "x = '''torch'''",
    "x = b'keras'",
    "x = '\x1ckeras'",
    "# keras.layers.Conv2D is the counterpart",
    '"""Like keras.layers.Dense; see torch.nn too."""',
    "def f(keras):\n    return keras",
    "y = scipy_signal = 1",
    "x = 'scipy' '.signal'",
    "x = __import__('jax')",
    "x = 'tf_keras'",
    "import keras_cv",
]


def test_the_static_prefilter_never_hides_what_the_full_scan_finds():
    rng = random.Random(20261202)
    sources = [t.encode() for t in _TRICKS]
    for _ in range(3000):
        parts = rng.sample(_TRICKS, rng.randint(1, 4))
        sources.append("\n".join(parts).encode())
    sources += [p.read_bytes() for p in (KIT_ROOT / "solutions" / "cnn").glob("*.py")]
    sources += [p.read_bytes() for p in (KIT_ROOT / "corpus").rglob("*.py")]
    clean = 0
    for source in sources:
        if static.surely_clean(source):
            clean += 1
            assert _full_scan(source) == [], source
    assert clean > 100  # the prefilter does clear ordinary code (the solutions among it)
    solutions = (KIT_ROOT / "solutions" / "cnn").glob("*.py")
    assert all(static.surely_clean(p.read_bytes()) for p in solutions)


def _full_scan(source: bytes) -> list[str]:
    """``static._scan`` without its prefilter."""
    original = static.surely_clean
    static.surely_clean = lambda _source: False
    try:
        return static._scan(source)
    finally:
        static.surely_clean = original


def test_a_result_sent_back_by_a_grading_process_is_the_same_result():
    result = SubmissionResult(
        "ada",
        "x/ada",
        tests=[
            Entry(
                "conv.conv2d",
                "hidden",
                7.5,
                "after_due_date",
                cases=[CaseResult("conv.conv2d", "c1", "hidden", "keras", False, "m", "flip")],
                zero_reason="",
                notes=["slow"],
            )
        ],
        problems=["p"],
        hidden_problems=["h"],
        seconds=1.5,
        metadata={"k": 1},
        fingerprint="f",
    )
    back = _from_dict(asdict(result))
    assert back == result and back.score == result.score


def test_kit_digest_files_are_the_rglob_selection():
    """``engine._engine_files`` (one os.walk) lists what the rglob definition lists."""
    from autograder import engine

    package = KIT_ROOT / "autograder"
    wanted = {
        p
        for p in package.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and (package / "audit") not in p.parents
        and not (p.parent == package and p.name in engine.REPORT_ONLY)
        and (p.suffix in (".py", ".toml") or (package / "oracle" / "data") in p.parents)
    }
    found = engine._engine_files(package)
    assert len(found) == len(set(found)) and set(found) == wanted


def test_a_gc_pause_ends_once_and_only_when_outermost():
    import gc

    from autograder import GcPause

    assert gc.isenabled()
    try:
        outer = GcPause()
        inner = GcPause()
        assert not gc.isenabled()
        inner.end()  # an outer pause is on: nothing yet
        assert not gc.isenabled()
        outer.end()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        outer.end()  # the second time: nothing
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
