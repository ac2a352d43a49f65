"""A case's named mistakes, computed only when an answer needs them (issue #16).

A generator knows how to compute the output of every known mistake of a case, but the output is
needed only when an answer does not match the expected one (``compare.judge`` then looks for the
first mistake the answer matches). :class:`LazyMistakes` keeps the recipes and computes them in
their order, on demand, with the same rule an eager dict applied at build time (a mistake is
kept when it runs and its output is not the expected answer, nor, with ``distinct``, an earlier
kept mistake's). So the first match, the names and the values are the ones the eager dict had;
a correct answer costs none of them. :class:`Deferred` does the same for a bank case's mistakes,
which one function computes all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Skip = (ValueError, IndexError, ZeroDivisionError)  # a recipe that does not apply to the case


class LazyMistakes(Mapping[str, Any]):
    """mistake id -> that mistake's output, each computed the first time it is reached."""

    def __init__(
        self,
        recipes: Mapping[str, Callable[[], Any]],
        expected: Any,
        same: Callable[[Any, Any], bool],
        *,
        distinct: bool = False,
        prepare: Callable[[Any], Any] = lambda value: value,
        skip: tuple[type[Exception], ...] = Skip,
    ):
        self._todo = list(recipes.items())
        self._expected = expected
        self._same = same  # same(output, other): the output would pass against other
        self._distinct = distinct
        self._prepare = prepare
        self._skip = skip
        self._kept: dict[str, Any] = {}

    def _next(self) -> str | None:
        """Compute recipes until one is kept; its id, or None when none is left."""
        while self._todo:
            name, recipe = self._todo.pop(0)
            try:
                out = self._prepare(recipe())
            except self._skip:
                continue
            if self._same(out, self._expected):
                continue
            if self._distinct and any(self._same(out, o) for o in self._kept.values()):
                continue
            self._kept[name] = out
            return name
        return None

    def __iter__(self) -> Iterator[str]:
        yield from list(self._kept)
        while (name := self._next()) is not None:
            yield name

    def __getitem__(self, name: str) -> Any:
        while name not in self._kept and self._todo:
            self._next()
        return self._kept[name]

    def __len__(self) -> int:
        while self._next() is not None:
            pass
        return len(self._kept)

    def __repr__(self) -> str:
        return f"LazyMistakes(kept={list(self._kept)}, pending={[n for n, _ in self._todo]})"


class Deferred(Mapping[str, Any]):
    """``make(case)`` (a bank case's mistakes), called the first time they are looked at: a
    correct answer never needs them. (Grading runs in processes, never in threads.)"""

    def __init__(self, make: Callable[[Any], Mapping[str, Any]], case: Any):
        self._make, self._case, self._found = make, case, None

    def _get(self) -> Mapping[str, Any]:
        if self._found is None:
            self._found = self._make(self._case)
        return self._found

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())
