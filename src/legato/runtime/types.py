"""What the engine hands to users: jobs for handlers, and read-only views of its state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class JobContext:
    """Given to a handler beside its job."""

    idempotency_key: str
    """Stable across every attempt of this job: pass it to the service you call so a retried
    call is not carried out twice (e.g. a payment provider's idempotency key)."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, and so on."""
    deadline: datetime | None
    """When the engine stops waiting for this attempt: its start plus the timeout (None
    without one); for an external worker, the end of its lease."""
    worker: str
    """The name of the worker running the handler."""
    timeout: timedelta | None = None
    """How long the handler may take (the handler's registration, else the model's
    ``legato:timeout``); an attempt that takes longer fails and is retried."""


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of work for a handler: the element it belongs to and the variables it sees."""

    key: int
    type: str
    element_id: str
    instance_key: int
    element_instance_key: int
    variables: dict[str, Any]
    retries: int
    """Attempts left, this one included."""
    headers: dict[str, str] = field(default_factory=dict)
    process_id: str = ""
    business_key: str | None = None
    context: JobContext | None = None

    @property
    def idempotency_key(self) -> str:
        """The job key as a string: the same for every attempt of this job."""
        return str(self.key)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """A process instance as it is now."""

    key: int
    process_id: str
    version: int
    status: str
    business_key: str | None
    started_at: datetime
    ended_at: datetime | None
    variables: dict[str, Any]
    """The variables of the root scope."""
    active_elements: tuple[str, ...] = ()
    """Ids of the elements that hold a token now (waiting tasks, sub-processes)."""
    incidents: int = 0
    parent_instance_key: int | None = None

    @property
    def is_active(self) -> bool:
        """True while the instance runs."""
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of an instance's history."""

    position: int
    event_type: str
    at: datetime
    element_id: str | None
    details: dict[str, Any]


@dataclass(slots=True)
class PublishResult:
    """What publishing a message or broadcasting a signal did."""

    correlated: list[int] = field(default_factory=list)
    """Keys of the waiting instances it reached."""
    started: int = 0
    """How many instances it started through start events."""
    started_keys: list[int] = field(default_factory=list)
    """Keys of the instances it started (filled by :meth:`Engine.correlate_message`)."""
    buffered_message_key: int | None = None
    """The key of the kept message, when nobody waited for it and it has a time to live."""
    duplicate: bool = False
    """A message with the same id was already kept: nothing was done."""
