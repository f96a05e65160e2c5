"""Events: what happened to an instance. They are its history and the only input of appliers.

Every event is a dataclass whose fields are JSON-compatible after value encoding, so the
stored history can be replayed into the stored state.

Events are values: nothing changes one after it was emitted. They are not ``frozen`` only
because a frozen dataclass sets each field through ``object.__setattr__``, which made building
them a noticeable part of every command; declare new events with the same decorator as the
others (a frozen subclass of the non-frozen base is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar


@dataclass(slots=True, kw_only=True)
class Event:
    """Base of the events; ``at`` is when it happened (the engine clock)."""

    type_name: ClassVar[str]
    at: datetime

    def payload(self) -> dict[str, Any]:
        """The event's fields except ``at`` (values not yet encoded)."""
        return {name: getattr(self, name) for name in payload_fields(type(self))}


_EVENT_TYPES: dict[str, type[Event]] = {}


_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def payload_fields(cls: type[Event]) -> tuple[str, ...]:
    """The names of the fields of an event class except ``at``, in declaration order."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name != "at")
    return names


def register(cls: type[Event]) -> type[Event]:
    cls.type_name = cls.__name__
    _EVENT_TYPES[cls.__name__] = cls
    return cls


def event_type(name: str) -> type[Event]:
    """The event class with this name (KeyError if unknown)."""
    return _EVENT_TYPES[name]
