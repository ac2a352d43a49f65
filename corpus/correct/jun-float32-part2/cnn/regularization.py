"""Ways to prevent overfitting: dropout, the L2 penalty and early stopping (Keras semantics)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import _checks


def dropout(
    x: np.ndarray,
    rate: float,
    training: bool = False,
    rng: np.random.Generator | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Inverted dropout, like ``keras.layers.Dropout(rate)(x, training=training)``.

    ```
    training is False (or rate == 0):  y = x                      (the identity)
    training is True:                  keep = mask  or  rng.random(x.shape) >= rate
                                       y = x / (1 - rate)  where keep,  0  elsewhere
    ```
    ``rate`` is the probability of **dropping** a unit (not of keeping it), as in Keras and in
    the lecture ("the fraction of the units that are zeroed out"). The kept units are scaled by
    ``1 / (1 - rate)`` during training, so that the expected output equals ``x`` and nothing
    has to change at test time ("inverted" dropout). The lecture's example
    ``[1.3, 0.4, 0.5, 1.5, 3.2, 0.9] -> [1.3, 0, 0, 1.5, 3.2, 0]`` shows which units are
    zeroed but leaves out the scaling; Keras (graded) would output
    ``[2.6, 0, 0, 3.0, 6.4, 0]`` for that mask with rate 0.5.

    Args:
        x: array of any shape.
        rate: drop probability, in [0, 1) (checked even when ``training`` is False).
        training: apply dropout (True) or return ``x`` unchanged (False). Defaults to `False`.
        rng: ``np.random.Generator`` used to draw the mask when ``mask`` is None
            (a fresh ``np.random.default_rng()`` if None). Defaults to `None`.
        mask: boolean array of the shape of ``x``, True = keep; replaces the random draw.
            A non-boolean mask is read as ``mask != 0``. Defaults to `None`.

    Returns:
        ``np.ndarray`` of the shape of ``x`` (``x`` itself is allowed for the identity).
    """
    x = _checks.as_array(x, "x")
    rate = _checks.number_in_range(rate, "rate", 0.0, 1.0, high_open=True)
    training = _checks.boolean(training, "training")
    rng = _checks.generator_or_none(rng)
    if mask is not None:
        mask = np.asarray(mask)
        _checks.same_shape(x, mask, "x", "mask")
    # BEGIN STUDENT CODE: identity unless training; keep where mask is True (or U >= rate)
    if not training or rate == 0.0:
        return x
    if mask is None:
        if rng is None:
            rng = np.random.default_rng()
        keep = rng.random(x.shape) >= rate
    else:
        keep = mask != 0
    return np.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype, copy=False)
    # END STUDENT CODE


def l2_penalty(weights, l2: float = 0.01) -> float:
    """The L2 penalty ``l2 * sum(w**2)`` of an array or list of arrays (``keras.regularizers.L2``).

    ```
    penalty = l2 * sum over all arrays and all entries of w**2      # no 1/2, no 1/N
    ```
    This is the lecture's ``lambda * (sum v_ij**2 + sum w_j**2)``; some textbooks use
    ``lambda/2`` (or ``lambda/2m``), Keras does not.

    Args:
        weights: one array or a list/tuple of arrays.
        l2: the factor lambda >= 0. Defaults to `0.01`.

    Returns:
        The penalty as a Python ``float``.
    """
    l2 = _checks.non_negative_number(l2, "l2")
    if isinstance(weights, (list, tuple)):
        arrays = [_checks.as_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    else:
        arrays = [_checks.as_array(weights, "weights")]
    # BEGIN STUDENT CODE: sum the squares of every array, times l2; return a float
    return float(l2 * sum(float(np.sum(np.square(w))) for w in arrays))
    # END STUDENT CODE


def l2_grad(w: np.ndarray, l2: float = 0.01) -> np.ndarray:
    """Gradient of the L2 penalty ``l2 * sum(w**2)`` (:func:`l2_penalty`) with respect to ``w``.

    The gradient of ``keras.regularizers.L2(l2)(w)``: an array of the shape of ``w``, whose
    element ``[i]`` is the derivative of the penalty with respect to ``w[i]``. Keras's penalty has
    **no 1/2** in front, so nothing cancels the factor that the derivative of a square brings
    (the lecture's weight-decay term). Defaults to `l2=0.01`.

    Hint: only one term of the sum depends on ``w[i]``; check your answer against a finite
    difference of :func:`l2_penalty`.
    """
    w = _checks.as_array(w, "w")
    l2 = _checks.non_negative_number(l2, "l2")
    # BEGIN STUDENT CODE: one line of numpy
    return 2.0 * l2 * w
    # END STUDENT CODE


def _copy_weights(weights):
    """Copies of the arrays in ``weights`` (a list/tuple of arrays or one array); None stays None.

    Use it to store weights: the caller keeps training (changing) its own arrays.
    """
    if weights is None:
        return None
    if isinstance(weights, (list, tuple)):
        return [np.array(w, copy=True) for w in weights]
    return np.array(weights, copy=True)


def _auto_mode(monitor: str) -> str:
    """The direction 'min' or 'max' that ``mode='auto'`` picks for ``monitor``."""
    name = monitor.removeprefix("val_")
    if name.endswith(("loss", "mse", "mae")):
        return "min"
    if any(part in name for part in ("acc", "auc", "precision", "recall")):
        return "max"
    raise ValueError(
        "`mode='auto'` cannot tell whether `monitor` should go down or up: use mode='min' or "
        f"mode='max'. Received: monitor={monitor!r}."
    )


class EarlyStopping:
    """Stop training when a monitored metric stops improving: ``keras.callbacks.EarlyStopping``.

    Use it like Keras's ``fit`` does::

        es = EarlyStopping(patience=2, restore_best_weights=True)
        es.on_train_begin()
        for epoch in range(epochs):
            ...train one epoch...
            if es.on_epoch_end(epoch, {"val_loss": val_loss}, weights):
                break                                  # epochs run: es.stopped_epoch + 1
        best = es.on_train_end()                       # weights to restore, or None

    The rules that decide the grade (Keras's; ``epoch`` is 0-based):

    - **Monitored epochs.** An epoch whose ``logs`` lack ``monitor``, or with
      ``epoch < start_from_epoch``, is ignored entirely: no state changes, never a stop.
    - **Improvement** is strict and relative to the last accepted ``best``: in mode 'min' the
      value must be below ``best`` by more than ``|min_delta|`` ('max': above by more). Ties are
      not improvements; the first monitored epoch always improves. So tiny gains do not add up.
    - **wait** counts the monitored epochs since the last reset, and **grows before the
      improvement test**; an improving epoch records ``best`` / ``best_epoch`` and resets
      ``wait`` to 0, but only if it also beats ``baseline`` (when one is given). An improving
      epoch never stops training.
    - **Stopping:** a monitored epoch that does not improve stops training (returns True and sets
      ``stopped_epoch``) once ``wait >= patience``, except at epoch 0. Hence ``patience=0``
      behaves like ``patience=1``.
    - **restore_best_weights:** keep copies of the weights of the best epoch (from the first
      monitored epoch on); ``on_train_end`` returns them whether or not training stopped early
      (Keras 3 restores them then too), and None without that option or when no epoch was
      monitored.

    Hint: write the improvement test as a small function of (value, reference) first; then the
    order of the steps in ``on_epoch_end`` is what the rules above decide.

    Args:
        monitor: the key of ``logs`` to watch. Defaults to `"val_loss"`.
        min_delta: smallest change that counts as an improvement (its sign is ignored).
            Defaults to `0.0`.
        patience: integer >= 0, see ``wait`` above. Defaults to `0`.
        mode: ``"min"``, ``"max"`` or ``"auto"``. ``"auto"`` means ``"min"`` for a monitor
            ending in ``loss``, ``mse`` or ``mae`` and ``"max"`` for one containing ``acc``,
            ``auc``, ``precision`` or ``recall`` (anything else is a ValueError). The
            constructor stores the resolved direction in ``self.mode`` (``"min"``/``"max"``).
            Defaults to `"auto"`.
        baseline: a value the metric must beat for ``wait`` to be reset, or None.
            Defaults to `None`.
        restore_best_weights: keep a copy of the best epoch's weights for ``on_train_end``.
            Defaults to `False`.
        start_from_epoch: number of warm-up epochs that are not monitored at all. Defaults to `0`.

    Attributes:
        wait, best, best_epoch, stopped_epoch, best_weights: the state above.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        if not isinstance(monitor, str):
            raise ValueError(f"`monitor` must be a string. Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.min_delta = abs(_checks.real_number(min_delta, "min_delta"))
        self.patience = _checks.non_negative_int(patience, "patience")
        mode = _checks.one_of(mode, "mode", ("auto", "min", "max"))
        self.mode = _auto_mode(monitor) if mode == "auto" else mode
        self.baseline = None if baseline is None else _checks.real_number(baseline, "baseline")
        self.restore_best_weights = _checks.boolean(restore_best_weights, "restore_best_weights")
        self.start_from_epoch = _checks.non_negative_int(start_from_epoch, "start_from_epoch")
        self.wait = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self) -> None:
        """Reset the state at the start of training (``fit`` calls it once)."""
        # BEGIN STUDENT CODE: reset wait, best, best_epoch, stopped_epoch and best_weights
        self.wait = 0
        self.best = None
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights = None
        # END STUDENT CODE

    def on_epoch_end(self, epoch: int, logs: Mapping, weights=None) -> bool:
        """Update the state after epoch ``epoch`` (0-based); return True to stop training now.

        Args:
            epoch: 0-based epoch index.
            logs: dict of metric values of that epoch, e.g. ``{"loss": .3, "val_loss": .4}``
                (None counts as empty).
            weights: the model's weights (list of arrays) at the end of that epoch; store
                copies (``_copy_weights``), never the arrays themselves. Defaults to `None`.
        """
        epoch = _checks.non_negative_int(epoch, "epoch")
        logs = {} if logs is None else logs
        if not isinstance(logs, Mapping):
            raise ValueError(
                f"`logs` must be a dict of metric values. Received: type {type(logs).__name__}."
            )
        # BEGIN STUDENT CODE: the rules in the class docstring, in the order they give
        current = logs.get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return False
        current = float(current)

        def improves(value: float, reference: float | None) -> bool:
            if reference is None:
                return True
            if self.mode == "min":
                return value + self.min_delta < reference
            return value - self.min_delta > reference

        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_weights(weights)
        self.wait += 1
        if improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(weights)
            if self.baseline is None or improves(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False
        # END STUDENT CODE

    def on_train_end(self):
        """Return the weights Keras would restore (a list of arrays), or None.

        The best epoch's weights when ``restore_best_weights`` is set and at least one epoch was
        monitored, whether or not training stopped early; otherwise None.
        """
        # BEGIN STUDENT CODE: one condition
        if self.restore_best_weights and self.best_weights is not None:
            return self.best_weights
        return None
        # END STUDENT CODE
