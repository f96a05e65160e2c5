"""Limits on one evaluation, so that no expression can exhaust memory or run for ever.

An evaluation spends a :class:`Budget` made from :class:`FeelLimits` as it runs: every loop,
quantifier and filter iteration and every call of a user-defined function spends an
iteration; every string, list and context built beyond a small size spends memory, and is
checked against the largest allowed *before* it is built. Passing a limit raises
:class:`~legato.feel.errors.FeelLimitError`, which stops the evaluation (it never becomes
null).

Numbers need no limit here: they are decimal128 (34 significant digits, exponents from -6143
to 6144, see ``values.DECIMAL_CONTEXT``), so a number is always small and a result beyond
that range is null with a warning, as the specification has it.

The limits in force are, in order: those passed to the evaluation, else those of the
enclosing :func:`use_limits` block, else :data:`DEFAULT_LIMITS`. Evaluations nested in
another one (a DMN decision evaluates many expressions) may share one budget, see
:func:`sharing_budget`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar

from legato.feel.errors import FeelLimitError

_T = TypeVar("_T")

ITEM_BYTES = 64
"""What a list item or a context entry counts against :attr:`FeelLimits.memory`: its
reference and, roughly, the small value it holds (a number, a short string), which is not
counted where it is made."""

SMALL_STRING = 64
"""Strings up to this many characters are not counted where they are made: like a number,
such a string is small (and counted with the item that holds it)."""


@dataclass(frozen=True, slots=True)
class FeelLimits:
    """The most one FEEL evaluation may do; every value must be positive.

    The defaults suit real models by a wide margin, and keep the memory of any evaluation
    to a few hundred megabytes. They bound the steps of an evaluation, not the work of one
    step: a million iterations of a cheap body take about a second, but one that compares
    long lists or matches a pathological regular expression can take much longer.
    """

    iterations: int = 1_000_000
    """Loop (``for``), quantifier (``some``, ``every``) and filter iterations plus calls of
    user-defined functions, in total per evaluation (the comparisons ``distinct values``,
    ``duplicate values`` and ``union`` make one by one, of lists and contexts, count too)."""
    collection_size: int = 1_000_000
    """Items in one list, or entries in one context, that the evaluation builds."""
    string_length: int = 10_000_000
    """Characters in one string that the evaluation builds."""
    memory: int = 256_000_000
    """Roughly the bytes of strings, lists and contexts built, in total per evaluation (a
    character counts 1, a list item or context entry 64 with the small value it holds); the
    full size of the result, every shared part counted where it appears, must fit it too."""
    depth: int = 200
    """How deeply calls of user-defined functions may nest (recursion), and lists and
    contexts in the result. An evaluation that exhausts Python's stack first passes this
    limit as well."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"FeelLimits.{field.name} must be a positive int, got {value!r}")


DEFAULT_LIMITS = FeelLimits()
"""The limits of an evaluation that is given none."""


class Budget:
    """What remains of the limits of one evaluation (or of several sharing it).

    Hot loops decrement the counters themselves and call :meth:`exceeded` when one goes
    negative; other code calls the checking methods.
    """

    __slots__ = ("depth", "iterations", "limits", "memory")

    def __init__(self, limits: FeelLimits) -> None:
        self.limits = limits
        self.iterations = limits.iterations
        """Iterations left."""
        self.memory = limits.memory
        """Memory left, in the units of :attr:`FeelLimits.memory`."""
        self.depth = limits.depth
        """Nesting levels left."""

    def exceeded(self, limit: str) -> FeelLimitError:
        """The error for passing ``limit`` (a field name of :class:`FeelLimits`)."""
        return FeelLimitError(limit, getattr(self.limits, limit))

    def iterate(self, count: int = 1) -> None:
        """Spend ``count`` iterations."""
        self.iterations -= count
        if self.iterations < 0:
            raise self.exceeded("iterations")

    def string(self, length: int) -> None:
        """Check and count a string of ``length`` characters about to be built."""
        self.check_string(length)
        self.memory -= length

    def check_string(self, length: int) -> None:
        """Check that a string of ``length`` characters may be built (without counting it)."""
        if length > self.limits.string_length:
            raise self.exceeded("string_length")
        if length > self.memory:
            raise self.exceeded("memory")

    def collection(self, size: int) -> None:
        """Check and count a list or context of ``size`` items about to be built."""
        if size > self.limits.collection_size:
            raise self.exceeded("collection_size")
        self.items(size)

    def items(self, count: int) -> None:
        """Count ``count`` items about to be built, in lists or contexts checked already."""
        self.memory -= count * ITEM_BYTES
        if self.memory < 0:
            raise self.exceeded("memory")

    def built(self, value: _T) -> _T:
        """Count ``value``, just built from values no larger than it; return it."""
        built: Any = value
        kind = type(built)
        if kind is str:
            if len(built) > SMALL_STRING:
                self.string(len(built))
        elif kind is list or kind is dict:
            self.collection(len(built))
        return value


_CURRENT: ContextVar[FeelLimits | Budget] = ContextVar("legato_feel_limits", default=DEFAULT_LIMITS)
"""The limits of evaluations started here, or the budget they share."""


def budget_for(limits: FeelLimits | None = None) -> Budget:
    """The budget of an evaluation: a new one with ``limits`` if given, else the shared one
    within :func:`sharing_budget`, else a new one with the current limits."""
    if limits is not None:
        return Budget(limits)
    current = _CURRENT.get()
    return current if type(current) is Budget else Budget(current)  # type: ignore[arg-type]


def current_limits() -> FeelLimits:
    """The limits evaluations started now get when they are given none."""
    current = _CURRENT.get()
    return current.limits if type(current) is Budget else current  # type: ignore[return-value]


@contextmanager
def use_limits(limits: FeelLimits | None) -> Iterator[None]:
    """Evaluations in this block (in this thread or task) get ``limits`` unless given others.

    ``None`` leaves the limits in force as they are::

        with use_limits(FeelLimits(iterations=10_000)):
            feel.evaluate(...)
    """
    if limits is None:
        yield
        return
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def sharing_budget(action: Callable[[], _T]) -> _T:
    """Run ``action``; the evaluations it makes share one budget (that of an enclosing
    call, if any), so that nesting them (a DMN decision calling a knowledge model in a loop)
    cannot multiply what each may do."""
    current = _CURRENT.get()
    if type(current) is Budget:
        return action()
    token = _CURRENT.set(Budget(current))  # type: ignore[arg-type]
    try:
        return action()
    finally:
        _CURRENT.reset(token)


class Limited(Protocol):
    """Whatever knows the limits in force (an evaluation's :class:`~legato.feel.runtime.Run`)."""

    @property
    def limits(self) -> FeelLimits:
        """The limits in force."""
        ...


def check_result(value: Any, owner: Limited) -> None:
    """Refuse a result that is too large or too deep once written out in full.

    Values may share parts (a list holding one long string a million times, contexts whose
    entries repeat the entry before twice), so a result can be far larger than what its
    evaluation built; whoever stores or prints it would have to write every part out.
    Counts like :meth:`Budget.collection` and :meth:`Budget.string`, against the limits of
    ``owner``, looked up only when needed: most results are small and flat.
    """
    kind = type(value)
    if kind is not list and kind is not dict:
        return
    items = value.values() if kind is dict else value
    kinds = set(map(type, items))
    if list in kinds or dict in kinds:
        _check_nested(value, owner.limits)
        return
    size = len(value) * ITEM_BYTES
    if str in kinds:
        size += sum([len(item) for item in items if type(item) is str])
    if size > SMALL_STRING * ITEM_BYTES and size > owner.limits.memory:
        raise FeelLimitError("memory", owner.limits.memory)


def _check_nested(value: Any, limits: FeelLimits) -> None:
    room = limits.memory - len(value) * ITEM_BYTES
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack and room >= 0:
        current, depth = stack.pop()
        for item in current.values() if type(current) is dict else current:
            kind = type(item)
            if kind is str:
                room -= len(item)
            elif kind is list or kind is dict:
                if depth >= limits.depth:
                    raise FeelLimitError("depth", limits.depth)
                room -= len(item) * ITEM_BYTES
                if room < 0:
                    break
                stack.append((item, depth + 1))
    if room < 0:
        raise FeelLimitError("memory", limits.memory)
