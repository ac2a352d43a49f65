"""train_lecture_model's outcome on the digits data, and its early-stopping protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _part2 import OUTCOME, load_part2

from autograder.paths import KIT_ROOT

_RUN = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from _part2 import load_part2
p2 = load_part2()
x, y, x_test, y_test = p2.data.load_digits28()
seed = {seed}
weights = p2.data.lecture_model_init(np.random.default_rng(seed))
trained, history = p2.model.train_lecture_model(
    x, y, weights, p2.optimizers.Adam(learning_rate={learning_rate}), epochs={epochs},
    batch_size={batch_size}, rng=np.random.default_rng(seed + 1))
probs = p2.model.lecture_model_forward(x_test, trained)
accuracy = float(np.mean(probs.argmax(axis=1) == y_test.argmax(axis=1)))
print(json.dumps({{"loss": history["loss"], "accuracy": accuracy}}))
"""


@pytest.mark.slow
def test_the_fixed_short_run_reaches_the_stated_accuracy():
    """The run the README states (2 epochs, Adam(1e-3), batch 32), on one BLAS thread."""
    code = _RUN.format(tests=str(KIT_ROOT / "tests"), **OUTCOME)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KIT_ROOT), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loss"][1] < result["loss"][0] < 2.5
    assert result["accuracy"] >= OUTCOME["min_accuracy"], result


class _Callback:
    """Records the protocol; asks to stop after epoch ``stop_at``; restores ``restore``."""

    def __init__(self, stop_at, restore):
        self.calls, self.stop_at, self.restore = [], stop_at, restore

    def on_train_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self, epoch, logs, weights=None):
        self.calls.append((epoch, sorted(logs), len(weights)))
        return epoch == self.stop_at

    def on_train_end(self):
        self.calls.append("end")
        return self.restore


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_stops_and_restores_as_the_callback_says(restore):
    p2 = load_part2()
    x, y, x_val, y_val = p2.data.load_digits28()
    weights = p2.data.lecture_model_init(np.random.default_rng(0))
    best = [np.full(w.shape, 0.5) for w in weights]
    callback = _Callback(stop_at=1, restore=best if restore else None)
    trained, history = p2.model.train_lecture_model(
        x[:8],
        y[:8],
        weights,
        p2.optimizers.SGD(learning_rate=0.01),
        epochs=5,
        batch_size=8,
        rng=np.random.default_rng(1),
        validation_data=(x_val[:8], y_val[:8]),
        early_stopping=callback,
    )
    keys = ["loss", "val_accuracy", "val_loss"]
    assert callback.calls == ["begin", (0, keys, 6), (1, keys, 6), "end"]
    assert len(history["loss"]) == len(history["val_loss"]) == 2  # stopped after epoch 1
    if restore:
        assert all(np.array_equal(t, b) for t, b in zip(trained, best, strict=True))
    else:
        assert not np.array_equal(trained[4], weights[4])  # the trained, not the initial
