"""The lecture's network, end to end, built only from your own functions.

```
Input(28, 28, 1)
-> Conv2D(32, 3, activation="relu")      (N, 26, 26, 32)   kernel (3, 3, 1, 32),  bias (32,)
-> MaxPooling2D(2)                       (N, 13, 13, 32)
-> Conv2D(64, 3, activation="relu")      (N, 11, 11, 64)   kernel (3, 3, 32, 64), bias (64,)
-> MaxPooling2D(2)                       (N, 5, 5, 64)     (floor: row/col 11 is dropped)
-> Flatten()                             (N, 1600)
-> Dropout(0.5)                          (N, 1600)         the identity unless training
-> Dense(10, activation="softmax")       (N, 10)           kernel (1600, 10), bias (10,)
```
34,826 parameters in all (320 + 18,496 + 16,010).
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .activations import relu, softmax
from .conv import conv2d
from .pooling import max_pool2d
from .regularization import dropout
from .training import dense, flatten

# Shapes of ``model.get_weights()`` for the lecture's model, in order.
LECTURE_WEIGHT_SHAPES = ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,))
_WEIGHT_NAMES = (
    "conv1 kernel",
    "conv1 bias",
    "conv2 kernel",
    "conv2 bias",
    "dense kernel",
    "dense bias",
)


def lecture_model_forward(
    x: np.ndarray,
    weights,
    training: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Class probabilities of the lecture's CNN (see the module docstring), like ``model.predict``.

    Shapes: ``x (N, 28, 28, 1)`` -> ``(N, 10)``; every row sums to 1.
    The layers, in order (the lecture's ``keras.Sequential``)::

        Conv2D(32, (3, 3), activation="relu")   kernel k1 (3, 3, 1, 32),  bias b1 (32,)
        MaxPooling2D((2, 2))
        Conv2D(64, (3, 3), activation="relu")   kernel k2 (3, 3, 32, 64), bias b2 (64,)
        MaxPooling2D((2, 2))
        Flatten()                               channels-last (C order) -> (N, 1600)
        Dropout(0.5)                            only when ``training``
        Dense(10, activation="softmax")         kernel k3 (1600, 10),     bias b3 (10,)

    Use your own ``conv2d``, ``max_pool2d``, ``relu``, ``flatten``, ``dropout``, ``dense`` and
    ``softmax`` (already imported here). Keras: ``model.predict(x)`` of the lecture's
    ``Sequential`` model (dropout is off at inference).

    Args:
        x: a batch of 28x28 grey-scale images, ``(N, 28, 28, 1)``, channels-last.
        weights: ``model.get_weights()``: the 6 arrays ``[k1, b1, k2, b2, k3, b3]`` with the
            shapes ``LECTURE_WEIGHT_SHAPES``.
        training: apply dropout (as during ``fit``). Defaults to `False`.
        rng: ``np.random.Generator`` for the dropout mask when ``training``. Defaults to `None`.
    """
    x = _checks.shape_is(_checks.as_array(x, "x"), (None, 28, 28, 1), "x")
    weights = _checks.array_list(weights, "weights")
    if len(weights) != len(LECTURE_WEIGHT_SHAPES):
        raise ValueError(
            "`weights` must be the 6 arrays of model.get_weights() "
            f"(shapes {LECTURE_WEIGHT_SHAPES}). Received: {len(weights)} arrays."
        )
    weights = [
        _checks.shape_is(
            _checks.as_array(w, f"weights[{i}] ({name})"), shape, f"weights[{i}] ({name})"
        )
        for i, (w, shape, name) in enumerate(
            zip(weights, LECTURE_WEIGHT_SHAPES, _WEIGHT_NAMES, strict=True)
        )
    ]
    training = _checks.boolean(training, "training")
    rng = _checks.generator_or_none(rng)
    k1, b1, k2, b2, k3, b3 = weights
    # BEGIN STUDENT CODE: chain your functions layer by layer, as listed above
    layers = [
        lambda h: relu(conv2d(h, weights[0], weights[1])),
        lambda h: max_pool2d(h, 2, 2),
        lambda h: relu(conv2d(h, weights[2], weights[3])),
        lambda h: max_pool2d(h, 2, 2),
        flatten,
        lambda h: dropout(h, 0.5, training, rng),
        lambda h: softmax(dense(h, weights[4], weights[5])),
    ]
    for layer in layers:
        x = layer(x)
    return x
    # END STUDENT CODE
