"""The reference lecture model vs Keras: forward pass on a batch of 64, side by side.

    python benchmarks/bench_model.py [--batch 64] [--repeats 30]

Builds the lecture's Keras ``Sequential`` (the slide's model), gives it random weights with
non-zero biases, and times, after a warm-up, the median of REPEATS runs of
``solutions/cnn/model.lecture_model_forward(x, weights)`` (float32 and float64 inputs) and of
``model.predict(x, batch_size=BATCH)`` on the same images and weights; also the reference
``conv2d`` and ``max_pool2d`` alone on the model's layer shapes (they are vectorised: one
matmul per kernel tap, one ``np.maximum`` per pool offset). The two forward passes must agree
(float32 tolerance). Writes benchmarks/results/model-*.json.

This script imports TensorFlow (it measures Keras); grading never does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from _common import REPO, machine, median, table, write_results


def lecture_model(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def timed(fn, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    import keras

    from autograder.reference import load_solutions

    sol = load_solutions()
    keras.utils.set_random_seed(0)
    model = lecture_model(keras)
    rng = np.random.default_rng(0)
    weights = model.get_weights()
    for i in (1, 3, 5):
        weights[i] = rng.normal(0, 0.1, size=weights[i].shape).astype(np.float32)
    model.set_weights(weights)
    w32 = [np.asarray(w, dtype=np.float32) for w in model.get_weights()]
    w64 = [w.astype(np.float64) for w in w32]
    x32 = rng.uniform(size=(args.batch, 28, 28, 1)).astype(np.float32)
    x64 = x32.astype(np.float64)

    theirs = model.predict(x32, batch_size=args.batch, verbose=0)
    for label, ours in (
        ("float32", sol.model.lecture_model_forward(x32, w32)),
        ("float64", sol.model.lecture_model_forward(x64, w64)),
    ):
        err = float(np.max(np.abs(ours - theirs)))
        if err > 1e-5:
            sys.exit(f"the reference forward pass ({label}) differs from Keras by {err:g}")

    fwd32 = timed(lambda: sol.model.lecture_model_forward(x32, w32), args.repeats)
    fwd64 = timed(lambda: sol.model.lecture_model_forward(x64, w64), args.repeats)
    predict = timed(lambda: model.predict(x32, batch_size=args.batch, verbose=0), args.repeats)
    call = timed(lambda: model(x32, training=False), args.repeats)

    h1 = sol.pooling.max_pool2d(sol.activations.relu(sol.conv.conv2d(x64, w64[0], w64[1])), 2)
    layers = {
        "conv2d 1 (N,28,28,1)*(3,3,1,32)": lambda: sol.conv.conv2d(x64, w64[0], w64[1]),
        "conv2d 2 (N,13,13,32)*(3,3,32,64)": lambda: sol.conv.conv2d(h1, w64[2], w64[3]),
        "max_pool2d (N,26,26,32)": lambda: sol.pooling.max_pool2d(
            np.empty((args.batch, 26, 26, 32)), 2
        ),
        "avg_pool2d (N,26,26,32)": lambda: sol.pooling.avg_pool2d(
            np.empty((args.batch, 26, 26, 32)), 2
        ),
    }
    layer_times = {name: median(timed(fn, args.repeats)) for name, fn in layers.items()}

    m32, m64, mp, mc = median(fwd32), median(fwd64), median(predict), median(call)
    result = {
        "machine": machine(),
        "args": vars(args),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "median_seconds": {
            "reference_forward_float32": m32,
            "reference_forward_float64": m64,
            "keras_predict": mp,
            "keras_model_call": mc,
            **layer_times,
        },
        "ratios": {
            "reference_float32_over_predict": m32 / mp,
            "reference_float64_over_predict": m64 / mp,
            "target reference/predict <= 1.5": max(m32, m64) / mp <= 1.5,
        },
    }
    rows = [
        (f"reference lecture_model_forward, float32, batch {args.batch}", f"{m32 * 1e3:.1f} ms"),
        (f"reference lecture_model_forward, float64, batch {args.batch}", f"{m64 * 1e3:.1f} ms"),
        (f"keras model.predict(batch_size={args.batch})", f"{mp * 1e3:.1f} ms"),
        ("keras model(x) (no predict loop)", f"{mc * 1e3:.1f} ms"),
        *((f"  {name}", f"{t * 1e3:.1f} ms") for name, t in layer_times.items()),
        ("reference float32 / predict", f"{m32 / mp:.2f}x  (target <= 1.5x)"),
        ("reference float64 / predict", f"{m64 / mp:.2f}x  (target <= 1.5x)"),
    ]
    print(table(rows))
    path = write_results("model", result)
    print(f"\nresults: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
