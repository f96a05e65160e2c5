"""Types of a DMN model: item definitions and FEEL types, conformance and conversion.

A value that does not conform to the declared type of an input, a decision, a context entry
or a parameter becomes null (DMN 1.5, 10.3.2.9.4), after the two allowed conversions:
a singleton list to its item, and an item to a singleton list.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from legato import feel
from legato.dmn.model import ItemDefinition, UnaryTests
from legato.feel import FeelFunction, FeelSyntaxError, Range, YearsMonthsDuration
from legato.feel.values import FarDate, is_date

TypeTest = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class DmnType:
    """A resolved type: a conformance test and whether its values are lists."""

    name: str
    """The type name as written."""
    test: TypeTest
    """Whether a (non-null) value conforms."""
    is_list: bool = False
    """Whether the values are lists."""


def _is_date_time(value: Any) -> bool:
    return isinstance(value, dt.datetime) or (isinstance(value, FarDate) and value.has_time)


def _simple_tests() -> dict[str, TypeTest]:
    return {
        "Any": lambda value: True,
        "number": lambda value: isinstance(value, Decimal),
        "string": lambda value: isinstance(value, str),
        "boolean": lambda value: isinstance(value, bool),
        "date": is_date,
        "time": lambda value: isinstance(value, dt.time),
        "date and time": _is_date_time,
        "dateTime": _is_date_time,
        "days and time duration": lambda value: isinstance(value, dt.timedelta),
        "dayTimeDuration": lambda value: isinstance(value, dt.timedelta),
        "years and months duration": lambda value: isinstance(value, YearsMonthsDuration),
        "yearMonthDuration": lambda value: isinstance(value, YearsMonthsDuration),
        "context": lambda value: isinstance(value, dict),
        "range": lambda value: isinstance(value, Range),
        "function": lambda value: isinstance(value, FeelFunction),
    }


_SIMPLE = _simple_tests()
_XML_PREFIX = re.compile(r"^[A-Za-z_][\w\-]*:(?=[A-Za-z_])")


def strip_prefix(type_ref: str) -> str:
    """``feel:number`` -> ``number``; FEEL composite types (``context<a: number>``) stay."""
    head = type_ref.split("<", 1)[0]
    match = _XML_PREFIX.match(head)
    return type_ref[match.end() :] if match else type_ref.strip()


def coerce(value: Any, dmn_type: DmnType | None) -> tuple[Any, bool]:
    """Convert ``value`` to ``dmn_type``: the value (converted) and whether it conformed.

    A non-conforming value gives ``(None, False)``; null always conforms.
    """
    if value is None or dmn_type is None or dmn_type.test(value):
        return value, True
    if dmn_type.is_list and not isinstance(value, list) and dmn_type.test([value]):
        return [value], True
    if (
        not dmn_type.is_list
        and isinstance(value, list)
        and len(value) == 1
        and (value[0] is None or dmn_type.test(value[0]))
    ):
        return value[0], True
    return None, False


class TypeRegistry:
    """The item definitions of one model (and, through its imports, of imported models)."""

    def __init__(self, items: tuple[ItemDefinition, ...], import_names: tuple[str, ...] = ()):
        self._items = {item.name: item for item in items}
        self._import_names = frozenset(import_names)
        self._imports: dict[str, TypeRegistry] = {}
        self._cache: dict[str, DmnType | None] = {}

    def link(self, import_name: str, registry: TypeRegistry) -> None:
        """Make the types of an imported model known as ``import_name.type``."""
        self._imports[import_name] = registry
        self._cache.clear()

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a type this model (or an import prefix) defines."""
        name = strip_prefix(name)
        prefix, dot, _ = name.partition(".")
        return name in self._items or (bool(dot) and prefix in self._import_names)

    def local_names(self) -> tuple[str, ...]:
        """The names of the model's own item definitions."""
        return tuple(self._items)

    def resolve(self, type_ref: str | None) -> DmnType | None:
        """The type ``type_ref`` names; None when there is nothing to check (unknown, Any)."""
        if not type_ref:
            return None
        if type_ref not in self._cache:
            self._cache[type_ref] = None  # guards recursive definitions while resolving
            self._cache[type_ref] = self._resolve(strip_prefix(type_ref))
        return self._cache[type_ref]

    def conforms(self, type_ref: str, value: Any) -> bool:
        """Whether ``value`` is an instance of the type (for FEEL ``instance of``).

        ``instance of`` ignores allowed values: an item definition constraining a base type
        has the base type's instances.
        """
        item = self._items.get(strip_prefix(type_ref))
        if item is not None and item.allowed is not None and not item.is_collection:
            return value is not None and (
                item.type_ref is None or self.conforms(item.type_ref, value)
            )
        dmn_type = self.resolve(type_ref)
        if dmn_type is None:
            return value is not None
        return value is not None and dmn_type.test(value)

    def feel_types(self) -> Mapping[str, TypeTest]:
        """The model's types as FEEL ``instance of`` tests, resolved when first used."""
        return _FeelTypes(self)

    def _resolve(self, name: str) -> DmnType | None:
        item = self._items.get(name)
        if item is not None:
            return self._item_type(item)
        prefix, _, rest = name.partition(".")
        if rest and prefix in self._imports:
            return self._imports[prefix].resolve(rest)
        if name == "Any":
            return None
        if name in _SIMPLE:
            return DmnType(name, _SIMPLE[name])
        if name == "list":
            return DmnType(name, lambda value: isinstance(value, list), is_list=True)
        if "<" in name or "->" in name:
            return self._feel_type(name)
        return None

    def _feel_type(self, name: str) -> DmnType | None:
        try:
            check = feel.compile(f"value instance of {name}", types=self.feel_types())
        except FeelSyntaxError:
            return None

        def test(value: Any) -> bool:
            return check.evaluate({"value": value}) is True

        return DmnType(name, test, is_list=name.startswith("list"))

    def _item_type(self, item: ItemDefinition) -> DmnType:
        single = self._single_test(item)
        if item.is_collection:

            def test_list(value: Any) -> bool:
                return isinstance(value, list) and all(x is None or single(x) for x in value)

            return DmnType(item.name, test_list, is_list=True)
        base = self.resolve(item.type_ref) if not item.components else None
        return DmnType(item.name, single, is_list=base.is_list if base else False)

    def _single_test(self, item: ItemDefinition) -> TypeTest:
        if item.function is not None:
            return lambda value: isinstance(value, FeelFunction)
        if item.components:
            return self._structure_test(item.components)
        base_ref = item.type_ref
        allowed = item.allowed

        def test(value: Any) -> bool:
            base = self.resolve(base_ref)
            if base is not None and not base.test(value):
                return False
            return allowed is None or _allows(allowed, value)

        return test

    def _structure_test(self, components: tuple[ItemDefinition, ...]) -> TypeTest:
        fields = [(component.name, self._item_type(component)) for component in components]

        def test(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            for key, field_type in fields:
                if key not in value:
                    return False
                entry = value[key]
                if entry is not None and not field_type.test(entry):
                    return False
            return True

        return test


def _allows(allowed: UnaryTests, value: Any) -> bool:
    if allowed.compiled is None:
        return True
    return allowed.compiled.passes(value)


class _FeelTypes(Mapping[str, TypeTest]):
    """Item definitions seen from FEEL: a lazily resolved test per type name."""

    def __init__(self, registry: TypeRegistry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> TypeTest:
        if not self._registry.knows(name):
            raise KeyError(name)
        registry = self._registry
        return lambda value: registry.conforms(name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._registry.knows(name)

    def __bool__(self) -> bool:
        return True  # never empty: names are resolved on demand, including imported ones

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.local_names())

    def __len__(self) -> int:
        return len(self._registry.local_names())
