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

    Keras's rule for a parameter ``w`` with gradient ``g``, learning rate ``lr`` and momentum
    ``mu``: without momentum ``w <- w - lr g``. With momentum, a velocity ``m`` (0 at the start,
    one per parameter) becomes ``m <- mu m - lr g`` at every step, and the parameter moves by
    the new ``m`` (classical) or, with ``nesterov=True``, by ``mu m - lr g`` (again the new
    ``m``: a look-ahead, not the classical step).

    The lecture's momentum (``v = alpha*v - lr*g``) is the classical form; its slide writes
    ``w_{t+1} = w_t - lr*g + v_t``, but ``v_t`` already contains ``-lr*g``: the gradient enters
    once, as in Keras. Nesterov momentum is not the classical form (28-44 % apart after 10 steps).

    Hint: the state lives between calls; the update must change the arrays in ``params``
    themselves (in place), not rebind local names.

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
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
        self.iterations += 1
        lr, mu = self.learning_rate, self.momentum
        for w, g, m in zip(params, grads, self.momentums, strict=True):
            if mu == 0.0:
                w -= lr * g
                continue
            m *= mu
            m -= lr * g
            if self.nesterov:
                w += mu * m - lr * g
            else:
                w += m
        # END STUDENT CODE


class Adagrad(_Optimizer):
    """AdaGrad: step sizes from the running sum of squared gradients (``keras.optimizers.Adagrad``).

    Keras's rule: an accumulator ``a`` per parameter adds up the squared gradients of every
    step, and the step is ``lr g / sqrt(a + epsilon)`` with the accumulator already updated and
    **epsilon inside the square root**.

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
        if self.accumulators is None:
            self.accumulators = [np.full_like(p, self.initial_accumulator_value) for p in params]
        self.iterations += 1
        for w, g, a in zip(params, grads, self.accumulators, strict=True):
            a += g * g
            w -= self.learning_rate * g / np.sqrt(a + self.epsilon)
        # END STUDENT CODE


class RMSprop(_Optimizer):
    """RMSprop: divide by a moving root-mean-square of the gradients: ``keras.optimizers.RMSprop``.

    Keras's rule: ``v`` is a moving average of ``g**2`` with weight ``rho`` on the past
    (``v <- rho v + (1 - rho) g**2``, 0 at the start) and the step is ``lr g / sqrt(v + epsilon)``
    (**epsilon inside** the square root). ``centered=True`` also keeps the moving average ``mg``
    of ``g`` itself and uses ``v - mg**2`` in place of ``v`` (a variance). With ``momentum > 0``
    the steps are not applied directly: they feed a velocity ``mom <- momentum mom + step``
    and ``w`` moves by ``-mom``. With the defaults this is exactly the lecture's RMSprop.

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
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
            self.average_gradients = [np.zeros_like(p) for p in params]
            self.momentums = [np.zeros_like(p) for p in params]
        self.iterations += 1
        rho, lr = self.rho, self.learning_rate
        for w, g, v, mg, mom in zip(
            params, grads, self.velocities, self.average_gradients, self.momentums, strict=True
        ):
            v[...] = rho * v + (1.0 - rho) * g * g
            if self.centered:
                mg[...] = rho * mg + (1.0 - rho) * g
                den = v - mg * mg + self.epsilon
            else:
                den = v + self.epsilon
            inc = lr * g / np.sqrt(den)
            if self.momentum > 0:
                mom[...] = self.momentum * mom + inc
                w -= mom
            else:
                w -= inc
        # END STUDENT CODE


class Adam(_Optimizer):
    """Adam: moving averages of the gradient and its square: ``keras.optimizers.Adam``.

    Keras's rule at step ``t = 1, 2, ...``: the moments ``m`` (of ``g``, weight ``beta_1`` on the
    past) and ``v`` (of ``g**2``, weight ``beta_2``) are moving averages that start at 0 and
    **stay uncorrected**; the bias correction goes into the step size only,
    ``alpha_t = lr sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and ``w`` moves by
    ``-alpha_t m / (sqrt(v) + epsilon)`` (**epsilon outside** the square root). ``amsgrad=True``
    divides by the running maximum of ``v`` instead of ``v``.

    **The lecture's Adam divides m and r by (1 - beta**(t+1)) inside the
    recursion; the correction then compounds and the steps collapse (1e-3 -> 5e-11 in 10
    steps). Keras's form is graded.** It equals the textbook
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
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
            self.velocity_hats = [np.zeros_like(p) for p in params]
        self.iterations += 1
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        alpha = self.learning_rate * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        for w, g, m, v, vhat in zip(
            params, grads, self.momentums, self.velocities, self.velocity_hats, strict=True
        ):
            m += (g - m) * (1.0 - b1)
            v += (g * g - v) * (1.0 - b2)
            if self.amsgrad:
                np.maximum(vhat, v, out=vhat)
                w -= alpha * m / (np.sqrt(vhat) + self.epsilon)
            else:
                w -= alpha * m / (np.sqrt(v) + self.epsilon)
        # END STUDENT CODE
