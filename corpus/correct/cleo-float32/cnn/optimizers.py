"""Gradient-descent optimizers with the update rules of ``keras.optimizers``.

Every optimizer is used the same way::

    opt = Adam(learning_rate=1e-3)
    for _ in range(steps):
        grads = compute_gradients(params)
        opt.step(params, grads)        # updates every params[i] IN PLACE

``params`` and ``grads`` are two lists of the same length; ``grads[i]`` has the shape of
``params[i]``. Each parameter keeps its own state (velocity, accumulator, moments), found by its
position in the list, so always pass the parameters in the same order. ``opt.iterations``
counts the calls to ``step`` (0 before the first one); ``t = opt.iterations`` after the
increment is the step number used by Adam's bias correction (1 on the first step).

Where the lecture's formulas and Keras disagree, Keras is graded; each docstring says where.
Keras computes in float32 and stores some hyper-parameters as float32 constants; that
rounding is far inside the float32 tolerance the grader uses, so plain Python floats are fine.
"""

from __future__ import annotations

import numpy as np

from . import _checks


class _Optimizer:
    """Shared given code: checks the arguments of ``step`` (nothing to implement here)."""

    def __init__(self, learning_rate: float, epsilon: float | None = None) -> None:
        self.learning_rate = _checks.non_negative_number(learning_rate, "learning_rate")
        if epsilon is not None:
            self.epsilon = _checks.non_negative_number(epsilon, "epsilon")
        self.iterations = 0
        self._shapes: list[tuple[int, ...]] | None = None

    def _check_step(self, params, grads) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Validate ``step``'s arguments; return ``params`` (unchanged) and ``grads`` as lists."""
        params = _checks.array_list(params, "params")
        grads = _checks.array_list(grads, "grads")
        if len(params) != len(grads):
            raise ValueError(
                "`params` and `grads` must have the same length. "
                f"Received: len(params)={len(params)}, len(grads)={len(grads)}."
            )
        params = [_checks.float_ndarray(p, f"params[{i}]") for i, p in enumerate(params)]
        grads = [_checks.as_array(g, f"grads[{i}]") for i, g in enumerate(grads)]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            _checks.same_shape(p, g, f"params[{i}]", f"grads[{i}]")
        shapes = [p.shape for p in params]
        if self._shapes is None:
            self._shapes = shapes
        elif shapes != self._shapes:
            raise ValueError(
                "`params` must be the same list of parameters at every step (the optimizer's "
                "state is kept per position). Received: shapes "
                f"{shapes}, expected (first call) {self._shapes}."
            )
        return params, grads


class SGD(_Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum: ``keras.optimizers.SGD``.

    Update of every parameter ``w`` with gradient ``g`` (``m`` starts at 0, one per parameter):
    ```
    momentum == 0:  w -= lr * g
    otherwise:      m = momentum * m - lr * g
                    w += m                              # classical momentum
                    w += momentum * m - lr * g          # nesterov=True: uses the NEW m
    ```
    The lecture's momentum (``v = alpha*v - lr*g``) is the classical form; its slide writes
    ``w_{t+1} = w_t - lr*g + v_t``, but ``v_t`` already contains ``-lr*g``: the gradient enters
    once, as in Keras. Nesterov momentum is not the classical form (28-44 % apart after 10 steps).

    Args:
        learning_rate: step size lr >= 0. Defaults to `0.01`.
        momentum: in [0, 1]. Defaults to `0.0`.
        nesterov: use Nesterov momentum. Defaults to `False`.

    Attributes:
        iterations: number of completed ``step`` calls (int).
        momentums: list of velocity arrays ``m``, one per parameter (None before the first
            step if you create them lazily).
    """

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = _checks.number_in_range(momentum, "momentum", 0.0, 1.0, high_open=False)
        self.nesterov = _checks.boolean(nesterov, "nesterov")
        self.momentums: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one update to every ``params[i]`` in place, using ``grads[i]``."""
        params, grads = self._check_step(params, grads)
        # BEGIN STUDENT CODE: create zero velocities on the first call; count the step
        # state kept in float32, indexed by position; Keras's formulas rearranged
        if not hasattr(self, "_v"):
            self._v = {}
        self.iterations = self.iterations + 1
        lr, mu = np.float32(self.learning_rate), np.float32(self.momentum)
        for i, (w, g) in enumerate(zip(params, grads, strict=False)):
            g32, w32 = g.astype(np.float32), w.astype(np.float32)
            v = self._v.get(i, np.zeros(w.shape, np.float32))
            v = mu * v - lr * g32
            self._v[i] = v
            if self.nesterov:
                w32 = w32 + mu * v - lr * g32
            else:
                w32 = w32 + v
            w[...] = w32
        # END STUDENT CODE


class Adagrad(_Optimizer):
    """AdaGrad: step sizes from the running sum of squared gradients (``keras.optimizers.Adagrad``).

    Update of every parameter ``w`` with gradient ``g``:
    ```
    a += g**2                                  # a starts at initial_accumulator_value (0.1)
    w -= lr * g / sqrt(a + epsilon)            # epsilon INSIDE the square root
    ```
    **The accumulator starts at 0.1, not 0.** The lecture starts the sum ``r`` at 0; Keras
    (which is graded) starts it at ``initial_accumulator_value=0.1``. With r0 = 0 the first
    step is ``lr * sign(g)``; with r0 = 0.1 and a small gradient it is about ``lr * g / 0.316``.
    (``Adagrad(initial_accumulator_value=0.0)`` gives the lecture's version.)

    Args:
        learning_rate: step size lr >= 0. Defaults to `0.001`.
        initial_accumulator_value: starting value of ``a`` (>= 0). Defaults to `0.1`.
        epsilon: small constant >= 0 added inside the square root. Defaults to `1e-7`.

    Attributes:
        iterations: number of completed ``step`` calls (int).
        accumulators: list of the arrays ``a``, one per parameter.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, epsilon)
        self.initial_accumulator_value = _checks.non_negative_number(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.accumulators: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one update to every ``params[i]`` in place, using ``grads[i]``."""
        params, grads = self._check_step(params, grads)
        # BEGIN STUDENT CODE: accumulators start at initial_accumulator_value (np.full_like)
        if not hasattr(self, "_acc"):
            self._acc = [
                np.full(p.shape, self.initial_accumulator_value, np.float32) for p in params
            ]
        self.iterations = self.iterations + 1
        for w, g, acc in zip(params, grads, self._acc, strict=False):
            g32 = g.astype(np.float32)
            acc += g32 * g32
            w[...] = w.astype(np.float32) - np.float32(self.learning_rate) * g32 / np.sqrt(
                acc + np.float32(self.epsilon)
            )
        # END STUDENT CODE


class RMSprop(_Optimizer):
    """RMSprop: divide by a moving root-mean-square of the gradients: ``keras.optimizers.RMSprop``.

    Update of every parameter ``w`` with gradient ``g`` (``v``, ``mg``, ``mom`` start at 0):
    ```
    v = rho * v + (1 - rho) * g**2
    if centered:
        mg = rho * mg + (1 - rho) * g
        den = v - mg**2 + epsilon
    else:
        den = v + epsilon                      # epsilon INSIDE the square root
    inc = lr * g / sqrt(den)
    if momentum > 0:
        mom = momentum * mom + inc
        w -= mom
    else:
        w -= inc
    ```
    With the defaults this is exactly the lecture's RMSprop.

    Args:
        learning_rate: step size lr >= 0. Defaults to `0.001`.
        rho: decay of the moving averages, in [0, 1]. Defaults to `0.9`.
        momentum: in [0, 1]. Defaults to `0.0`.
        epsilon: small constant >= 0 added inside the square root. Defaults to `1e-7`.
        centered: subtract the squared moving mean of the gradients. Defaults to `False`.

    Attributes:
        iterations: number of completed ``step`` calls (int).
        velocities, average_gradients, momentums: per-parameter state lists
            (the last two are needed only when ``centered`` / ``momentum > 0``).
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
    ) -> None:
        super().__init__(learning_rate, epsilon)
        self.rho = _checks.number_in_range(rho, "rho", 0.0, 1.0, high_open=False)
        self.momentum = _checks.number_in_range(momentum, "momentum", 0.0, 1.0, high_open=False)
        self.centered = _checks.boolean(centered, "centered")
        self.velocities: list[np.ndarray] | None = None
        self.average_gradients: list[np.ndarray] | None = None
        self.momentums: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one update to every ``params[i]`` in place, using ``grads[i]``."""
        params, grads = self._check_step(params, grads)
        # BEGIN STUDENT CODE: zero state on the first call; follow the update rule above
        if not hasattr(self, "_state"):
            self._state = [
                {
                    "v": np.zeros(p.shape, np.float32),
                    "mg": np.zeros(p.shape, np.float32),
                    "mom": np.zeros(p.shape, np.float32),
                }
                for p in params
            ]
        self.iterations = self.iterations + 1
        rho = np.float32(self.rho)
        for w, g, st in zip(params, grads, self._state, strict=False):
            g32 = g.astype(np.float32)
            st["v"] = rho * st["v"] + (1 - rho) * g32**2
            den = st["v"]
            if self.centered:
                st["mg"] = rho * st["mg"] + (1 - rho) * g32
                den = den - st["mg"] ** 2
            inc = np.float32(self.learning_rate) * g32 / np.sqrt(den + np.float32(self.epsilon))
            if self.momentum > 0:
                st["mom"] = np.float32(self.momentum) * st["mom"] + inc
                inc = st["mom"]
            w[...] = w.astype(np.float32) - inc
        # END STUDENT CODE


class Adam(_Optimizer):
    """Adam: moving averages of the gradient and its square: ``keras.optimizers.Adam``.

    Update of every parameter ``w`` with gradient ``g`` at step ``t = 1, 2, ...``
    (``m``, ``v``, ``vhat`` start at 0):
    ```
    m = beta_1 * m + (1 - beta_1) * g          # stays UNcorrected
    v = beta_2 * v + (1 - beta_2) * g**2       # stays UNcorrected
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    if amsgrad: vhat = max(vhat, v); use vhat instead of v below
    w -= alpha * m / (sqrt(v) + epsilon)       # epsilon OUTSIDE the square root
    ```
    The bias correction is applied only in the update (through ``alpha``), never fed back into
    ``m`` and ``v``. **The lecture's Adam divides m and r by (1 - beta**(t+1)) inside the
    recursion; the correction then compounds and the steps collapse (1e-3 -> 5e-11 in 10
    steps). Keras's form above is graded.** It equals the textbook
    ``lr * mhat / (sqrt(vhat) + epsilon)`` only with ``epsilon / sqrt(1 - beta_2**t)`` in place
    of ``epsilon``, a difference that shows for small gradients (|g| <= 1e-3). On the first
    step ``w`` moves by about ``lr * sign(g)``.

    Args:
        learning_rate: step size lr >= 0. Defaults to `0.001`.
        beta_1: decay of the first moment, in [0, 1]. Defaults to `0.9`.
        beta_2: decay of the second moment, in [0, 1]. Defaults to `0.999`.
        epsilon: small constant >= 0 added to sqrt(v). Defaults to `1e-7`.
        amsgrad: use the running maximum of v (AMSGrad). Defaults to `False`.

    Attributes:
        iterations: number of completed ``step`` calls (int), the ``t`` above after the increment.
        momentums, velocities, velocity_hats: per-parameter state lists (``m``, ``v``, ``vhat``).
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(learning_rate, epsilon)
        self.beta_1 = _checks.number_in_range(beta_1, "beta_1", 0.0, 1.0, high_open=False)
        self.beta_2 = _checks.number_in_range(beta_2, "beta_2", 0.0, 1.0, high_open=False)
        self.amsgrad = _checks.boolean(amsgrad, "amsgrad")
        self.momentums: list[np.ndarray] | None = None
        self.velocities: list[np.ndarray] | None = None
        self.velocity_hats: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one update to every ``params[i]`` in place, using ``grads[i]``."""
        params, grads = self._check_step(params, grads)
        # BEGIN STUDENT CODE: count the step first (t = 1 on the first call); zero state
        # bias-corrected moments; epsilon scaled so that Keras's sqrt(v) + eps is reproduced
        if not hasattr(self, "_m"):
            self._m = [np.zeros(p.shape, np.float32) for p in params]
            self._v = [np.zeros(p.shape, np.float32) for p in params]
            self._vmax = [np.zeros(p.shape, np.float32) for p in params]
        t = self.iterations + 1
        b1, b2 = np.float32(self.beta_1), np.float32(self.beta_2)
        for i, (w, g) in enumerate(zip(params, grads, strict=False)):
            g32 = g.astype(np.float32)
            self._m[i] = b1 * self._m[i] + (1 - b1) * g32
            self._v[i] = b2 * self._v[i] + (1 - b2) * g32 * g32
            v = self._v[i]
            if self.amsgrad:
                self._vmax[i] = np.maximum(self._vmax[i], v)
                v = self._vmax[i]
            m_hat = self._m[i] / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            eps_hat = np.float32(self.epsilon) / np.sqrt(1 - b2**t)
            w[...] = w.astype(np.float32) - np.float32(self.learning_rate) * m_hat / (
                np.sqrt(v_hat) + eps_hat
            )
        self.iterations = t
        # END STUDENT CODE
