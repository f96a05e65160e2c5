"""The differences between two versions of a process, element by element, in words.

Flow nodes and sequence flows (at every depth) are matched by id: an id only in the newer
version was added, one only in the older was removed, and one in both whose definition
differs was changed, each difference named (``job type: 'charge' -> 'charge-card'``,
``outgoing: [f1] -> [f1, f2]``, ``condition: none -> '=amount > 100'``). Line numbers are
not compared: moving an element in the file changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from legato.model import ProcessDefinition
from legato.model.expressions import Expression

_IGNORED = frozenset({"line", "compiled", "constant"})
"""Fields that say where an element is written or hold derived values, not what it does."""


@dataclass(frozen=True, slots=True)
class ElementDiff:
    """One element (flow node or sequence flow) added, removed or changed."""

    element_id: str
    kind: str
    """``serviceTask``, ``exclusiveGateway``, ``sequenceFlow``, … (for a changed type: the
    newer one)."""
    name: str | None
    changes: tuple[str, ...] = ()
    """For a changed element: each difference, ``what: older -> newer``."""

    @property
    def label(self) -> str:
        """``serviceTask 'charge' (Charge card)``."""
        named = f" ({self.name})" if self.name else ""
        return f"{self.kind} '{self.element_id}'{named}"


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """What changed from one version of a process to another."""

    process_id: str
    from_version: int
    to_version: int
    added: tuple[ElementDiff, ...]
    removed: tuple[ElementDiff, ...]
    changed: tuple[ElementDiff, ...]
    process_changes: tuple[str, ...] = ()
    """Differences of the process itself (its name, version tag, declared variables)."""

    @property
    def is_empty(self) -> bool:
        """True when the two versions do the same."""
        return not (self.added or self.removed or self.changed or self.process_changes)

    def lines(self) -> list[str]:
        """The differences as text, one line each."""
        out = [f"process: {change}" for change in self.process_changes]
        out += [f"added {e.label}" for e in self.added]
        out += [f"removed {e.label}" for e in self.removed]
        for element in self.changed:
            out.append(f"changed {element.label}:")
            out += [f"  {change}" for change in element.changes]
        return out or ["no differences"]


def diff_processes(
    older: ProcessDefinition, newer: ProcessDefinition, from_version: int, to_version: int
) -> VersionDiff:
    """The differences from ``older`` to ``newer``."""
    before = _elements(older)
    after = _elements(newer)
    added = tuple(_entry(after[i]) for i in after if i not in before)
    removed = tuple(_entry(before[i]) for i in before if i not in after)
    changed: list[ElementDiff] = []
    for element_id, new in after.items():
        old = before.get(element_id)
        if old is None:
            continue
        changes = _changes(old, new)
        if changes:
            changed.append(dataclasses.replace(_entry(new), changes=tuple(changes)))
    process_changes = [
        f"{label}: {_show(a)} -> {_show(b)}"
        for label, a, b in (
            ("name", older.name, newer.name),
            ("version tag", older.version_tag, newer.version_tag),
            ("variables", older.variables, newer.variables),
        )
        if a != b
    ]
    return VersionDiff(
        newer.process_id,
        from_version,
        to_version,
        added,
        removed,
        tuple(changed),
        tuple(process_changes),
    )


def _elements(process: ProcessDefinition) -> dict[str, Any]:
    """Flow nodes and sequence flows by id, nodes first, each in document order."""
    found: dict[str, Any] = dict(process.elements)
    found.update(process.flows)
    return found


def _kind(element: Any) -> str:
    kind = getattr(type(element), "kind", None)
    return str(kind) if kind is not None else "sequenceFlow"


def _entry(element: Any) -> ElementDiff:
    element_id = getattr(element, "element_id", None) or element.flow_id
    return ElementDiff(element_id, _kind(element), element.name)


def _changes(old: Any, new: Any) -> list[str]:
    changes: list[str] = []
    if type(old) is not type(new):
        changes.append(f"type: {_kind(old)} -> {_kind(new)}")
    old_fields = {f.name for f in dataclasses.fields(old)}
    for field in dataclasses.fields(new):
        name = field.name
        if name in _IGNORED or name not in old_fields:
            continue
        a, b = getattr(old, name), getattr(new, name)
        if _comparable(a) != _comparable(b):
            changes.append(f"{name.replace('_', ' ')}: {_show(a)} -> {_show(b)}")
    return changes


def _comparable(value: Any) -> Any:
    """The value with line numbers and compiled forms left out, for comparing."""
    if isinstance(value, Expression):
        return ("expr", value.source)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, _comparable(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.name not in _IGNORED
            ),
        )
    if isinstance(value, tuple | list):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, frozenset | set):
        return tuple(sorted(repr(_comparable(item)) for item in value))
    return value


def _show(value: Any) -> str:
    """A value in words: expressions by their text, element definitions by their fields."""
    if value is None:
        return "none"
    if isinstance(value, Expression):
        return repr(value.source)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, tuple | list | frozenset | set):
        return "[" + ", ".join(_plain(item) for item in value) + "]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [
            f"{f.name.replace('_', ' ')}={_show(getattr(value, f.name))}"
            for f in dataclasses.fields(value)
            if f.name not in _IGNORED and getattr(value, f.name) != f.default
        ]
        return f"{type(value).__name__}({', '.join(parts)})"
    return str(value)


def _plain(item: Any) -> str:
    """An item of a list: ids without quotes."""
    return item if isinstance(item, str) else _show(item)
