"""Given code (nothing to fill in): the digits data and the lecture model's initial weights.

``load_digits28`` reads ``digits28.npz``, shipped next to this file: the 1,797 8x8 UCI
handwritten digits as distributed with scikit-learn, upscaled to 28x28 (bilinear), so that the
lecture's MNIST-shaped network trains on them without a download. ``lecture_model_init`` draws
the initial weights the way Keras initialises the lecture's ``Sequential`` model.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from . import _checks

DATA_FILE = Path(__file__).with_name("digits28.npz")

# Shapes of ``model.get_weights()`` for the lecture's model, in order (as in ``cnn.model``).
_SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))


def load_digits28(path=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits data, split once and for all: ``(x_train, y_train, x_test, y_test)``.

    - ``x_train (1437, 28, 28, 1)``, ``x_test (360, 28, 28, 1)``: float64 grey levels in [0, 1]
      (0 = background), channels-last like ``keras.Input((28, 28, 1))``;
    - ``y_train (1437, 10)``, ``y_test (360, 10)``: float64 one-hot labels (digit ``d`` is
      column ``d``), as ``loss="categorical_crossentropy"`` expects.

    The file stores the 28x28 images as uint8 (``round(255 * v)``) and the labels as digits;
    ``scripts/build_digits28.py`` in the kit rebuilds it from scikit-learn's copy.

    Args:
        path: another copy of ``digits28.npz``. Defaults to the file next to this module.
    """
    path = DATA_FILE if path is None else Path(path)
    if not path.is_file():
        raise ValueError(
            f"The digits data file {path} is missing: it ships with the handout, next to "
            "cnn/data.py (digits28.npz)."
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    x_train, y_train, x_test, y_test = arrays

    def images(u8: np.ndarray) -> np.ndarray:
        return (u8.astype(np.float64) / 255.0).reshape(-1, 28, 28, 1)

    def one_hot(labels: np.ndarray) -> np.ndarray:
        return np.eye(10)[labels.astype(np.int64)]

    return images(x_train), one_hot(y_train), images(x_test), one_hot(y_test)


def lecture_model_init(rng=None) -> list[np.ndarray]:
    """Initial weights of the lecture model, in ``model.get_weights()`` order.

    As Keras initialises ``Conv2D`` and ``Dense`` (``kernel_initializer="glorot_uniform"``,
    ``bias_initializer="zeros"``): each kernel is drawn uniformly from ``[-limit, limit]`` with
    ``limit = sqrt(6 / (fan_in + fan_out))``, where a conv kernel ``(KH, KW, C_in, C_out)`` has
    ``fan_in = KH*KW*C_in`` and ``fan_out = KH*KW*C_out``, a dense kernel ``(in, units)``
    ``fan_in = in`` and ``fan_out = units``; biases are zero. The draws are numpy's (the same
    distribution as Keras, not Keras's random numbers).

    Args:
        rng: a ``np.random.Generator`` or an int seed (``None``: an unseeded generator).

    Returns:
        ``[k1 (3, 3, 1, 32), b1 (32,), k2 (3, 3, 32, 64), b2 (64,), k3 (1600, 10), b3 (10,)]``,
        float64.
    """
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        rng = np.random.default_rng(int(rng))
    rng = _checks.generator_or_none(rng)
    if rng is None:
        rng = np.random.default_rng()
    weights = []
    for shape in _SHAPES:
        if len(shape) == 1:
            weights.append(np.zeros(shape))
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=shape))
    return weights
