"""What the hidden suite asks of a submission, and what the trusted process expects back.

A :class:`Case` is one graded question: a :class:`Call` that the sandbox worker makes in the
student's package (only inputs cross into the worker), and an expectation that stays in the
trusted process. The worker knows three programs:

``call``
    ``target(*args, **kwargs)``; the result is the return value.
``optimizer``
    ``args = (params, grads)``: ``params`` a list of arrays, ``grads`` a list of steps, each a
    list of arrays like ``params``. The worker builds ``target(**kwargs)``, calls
    ``opt.step(params, grads[t])`` for every step and returns
    ``{"params": [array (steps, *shape) per param], "iterations": [int per step]}``.
``early_stopping``
    ``args = (values, monitor)``: the monitored metric at the end of each epoch. The worker
    builds ``target(**kwargs)``, calls ``on_train_begin()``, then ``on_epoch_end(epoch,
    {monitor: value}, weights=[np.full(2, epoch + 1.0)])`` until it returns True, then
    ``on_train_end()``, and returns ``{"epochs_run", "stopped_epoch", "best", "best_epoch",
    "wait", "restored"}`` (``restored`` is the epoch stamp ``epoch + 1`` of the weights returned
    by ``on_train_end``, or None).

``gradcheck`` (part 2)
    ``args = (spec, x)``: the worker builds the grader's analytic function from ``spec``
    (``worker.analytic``) and returns ``target(f, x, **kwargs)``.
``training`` (part 2)
    ``args = (x, y, weights, optimizer name, optimizer kwargs)``: the worker builds the
    student's ``optimizers.<name>(**optimizer kwargs)`` and returns
    ``target(x, y, weights, optimizer, **kwargs)``.

Arguments are numpy arrays, JSON scalars, tuples, lists, dicts and :class:`Rng` (the worker
passes ``np.random.default_rng(seed)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class LazyText:
    """A text computed on first use, once (a case name that only a failing case shows: issue
    #16). ``fn`` must depend on nothing that changes after the case is built."""

    __slots__ = ("_fn", "_text")

    def __init__(self, fn: Callable[[], str]) -> None:
        self._fn, self._text = fn, None

    def __call__(self) -> str:
        if self._text is None:
            self._text = self._fn()
            self._fn = None
        return self._text


class TextField:
    """A dataclass ``str`` field that may also be given as a :class:`LazyText`: reading it gives
    the text (computed then, once). No default: the field stays a required argument."""

    def __set_name__(self, owner, name: str) -> None:
        self._key = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError(self._key)  # (dataclasses: no default value)
        value = obj.__dict__[self._key]
        if type(value) is LazyText:
            value = obj.__dict__[self._key] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self._key] = value

    def raw(self, obj):
        """The stored value: the text, or the :class:`LazyText` not yet computed."""
        return obj.__dict__[self._key]


PROGRAMS = ("call", "optimizer", "early_stopping", "gradcheck", "training")
GROUPS = ("public", "hidden")
ORACLES = ("reference", "keras", "property")


@dataclass(frozen=True)
class Rng:
    """Stands for ``np.random.default_rng(seed)`` in the worker."""

    seed: int


@dataclass
class Call:
    """One call the worker makes in the student's package."""

    program: str
    target: str  # "<module>.<name>", e.g. "conv.conv2d", "optimizers.Adam"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.program not in PROGRAMS:
            raise ValueError(f"unknown worker program {self.program!r}")
        if self.target.count(".") != 1:
            raise ValueError(f"target must be '<module>.<name>', got {self.target!r}")

    @property
    def module(self) -> str:
        return self.target.split(".")[0]


# An expectation is one of:
#   Close(value)         the result must match `value` (structure, types, shapes, float32 tolerance)
#   Raises("ValueError") the call must raise that exception (or a subclass)
#   Property(check)      check(result) returns None when the result is acceptable, else a message
#                        (or a tuple (message, mistake id) when the failure is a known mistake)
@dataclass
class Close:
    value: Any
    exact: bool = False  # arrays compared bitwise (e.g. indices), not with the float tolerance


@dataclass
class Raises:
    exception: str = "ValueError"


@dataclass
class Property:
    check: Callable[[Any], str | tuple[str, str] | None]
    description: str


Expectation = Close | Raises | Property


@dataclass
class Case:
    """One graded question about one item of the contract."""

    item: str  # graded item, "<module>.<name>" (e.g. "conv.conv2d", "optimizers.Adam")
    # short label students see, e.g. "stride=2, padding='same', x (2, 9, 8, 3)" (or a LazyText)
    name: str = TextField()  # type: ignore[assignment]
    call: Call
    expect: Expectation
    group: str = "hidden"  # "public" | "hidden"
    oracle: str = "reference"  # "reference" | "keras" | "property"
    params: dict = field(default_factory=dict)  # shown on failure (never expected values)
    check_mutation: bool = True  # array arguments must be bitwise unchanged after the call
    mistakes: dict[str, Any] = field(default_factory=dict)  # mistake name -> that mistake's output
    # this call's own wall-clock limit (else limits.call_timeout): seconds, or the name of a
    # ``Limits`` field that holds them (the config's [limits], e.g. "training_timeout")
    timeout: float | str | None = None

    @property
    def name_source(self) -> str | LazyText:
        """:attr:`name` as stored (a :class:`LazyText` not computed yet, for a result to keep)."""
        return Case.__dict__["name"].raw(self)

    def time_limit(self, limits) -> float | None:
        """This case's own limit in seconds under ``limits`` (None: the per-call limit)."""
        if isinstance(self.timeout, str):
            return float(getattr(limits, self.timeout))
        return self.timeout

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"unknown group {self.group!r}")
        if self.oracle not in ORACLES:
            raise ValueError(f"unknown oracle {self.oracle!r}")
