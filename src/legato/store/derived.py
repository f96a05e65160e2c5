"""The rows the cockpit reads, derived from history events.

Three tables are kept from the history alone, so that they can always be rebuilt from it
(:func:`legato.store.rebuild.rebuild_derived`) and the live path and the rebuild share one
derivation (:class:`DerivedRows`):

* ``instance_variables``: the scalar root variables of each instance, for "instances whose
  variable x is v";
* ``element_counts``: per process version and element, element instances active there,
  completed, terminated, and open incidents (for the diagram overlays);
* ``decision_evaluations``: each ``DecisionEvaluated`` event.

The instances themselves are counted too, under the element id ``""`` (:data:`INSTANCE`):
active, completed and terminated instances per process version, from the same rows.

A multi-instance activity counts its body as an element instance of its id as well as each
inner instance (the events do not tell a body's end from an inner instance's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from legato.store._rules import dump_json
from legato.store.records import DecisionEvaluationRecord, HistoryChunk, HistoryRecord

MAX_INDEXED_LENGTH = 200
"""Values whose JSON is longer than this many characters are not indexed."""

INSTANCE = ""
"""The element id under which ``element_counts`` counts the instances themselves."""

ACTIVE, COMPLETED, TERMINATED, INCIDENTS = range(4)
"""Positions in a count delta (``DerivedRows.counts``)."""

InstanceOf = Callable[[int], "tuple[int, datetime] | None"]
"""An instance's definition key and start time, by instance key (None if unknown)."""


def indexed_value(value: Any) -> str | None:
    """The form in which a root variable's stored (encoded) value is indexed, or None if it
    is not.

    Strings, numbers and booleans are kept as compact JSON, numbers in one canonical form
    (the engine stores non-integers as ``{"$decimal": "..."}``: ``800.0`` and ``800`` are
    one value, ``1.50`` is ``1.5``); None, lists, documents and other encoded values (dates,
    ...) are not, nor anything longer than :data:`MAX_INDEXED_LENGTH` characters.
    """
    text: str | None = None
    if isinstance(value, str | int):  # bool is an int
        text = dump_json(value)
    elif isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$decimal"), str):
        text = _number_text(value["$decimal"])
    return text if text is not None and len(text) <= MAX_INDEXED_LENGTH else None


def _number_text(digits: str) -> str | None:
    try:
        number = Decimal(digits)
    except ArithmeticError:
        return None
    if not number.is_finite():
        return None
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


@dataclass(slots=True)
class DerivedRows:
    """Changes to the derived tables that a run of history events makes.

    ``variables`` maps (instance key, name) to the indexed value, or None where the row goes
    (the value is no longer indexable). ``counts`` maps (definition key, element id) to the
    deltas of active, completed, terminated and open incidents.
    """

    variables: dict[tuple[int, str], str | None] = field(default_factory=dict)
    started: dict[int, datetime] = field(default_factory=dict)
    """The start time of each instance in ``variables`` (the variable rows carry it, so that
    a variable's instances are listed newest first straight from the index)."""
    counts: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    evaluations: list[DecisionEvaluationRecord] = field(default_factory=list)
    incident_elements: dict[int, tuple[int, str]] = field(default_factory=dict)
    """(definition key, element id) of the incidents raised by the events seen so far."""
    versions: dict[int, int] = field(default_factory=dict)
    """The definition key of each instance as of the events seen so far (created or migrated
    among them), which the events before a migration were counted under."""

    def __bool__(self) -> bool:
        return bool(self.variables or self.counts or self.evaluations)

    def add(
        self,
        records: Iterable[HistoryRecord],
        instance_of: InstanceOf,
        incident_element: Callable[[int], tuple[int, str] | None],
    ) -> None:
        """Derive the changes of ``records`` (in history order).

        ``instance_of`` gives an instance's definition key and start time;
        ``incident_element`` where an incident raised before these events was raised (for
        its resolution).
        """
        handlers = _HANDLERS
        for record in records:
            handler = handlers.get(record.event_type)
            if handler is not None:
                seen = (
                    record.instance_key,
                    record.position,
                    record.at,
                    record.element_id,
                    record.payload,
                )
                handler(self, seen, instance_of, incident_element)

    def add_chunks(
        self,
        chunks: Iterable[HistoryChunk],
        instance_of: InstanceOf,
        incident_element: Callable[[int], tuple[int, str] | None],
    ) -> None:
        """:meth:`add` for events grouped into chunks (as the executor records them).

        The live path of every batch: element starts and ends (most of the events that
        count) are counted in the loop itself, under the instance's version found once per
        chunk (again after an event that may change it)."""
        handlers = _HANDLERS
        slots = _ELEMENT_SLOTS
        counts = self.counts
        for chunk in chunks:
            key, position, at = chunk.instance_key, chunk.position, chunk.at
            known = False
            definition_key: int | None = None
            for event_type, element_id, payload in chunk.events:
                slot = slots.get(event_type)
                if slot is not None:
                    if not known:
                        definition_key, known = _definition(self, instance_of, key), True
                    if definition_key is not None and element_id is not None:
                        delta = counts.get((definition_key, element_id))
                        if delta is None:
                            delta = counts[(definition_key, element_id)] = [0, 0, 0, 0]
                        if slot < 0:  # activated
                            delta[ACTIVE] += 1
                        else:
                            delta[ACTIVE] -= 1
                            delta[slot] += 1
                else:
                    handler = handlers.get(event_type)
                    if handler is not None:
                        handler(
                            self,
                            (key, position, at, element_id, payload),
                            instance_of,
                            incident_element,
                        )
                        known = known and event_type not in _VERSIONING
                position += 1

    def clear(self) -> None:
        """Forget the changes (after they were written); incident places are kept."""
        self.variables, self.started, self.counts, self.evaluations = {}, {}, {}, []
        self.versions = {}

    def _count(
        self, definition_key: int | None, element_id: str | None, slot: int, by: int
    ) -> None:
        if definition_key is None or element_id is None:
            return
        delta = self.counts.get((definition_key, element_id))
        if delta is None:
            delta = self.counts[(definition_key, element_id)] = [0, 0, 0, 0]
        delta[slot] += by


_Seen = tuple[int, int, datetime, str | None, dict[str, Any]]
"""An event as the handlers read it: instance key, position, instant, element id, payload."""

_Handler = Callable[[DerivedRows, _Seen, InstanceOf, Callable[[int], tuple[int, str] | None]], None]


def _definition(rows: DerivedRows, instance_of: InstanceOf, instance_key: int) -> int | None:
    """The version an instance's event happened in: the one its history says so far (it
    changes when it is migrated), else the one it is on now."""
    known = rows.versions.get(instance_key)
    if known is not None:
        return known
    found = instance_of(instance_key)
    return None if found is None else found[0]


def _activated(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
    rows._count(_definition(rows, instance_of, seen[0]), seen[3], ACTIVE, 1)


def _ended(slot: int) -> _Handler:
    def handle(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
        definition_key = _definition(rows, instance_of, seen[0])
        rows._count(definition_key, seen[3], ACTIVE, -1)
        rows._count(definition_key, seen[3], slot, 1)

    return handle


def _instance_created(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
    definition_key = seen[4].get("definition_key")
    if definition_key is None:  # a history written by hand (tests of old revisions)
        definition_key = _definition(rows, instance_of, seen[0])
    else:
        rows.versions[seen[0]] = definition_key
    rows._count(definition_key, INSTANCE, ACTIVE, 1)


def _instance_ended(slot: int) -> _Handler:
    def handle(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
        definition_key = _definition(rows, instance_of, seen[0])
        rows._count(definition_key, INSTANCE, ACTIVE, -1)
        rows._count(definition_key, INSTANCE, slot, 1)

    return handle


def _variable_set(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
    key, payload = seen[0], seen[4]
    if payload.get("scope_key") != key:
        return
    found = instance_of(key)
    if found is not None:
        rows.started[key] = found[1]
        rows.variables[(key, payload["name"])] = indexed_value(payload["value"])


def _incident_raised(rows: DerivedRows, seen: _Seen, instance_of: InstanceOf, _: Any) -> None:
    payload = seen[4]
    definition_key = _definition(rows, instance_of, seen[0])
    element_id = payload["element_id"]
    if definition_key is not None:
        rows.incident_elements[payload["incident_key"]] = (definition_key, element_id)
    rows._count(definition_key, element_id, INCIDENTS, 1)


def _incident_resolved(rows: DerivedRows, seen: _Seen, _: Any, incident_element: Any) -> None:
    key = seen[4]["incident_key"]
    place = rows.incident_elements.pop(key, None) or incident_element(key)
    if place is not None:
        rows._count(place[0], place[1], INCIDENTS, -1)


def _instance_migrated(rows: DerivedRows, seen: _Seen, _: Any, __: Any) -> None:
    # The payload names both versions: the instance's version now (``instance_of``) is the
    # target already, whatever its history says before this event.
    instance_key, payload = seen[0], seen[4]
    source, target = payload["source_definition_key"], payload["definition_key"]
    rows.versions[instance_key] = target
    rows._count(source, INSTANCE, ACTIVE, -1)
    rows._count(target, INSTANCE, ACTIVE, 1)
    for key, before, after in payload["elements"]:
        if key != instance_key:
            rows._count(source, before, ACTIVE, -1)
            rows._count(target, after, ACTIVE, 1)
    for incident_key, before, after in payload.get("incidents", ()):
        rows._count(source, before, INCIDENTS, -1)
        rows._count(target, after, INCIDENTS, 1)
        rows.incident_elements[incident_key] = (target, after)


def _decision_evaluated(rows: DerivedRows, seen: _Seen, _: Any, __: Any) -> None:
    instance_key, position, at, _element_id, payload = seen
    rows.evaluations.append(
        DecisionEvaluationRecord(
            instance_key=instance_key,
            position=position,
            decision_id=payload["decision_id"],
            decision_key=payload["decision_key"],
            decision_version=payload["version"],
            element_id=payload["element_id"],
            element_instance_key=payload["element_instance_key"],
            evaluated_at=at,
            matched_rules=tuple(payload.get("matched_rules") or ()),
            result=payload.get("result"),
        )
    )


_ACTIVE_SLOT = -1
_ELEMENT_SLOTS: dict[str, int] = {
    "ElementActivated": _ACTIVE_SLOT,
    "ElementCompleted": COMPLETED,
    "ElementTerminated": TERMINATED,
}
"""The element events :meth:`DerivedRows.add_chunks` counts itself, and the count each adds
to (:data:`_ACTIVE_SLOT`: the element instance is active; else it leaves the active ones)."""

_VERSIONING = frozenset({"InstanceCreated", "InstanceMigrated"})
"""The events after which an instance's version, as its events so far say, may differ."""

_HANDLERS: dict[str, _Handler] = {
    "InstanceCreated": _instance_created,
    "InstanceCompleted": _instance_ended(COMPLETED),
    "InstanceTerminated": _instance_ended(TERMINATED),
    "ElementActivated": _activated,
    "ElementCompleted": _ended(COMPLETED),
    "ElementTerminated": _ended(TERMINATED),
    "VariableSet": _variable_set,
    "IncidentRaised": _incident_raised,
    "IncidentResolved": _incident_resolved,
    "DecisionEvaluated": _decision_evaluated,
    "InstanceMigrated": _instance_migrated,
}
