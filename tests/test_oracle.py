"""The shipped Keras bank: loads without TensorFlow, agrees with the reference solutions,
records its provenance, covers every item, and is reproduced bitwise by live Keras."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from autograder.cases import Call
from autograder.compare import judge
from autograder.oracle import load_bank, provenance
from autograder.oracle.bank import PROVENANCE_FIELDS
from autograder.oracle.catalog import ITEMS
from autograder.paths import KIT_ROOT
from autograder.sandbox.inprocess import execute
from autograder.sandbox.runner import Outcome


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def test_bank_loads_without_tensorflow():
    code = (
        "import sys\n"
        "from autograder.oracle import load_bank, provenance\n"
        "cases = load_bank()\n"
        "provenance()\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print(len(cases))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=KIT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_bank_cases_are_hidden_keras_cases(bank):
    for case in bank:
        assert case.group == "hidden" and case.oracle == "keras"
        assert case.call.target == case.item


def test_every_contract_item_has_at_least_three_bank_cases(bank):
    counts = Counter(case.item for case in bank)
    assert set(counts) == set(ITEMS), set(ITEMS) ^ set(counts)
    thin = {item: n for item, n in counts.items() if n < 3}
    assert not thin, f"items with fewer than 3 bank cases: {thin}"
    assert len(ITEMS) == 37


def test_provenance_is_complete_and_says_cpu():
    prov = provenance()
    missing = [f for f in PROVENANCE_FIELDS if prov.get(f) in (None, "")]
    assert not missing, f"provenance lacks {missing}"
    assert prov["device"] == "CPU"
    assert prov["tf32_enabled"] is False
    assert prov["dtype"] == prov["floatx"] == "float32"
    assert prov["batch_sizes"]["model.lecture_model_forward"] >= 1


def test_bank_data_is_small():
    from autograder.oracle.bank import BANK_JSON, BANK_NPZ, DATA_DIR

    size = (DATA_DIR / BANK_JSON).stat().st_size + (DATA_DIR / BANK_NPZ).stat().st_size
    assert size < 1_000_000, size


# ---------------------------------------------------------------------------------------------
# The reference solutions against every bank case (what the sandbox worker would do, in-process)
# ---------------------------------------------------------------------------------------------
def run_in_process(package, call: Call) -> Outcome:
    """Make ``call`` in ``package`` through the worker's own code, decoded like the runner."""
    return execute(package, call)


def test_reference_solutions_pass_every_bank_case(sol, bank):
    """The proof that the reference solutions agree with Keras on the whole bank."""
    failures = []
    for case in bank:
        verdict = judge(case, run_in_process(sol, copy.deepcopy(case.call)))
        if not verdict.passed:
            failures.append(f"{case.item} [{case.name}] {case.params}: {verdict.message}")
    assert not failures, f"{len(failures)} bank cases fail:\n" + "\n".join(failures)


def test_stubs_fail_every_bank_case(stubs, bank):
    """The stubs raise NotImplementedError, so the bank cannot be passed by doing nothing."""
    for case in bank:
        verdict = judge(case, run_in_process(stubs, copy.deepcopy(case.call)))
        assert not verdict.passed, case.name


@pytest.mark.keras
def test_verify_bank_reproduces_every_case_within_float32_rounding():
    from autograder.oracle import verify_bank
    from autograder.oracle.verify import REPRO_RTOL

    rounding: list[float] = []
    problems = verify_bank(rounding=rounding)
    assert problems == [], "\n".join(problems)
    assert all(0 < r <= REPRO_RTOL for r in rounding)


def test_verify_tolerates_float32_rounding_but_not_more():
    """Across CPUs Keras's float32 results differ by a few ulps; a real change is still caught."""
    from autograder.oracle.verify import REPRO_RTOL, _differences

    want = np.linspace(-3.0, 4.0, 12, dtype=np.float32)
    near = want + np.float32(2 * np.finfo(np.float32).eps * 4.0)
    problems: list[str] = []
    rounding: list[float] = []
    _differences(near, want, "expected", problems, rounding)
    assert problems == [] and 0 < rounding[0] <= REPRO_RTOL
    far = want.copy()
    far[3] += np.float32(1e-4)
    _differences(far, want, "expected", problems)
    assert len(problems) == 1 and "more than float32 rounding" in problems[0]
    _differences(np.array([1, 2]), np.array([1, 3]), "indices", problems)
    assert "1 of 2 values differ" in problems[-1]
    _differences(0.5 + 1e-3, 0.5, "best", problems)
    assert "diff" in problems[-1]
