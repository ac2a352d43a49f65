"""The part-2 outcome run: the reference ``train_lecture_model`` on the digits data, one core.

    python benchmarks/bench_train.py [--epochs 2] [--seeds 0 1 2]

For each seed ``s``: initial weights ``cnn.data.lecture_model_init(default_rng(s))``,
``Adam(learning_rate=1e-3)``, batch 32, shuffled with ``default_rng(s + 1)``, dropout on
(``training=True``), no L2, on the 1,437 training digits; then the held-out accuracy on the 360
test digits (``lecture_model_forward``). BLAS runs on one thread (``OPENBLAS_NUM_THREADS=1``,
as in the grading sandbox), so the CPU seconds are one core's. Reports wall and CPU seconds,
the loss curve and the accuracy per seed; writes benchmarks/results/train-*.json.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # one BLAS thread, set before numpy is imported
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np
from _common import machine, table, write_results

from autograder.paths import SOLUTIONS_DIR
from autograder.reference import load_package

MODULES = ("activations", "conv", "pooling", "regularization", "training", "optimizers")


def run(seed: int, epochs: int) -> dict:
    pkg = load_package(SOLUTIONS_DIR, "_bench_cnn", modules=(*MODULES, "backward", "data", "model"))
    x, y, x_test, y_test = pkg.data.load_digits28()
    weights = pkg.data.lecture_model_init(np.random.default_rng(seed))
    wall, cpu = time.perf_counter(), time.process_time()
    trained, history = pkg.model.train_lecture_model(
        x,
        y,
        weights,
        pkg.optimizers.Adam(learning_rate=1e-3),
        epochs=epochs,
        batch_size=32,
        rng=np.random.default_rng(seed + 1),
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    probs = pkg.model.lecture_model_forward(x_test, trained)
    accuracy = float(np.mean(probs.argmax(axis=1) == y_test.argmax(axis=1)))
    return {
        "seed": seed,
        "wall_s": wall,
        "cpu_s": cpu,
        "loss": history["loss"],
        "accuracy": accuracy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    results = [run(seed, args.epochs) for seed in args.seeds]
    rows = [
        (
            f"seed {r['seed']}",
            f"accuracy {r['accuracy']:.4f}  cpu {r['cpu_s']:.1f} s  wall {r['wall_s']:.1f} s  "
            f"loss {[round(v, 3) for v in r['loss']]}",
        )
        for r in results
    ]
    print(table(rows))
    path = write_results("train", {"machine": machine(), "epochs": args.epochs, "runs": results})
    print(f"written {path}")


if __name__ == "__main__":
    main()
