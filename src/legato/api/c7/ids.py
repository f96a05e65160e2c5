"""Camunda 7 ids for Legato keys: a fixed two-way mapping, nothing stored.

Camunda 7 clients type process-instance, execution, task and incident ids as UUIDs
(``camunda-client`` validates them with pydantic). Legato's keys are 64-bit integers. A
Legato UUID *encodes* the key, so no second id is kept anywhere::

    magic (32 bits) | kind (16) | version 8 (4) | key bits 63..52 (12)
    | variant 10 (2) | zero (10) | key bits 51..0 (52)

The ``magic`` marks a Legato id and ``kind`` says what the key names (an instance, a task,
…), so a task id sent where a process-instance id belongs, a foreign UUID or a malformed
string all name nothing: :func:`key_of` returns None and the route answers 404
"… does not exist". The version nibble is 8 (RFC 9562 "custom"), so every id is a valid
UUID for any parser.

Process definition ids are ``processId:version:<uuid of the definition key>``, the shape
Camunda itself uses (``key:version:uuid``).
"""

from __future__ import annotations

import uuid
from enum import IntEnum

_MAGIC = 0x1E6A7000
_KEY_MASK = (1 << 64) - 1
_LOW_BITS = 52


class Kind(IntEnum):
    """What a Legato UUID names."""

    INSTANCE = 1
    EXECUTION = 2
    """An element instance (Camunda's execution and activity instance)."""
    TASK = 3
    """A user task."""
    INCIDENT = 4
    EXTERNAL_TASK = 5
    """A job worked on by an external worker."""
    DEFINITION = 6
    DEPLOYMENT = 7


def to_uuid(kind: Kind, key: int) -> str:
    """The canonical UUID string that names ``key`` of ``kind``."""
    unsigned = key & _KEY_MASK
    high = unsigned >> _LOW_BITS  # 12 bits
    low = unsigned & ((1 << _LOW_BITS) - 1)
    value = (_MAGIC << 96) | (int(kind) << 80) | (0x8 << 76) | (high << 64) | (0b10 << 62) | low
    return str(uuid.UUID(int=value))


def key_of(kind: Kind, text: str) -> int | None:
    """The key that ``text`` names as a ``kind``, or None when it names none (malformed, a
    foreign UUID, or an id of another kind)."""
    try:
        value = uuid.UUID(text).int
    except (ValueError, AttributeError, TypeError):
        return None
    if value >> 96 != _MAGIC or (value >> 80) & 0xFFFF != kind:
        return None
    if (value >> 76) & 0xF != 0x8 or (value >> 62) & 0b11 != 0b10:
        return None
    high = (value >> 64) & 0xFFF
    low = value & ((1 << 62) - 1)
    if low >> _LOW_BITS:
        return None
    unsigned = (high << _LOW_BITS) | low
    return unsigned - (1 << 64) if unsigned >> 63 else unsigned


def definition_id(process_id: str, version: int, definition_key: int) -> str:
    """A process definition id as Camunda shapes it: ``processId:version:uuid``."""
    return f"{process_id}:{version}:{to_uuid(Kind.DEFINITION, definition_key)}"


def definition_key_of(text: str) -> int | None:
    """The definition key a process definition id names (None when it names none)."""
    _, _, tail = text.rpartition(":")
    return key_of(Kind.DEFINITION, tail) if tail else None


def activity_instance_id(element_id: str, element_instance_key: int) -> str:
    """An activity instance id as Camunda shapes it: ``elementId:uuid``."""
    return f"{element_id}:{to_uuid(Kind.EXECUTION, element_instance_key)}"
