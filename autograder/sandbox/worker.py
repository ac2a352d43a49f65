"""The sandbox worker: runs a student's ``cnn`` package, one call after another.

This file is copied into a throwaway job folder and run there, in its own process, as
``python -I -B worker.py JOB START``. It imports nothing from the kit and trusts nothing it
gets back from student code: results leave as ``.npy`` files (plain numeric arrays only) and
JSON, and the trusted grader decides what they are worth. Protocol, on file descriptor 3:
``import <module>`` before each module import, ``ready`` once imports are done, ``done <i>``
after call ``i`` has written ``out/<i>.json``.

Job folder: ``pkg/cnn/`` (the student's package), ``calls.json``, ``in/*.npy``, ``out/``.
"""

import importlib
import importlib.abc
import json
import os
import sys
import time
import traceback

JOB = os.path.abspath(sys.argv[1])
START = int(sys.argv[2])
_status = os.fdopen(int(sys.argv[3]), "w", buffering=1)
with open(os.path.join(JOB, "sites.json"), encoding="utf-8") as _f:
    sys.path.extend(json.load(_f))  # started with -I -S: only numpy's folder is added

import numpy as np  # noqa: E402

BANNED = (
    "tensorflow",
    "keras",
    "tf_keras",
    "torch",
    "jax",
    "jaxlib",
    "scipy.signal",
    "scipy.ndimage",
    "autograder",
    "_reference_cnn",
)
MAX_TEXT = 2000


class _Ban(importlib.abc.MetaPathFinder):
    """Refuse the frameworks that would compute the answers for the student."""

    def find_spec(self, name, path=None, target=None):
        for banned in BANNED:
            if name == banned or name.startswith(banned + "."):
                raise ImportError(
                    f"{name} may not be used in cnn/: the exercises are to be solved with numpy"
                )
        return None


def say(line):
    _status.write(line + "\n")
    _status.flush()


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$npy" in value:
            return np.load(os.path.join(JOB, value["$npy"]), allow_pickle=False)
        if "$rng" in value:
            return np.random.default_rng(value["$rng"])
        if "$tuple" in value:
            return tuple(decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {k: decode(v) for k, v in value["$dict"]}
    return value


class Encoder:
    """Turn a student's return value into JSON + ``.npy`` files, refusing anything else."""

    def __init__(self, index):
        self.index = index
        self.count = 0

    def npy(self, arr, key):
        name = f"out/{self.index}_{self.count}.npy"
        self.count += 1
        np.save(os.path.join(JOB, name), arr, allow_pickle=False)
        return {key: name}

    def __call__(self, value, depth=0):
        if depth > 20:
            return {"$unsupported": "a structure nested too deeply"}
        t = type(value)
        if t is np.ndarray:
            if value.dtype.kind not in "biuf" or value.dtype.fields is not None:
                return {"$unsupported": f"np.ndarray of dtype {value.dtype}"}
            return self.npy(value, "$npy")
        if isinstance(value, np.generic) and t.__module__ == "numpy":
            if np.dtype(t).kind not in "biuf":
                return {"$unsupported": f"numpy scalar {t.__name__}"}
            return self.npy(np.asarray(value), "$npscalar")
        if t in (bool, int, float, str) or value is None:
            if t is str and len(value) > MAX_TEXT:
                return {"$unsupported": "a very long str"}
            if t is int and abs(value) > 2**62:
                return {"$unsupported": "an int too large"}
            return value
        if t is tuple:
            return {"$tuple": [self(v, depth + 1) for v in value[:10000]]}
        if t is list:
            return [self(v, depth + 1) for v in value[:10000]]
        if t is dict:
            return {"$dict": [[str(k), self(v, depth + 1)] for k, v in list(value.items())[:1000]]}
        return {"$unsupported": _type_name(value)}


def _type_name(value):
    t = type(value)
    mod = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", "?")
    if isinstance(value, np.ndarray):
        return f"a subclass of np.ndarray ({name})"
    return f"{mod}.{name}" if mod and mod != "builtins" else name


def resolve(target):
    module, name = target.split(".")
    return getattr(importlib.import_module("cnn." + module), name)


def run_call(fn, args, kwargs):
    return fn(*args, **kwargs)


def run_optimizer(cls, args, kwargs):
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


def run_early_stopping(cls, args, kwargs):
    values, monitor = args
    es = cls(**kwargs)
    es.on_train_begin()
    epochs_run = 0
    weights = [np.zeros(2)]  # one array, updated in place like a model's: keep copies of it
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        weights[0][...] = epoch + 1.0
        if es.on_epoch_end(epoch, {monitor: value}, weights=weights):
            break
    restored = es.on_train_end()
    if restored is not None:
        try:
            restored = float(np.asarray(restored[0]).ravel()[0])
        except Exception:  # noqa: BLE001 - whatever it is, it is not the weights list
            restored = {"$unsupported": _type_name(restored)}
    best = es.best
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": es.stopped_epoch,
        "best": None if best is None else float(best),
        "best_epoch": es.best_epoch,
        "wait": es.wait,
        "restored": restored,
    }


PROGRAMS = {"call": run_call, "optimizer": run_optimizer, "early_stopping": run_early_stopping}


def arrays_in(value, found):
    if type(value) is np.ndarray:
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            arrays_in(v, found)
    return found


def run_one(index, spec, modules_ok):
    out = {"status": "ok"}
    enc = Encoder(index)
    module = spec["target"].split(".")[0]
    started = time.perf_counter()
    try:
        if module not in modules_ok:
            raise ImportError(f"cnn/{module}.py could not be imported")
        args = decode(spec["args"])
        kwargs = decode({"$dict": spec["kwargs"]})
        fn = resolve(spec["target"])
        result = PROGRAMS[spec["program"]](fn, args, kwargs)
        out["seconds"] = time.perf_counter() - started
        out["value"] = enc(result)
        if spec.get("mutation"):
            out["inputs_after"] = [
                enc.npy(np.array(a, copy=True), "$npy") for a in arrays_in((args, kwargs), [])
            ]
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        out = {
            "status": "error",
            "seconds": time.perf_counter() - started,
            "exception": {
                "type": type(exc).__name__,
                "value_error": isinstance(exc, ValueError),
                "not_implemented": isinstance(exc, NotImplementedError),
                "message": str(exc)[:MAX_TEXT] if _safe_str(exc) else "",
                "where": _student_frame(exc),
            },
        }
    path = os.path.join(JOB, "out", f"{index}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, allow_nan=True)
    say(f"done {index}")


def _safe_str(exc):
    try:
        str(exc)
        return True
    except BaseException:  # noqa: BLE001
        return False


def _student_frame(exc):
    """The last traceback line inside the student's package: 'conv.py:42 in conv2d'."""
    where = ""
    try:
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.sep + "cnn" + os.sep in frame.filename:
                where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    except BaseException:  # noqa: BLE001
        pass
    return where


def main():
    sys.meta_path.insert(0, _Ban())
    with open(os.path.join(JOB, "calls.json"), encoding="utf-8") as f:
        job = json.load(f)
    sys.path.append(os.path.join(JOB, "pkg"))
    modules_ok = set()
    import_errors = {}
    skip = set(job.get("skip_modules", []))
    for module in job["modules"]:
        if module in skip:
            import_errors[module] = "importing it ended the process"
            continue
        say(f"import {module}")
        try:
            importlib.import_module("cnn." + module)
            modules_ok.add(module)
        except BaseException as exc:  # noqa: BLE001
            import_errors[module] = f"{type(exc).__name__}: {str(exc)[:MAX_TEXT]}"
    if START == 0:
        with open(os.path.join(JOB, "out", "imports.json"), "w", encoding="utf-8") as f:
            json.dump(import_errors, f)
    say("ready")
    skip_calls = set(job.get("skip_calls", []))
    for index in range(START, len(job["calls"])):
        if index in skip_calls:
            continue
        run_one(index, job["calls"][index], modules_ok)
    say("finished")


if __name__ == "__main__":
    main()
