"""Argument checks at the public boundary: a wrong type is an :class:`InvalidCommandError`.

:func:`checked_arguments` wraps the public methods (and ``__init__`` and property setters) of
a class so that each argument is checked against its annotation before the method runs: a
caller who passes ``True`` as a correlation key or a list as the variables learns which
argument is wrong, instead of meeting a ``TypeError`` or an ``AttributeError`` from deep inside
the engine, or an internal error that is not a :class:`~legato.errors.LegatoError`.

The checks read the annotations once, when the class is wrapped, and understand what the
public API uses: classes (``bool`` is not accepted for ``int`` or ``float``; ``int`` is for
``float``; an ``int`` must fit in 64 bits, a ``float`` be finite and a ``timedelta`` within
:data:`MAX_DURATION` either way, as the databases and the calendar need), ``X | None`` and
other unions, ``Mapping[K, V]``, ``Sequence[T]``, fixed ``tuple[...]``, ``Callable``,
``Literal``, protocols (the value must have their public members) and type variables (by
their bound). Values inside mappings are checked for their keys only: variable values are
checked where they are stored (:mod:`legato.engine.values`).
An annotation of another form is not checked.
"""

from __future__ import annotations

import collections.abc as abc
import datetime
import functools
import inspect
import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from legato.errors import InvalidCommandError

C = TypeVar("C", bound=type)

Check = Callable[[Any], bool]
"""Whether a value fits an annotation."""


def checked_arguments(cls: C) -> C:
    """Check the arguments of ``cls``'s public methods, ``__init__`` and property setters
    (those ``cls`` defines itself) against their annotations; a wrong one raises
    :class:`InvalidCommandError` naming the argument, before the method runs."""
    for name, member in list(vars(cls).items()):
        if isinstance(member, property):
            if member.fset is not None:
                setattr(cls, name, member.setter(_checking(member.fset, name)))
        elif inspect.isfunction(member) and (not name.startswith("_") or name == "__init__"):
            setattr(cls, name, _checking(member))
    return cls


def _checking(function: Callable[..., Any], setter_of: str | None = None) -> Callable[..., Any]:
    """``function`` with its arguments checked first (it is returned as it is when none of
    its parameters has an annotation that can be checked); a property setter's value is
    named after the property."""
    signature = inspect.signature(function)
    namespace = getattr(function, "__globals__", {})
    positional: list[tuple[str, Check, str]] = []
    by_name: dict[str, tuple[Check, str]] = {}
    rest: tuple[str, Check, str] | None = None
    for index, parameter in enumerate(signature.parameters.values()):
        if index == 0:
            continue  # self
        hint = _evaluated(parameter.annotation, namespace)
        check = _check_for(hint)
        entry = (check or _anything, _describe(hint))
        shown = setter_of or parameter.name
        if parameter.kind is parameter.VAR_POSITIONAL:
            rest = (shown, *entry) if check is not None else None
        elif parameter.kind is not parameter.VAR_KEYWORD:
            if parameter.kind is not parameter.KEYWORD_ONLY:
                positional.append((shown, *entry))  # in order, checked or not
            if check is not None:
                by_name[parameter.name] = entry
    if not by_name and rest is None:
        return function

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for (name, check, expected), value in zip(positional, args[1:], strict=False):
            if not check(value):
                _refuse(name, expected, value)
        if rest is not None:
            name, check, expected = rest
            for value in args[1 + len(positional) :]:
                if not check(value):
                    _refuse(name, expected, value)
        for name, value in kwargs.items():
            known = by_name.get(name)
            if known is not None and not known[0](value):
                _refuse(name, known[1], value)
        return function(*args, **kwargs)

    return checked


def check_one_of(name: str, value: str | None, allowed: Sequence[str]) -> None:
    """Refuse a filter value that matches nothing by construction (``status="bogus"``).

    Raises:
        InvalidCommandError: ``value`` is not None and not one of ``allowed``.
    """
    if value is not None and value not in allowed:
        raise InvalidCommandError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _refuse(name: str, expected: str, value: Any) -> typing.NoReturn:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise InvalidCommandError(f"{name} must be {expected}, got {type(value).__name__} {shown}")


def _evaluated(annotation: Any, namespace: dict[str, Any]) -> Any:
    """The annotation as an object (they are strings under ``from __future__ import
    annotations``); None when it cannot be evaluated here."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        try:
            return eval(annotation, namespace)  # the handler's own annotation text  # nosec B307
        except Exception:
            return None
    return annotation


def _anything(value: Any) -> bool:
    return True


def _check_for(hint: Any) -> Check | None:
    """The check for an annotation, or None when it is not checked."""
    if hint is None or hint is Any or hint is object:
        return None
    if hint is type(None):
        return _is_none
    if isinstance(hint, TypeVar):
        return _check_for(hint.__bound__) if hint.__bound__ is not None else None
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        parts = [_check_for(argument) for argument in arguments]
        if any(part is None for part in parts):
            return None
        checks = [part for part in parts if part is not None]
        return lambda value: any(check(value) for check in checks)
    if origin is typing.Literal:
        return lambda value: any(value == a and type(value) is type(a) for a in arguments)
    if origin is abc.Callable or hint is abc.Callable:
        return callable
    if origin is not None:
        return _generic_check(origin, arguments)
    if isinstance(hint, type):
        return _class_check(hint)
    return None


def _is_none(value: Any) -> bool:
    return value is None


_MIN_INT = -(2**63)
_MAX_INT = 2**63 - 1
MAX_DURATION = datetime.timedelta(days=365 * 1000)
"""The longest duration an argument may give (a later one overflows the calendar)."""
MAX_MILLISECONDS = int(MAX_DURATION.total_seconds()) * 1000
""":data:`MAX_DURATION` in milliseconds, as HTTP bodies give durations."""


def _class_check(cls: type) -> Check | None:
    if cls is int:
        # Keys, versions, counts: what the databases hold (64 bits).
        return lambda value: (
            isinstance(value, int) and not isinstance(value, bool) and _MIN_INT <= value <= _MAX_INT
        )
    if cls is float:
        return lambda value: (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if cls is datetime.timedelta:
        return lambda value: isinstance(value, datetime.timedelta) and abs(value) <= MAX_DURATION
    if getattr(cls, "_is_protocol", False) and not getattr(cls, "_is_runtime_protocol", False):
        members = [n for n in vars(cls) if not n.startswith("_")]
        return lambda value: all(hasattr(value, member) for member in members)
    return lambda value: isinstance(value, cls)


def _generic_check(origin: Any, arguments: tuple[Any, ...]) -> Check | None:
    if not isinstance(origin, type):
        return None
    if issubclass(origin, tuple) and arguments and arguments[-1] is not Ellipsis:
        # A list of the right length unpacks as well as a tuple.
        items = [_check_for(argument) or _anything for argument in arguments]
        return lambda value: (
            isinstance(value, tuple | list)
            and len(value) == len(items)
            and all(check(item) for check, item in zip(items, value, strict=True))
        )
    if issubclass(origin, abc.Mapping):
        key = _check_for(arguments[0]) if arguments else None
        if key is None:
            return lambda value: isinstance(value, abc.Mapping)
        return lambda value: isinstance(value, abc.Mapping) and all(key(k) for k in value)
    if issubclass(origin, abc.Sequence):
        item = _check_for(arguments[0]) if arguments else None
        if item is None:
            return lambda value: isinstance(value, abc.Sequence) and not isinstance(value, str)
        return lambda value: (
            isinstance(value, abc.Sequence)
            and not isinstance(value, str | bytes)
            and all(item(element) for element in value)
        )
    return lambda value: isinstance(value, origin)


def _describe(hint: Any) -> str:
    """An annotation in words, for the message."""
    if isinstance(hint, TypeVar) and hint.__bound__ is not None:
        return _describe(hint.__bound__)
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        words = [_describe(a) for a in arguments if a is not type(None)]
        if len(words) < len(arguments):
            if len(words) > 1:
                return ", ".join(words) + " or None"
            return words[0] + (", or None" if " or " in words[0] else " or None")
        return ", ".join(words[:-1]) + " or " + words[-1]
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in arguments)
    if origin is abc.Callable or hint is abc.Callable:
        return "a callable"
    if hint is type(None):
        return "None"
    if origin is not None and isinstance(origin, type):
        if issubclass(origin, tuple):
            return f"a tuple of ({'; '.join(_describe(a) for a in arguments)})"
        if issubclass(origin, abc.Mapping):
            return "a mapping with string keys" if arguments[:1] == (str,) else "a mapping"
        if issubclass(origin, abc.Sequence) and arguments:
            return f"a list of {_plural(arguments[0])}"
        return _article(origin.__name__)
    if isinstance(hint, type):
        return _NAMES.get(hint, _article(hint.__name__))
    return str(hint)


def _plural(hint: Any) -> str:
    described = _describe(hint)
    article, _, rest = described.partition(" ")
    if rest.startswith("tuple of "):
        return "tuples of " + rest.removeprefix("tuple of ")
    if article not in ("a", "an") or " or " in described:
        return f"items that are each {described}"
    noun, _, more = rest.partition(" ")
    return f"{noun}s {more}".rstrip()


def _article(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


_NAMES: dict[type, str] = {
    str: "a string",
    int: "a 64-bit integer",
    float: "a finite number",
    bool: "a boolean (True or False)",
    bytes: "bytes",
    datetime.timedelta: "a timedelta of at most 1000 years",
}
