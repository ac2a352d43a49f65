"""The shipped Keras bank: loads without TensorFlow, agrees with the reference solutions,
records its provenance, covers every item, and is reproduced bitwise by live Keras."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest

from autograder.cases import Call, Rng
from autograder.compare import judge
from autograder.oracle import load_bank, provenance
from autograder.oracle.bank import PROVENANCE_FIELDS
from autograder.oracle.specs import ITEMS
from autograder.paths import KIT_ROOT
from autograder.sandbox.runner import NpScalar, Outcome, arrays_in


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
def _materialise(value: Any) -> Any:
    """What the worker hands the student: fresh arrays, Rng -> np.random.Generator."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, Rng):
        return np.random.default_rng(value.seed)
    if isinstance(value, tuple):
        return tuple(_materialise(v) for v in value)
    if isinstance(value, list):
        return [_materialise(v) for v in value]
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    return value


def _as_decoded(value: Any) -> Any:
    """A return value as the runner would decode it (numpy scalars -> NpScalar)."""
    if type(value) is np.ndarray:
        return np.array(value, copy=True)
    if isinstance(value, np.generic):
        return NpScalar(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_as_decoded(v) for v in value)
    if isinstance(value, list):
        return [_as_decoded(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _as_decoded(v) for k, v in value.items()}
    return value


def _run_optimizer(cls, args, kwargs):
    params, grads = args
    opt = cls(**kwargs)
    trajectory = [[] for _ in params]
    iterations = []
    for step_grads in grads:
        opt.step(params, step_grads)
        for k, p in enumerate(params):
            trajectory[k].append(np.array(p, dtype=np.float64, copy=True))
        iterations.append(opt.iterations)
    return {"params": [np.stack(t) for t in trajectory], "iterations": iterations}


def _run_early_stopping(cls, args, kwargs):
    values, monitor = args
    es = cls(**kwargs)
    es.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        if es.on_epoch_end(epoch, {monitor: value}, weights=[np.full(2, epoch + 1.0)]):
            break
    restored = es.on_train_end()
    if restored is not None:
        restored = float(np.asarray(restored[0]).ravel()[0])
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": es.stopped_epoch,
        "best": None if es.best is None else float(es.best),
        "best_epoch": es.best_epoch,
        "wait": es.wait,
        "restored": restored,
    }


def run_in_process(package, call: Call) -> Outcome:
    """Make ``call`` in ``package`` like worker.py does and decode it like the runner."""
    args = _materialise(call.args)
    kwargs = _materialise(call.kwargs)
    module, name = call.target.split(".")
    target = getattr(getattr(package, module), name)
    started = time.perf_counter()
    try:
        if call.program == "call":
            result = target(*args, **kwargs)
        elif call.program == "optimizer":
            result = _run_optimizer(target, args, kwargs)
        else:
            result = _run_early_stopping(target, args, kwargs)
    except Exception as exc:  # noqa: BLE001 - reported as the worker would
        return Outcome(
            "error",
            exception={
                "type": type(exc).__name__,
                "value_error": isinstance(exc, ValueError),
                "not_implemented": isinstance(exc, NotImplementedError),
                "message": str(exc),
            },
        )
    inputs_after = [np.array(a, copy=True) for a in arrays_in((args, kwargs))]
    return Outcome(
        "ok",
        value=_as_decoded(result),
        inputs_after=inputs_after,
        seconds=time.perf_counter() - started,
    )


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
def test_verify_bank_reproduces_every_case_bitwise():
    from autograder.oracle import verify_bank

    started = time.perf_counter()
    problems = verify_bank()
    assert problems == [], "\n".join(problems)
    assert time.perf_counter() - started < 60
