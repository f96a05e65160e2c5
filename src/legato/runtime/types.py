"""What the engine hands to users: jobs for handlers, and read-only views of its state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    traceparent: str | None = None
    """The W3C trace context of this attempt while the engine traces
    (``Engine(tracing=...)``; None otherwise): spans the handler starts under it
    (``opentelemetry.propagate.extract({"traceparent": ...})``) join the instance's trace."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The secrets the job's headers and input mappings name (``secrets.CRM_TOKEN``), by
    name, resolved when the handler runs (already in the headers and variables too)."""
    missing_secrets: tuple[str, ...] = ()
    """Secrets named that the provider does not have: the handler is not called, the job
    fails with an incident naming them."""


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
class JobRequest:
    """What an external worker asks for, one per job type (a Camunda 7 topic): see
    :meth:`~legato.runtime.engine.Engine.fetch_jobs`."""

    job_type: str
    """The job type (Camunda 7: the topic name)."""
    timeout: timedelta
    """How long the jobs handed out are leased to the worker."""
    variables: Sequence[str] | None = None
    """The names of the variables to hand out: None for every variable visible in the job's
    scope, an empty sequence for none."""
    local_variables: bool = False
    """Only the variables of the job's own element instance scope."""
    business_key: str | None = None
    """Only jobs of instances with this business key."""
    process_ids: Sequence[str] | None = None
    """Only jobs of instances of these processes (None or empty: any)."""
    definition_keys: Sequence[int] | None = None
    """Only jobs of instances of these process versions (None or empty: any)."""
    process_variables: Mapping[str, Any] | None = None
    """Only jobs of instances whose root scope holds each of these variables with an equal
    value (None or empty: any)."""


@dataclass(frozen=True, slots=True)
class ActivatedJob:
    """A job as an external worker (and an operator) sees it.

    :meth:`~legato.runtime.engine.Engine.fetch_jobs` returns the jobs it leased;
    :meth:`~legato.runtime.engine.Engine.job` returns any job in its current state (then
    ``worker`` is empty and ``deadline`` None unless a worker holds it, and ``variables``
    is empty).
    """

    key: int
    """The job key (Camunda 7: the external task id)."""
    type: str
    """The job type (Camunda 7: the topic name)."""
    instance_key: int
    element_id: str
    element_instance_key: int
    definition_key: int
    process_id: str
    version: int
    business_key: str | None
    variables: dict[str, Any]
    """The variables asked for, as the job's scope sees them."""
    headers: dict[str, str]
    """The task's static headers (``zeebe:taskHeaders``)."""
    properties: dict[str, str]
    """The task's extension properties (``camunda:properties``); empty while the model
    reader keeps none."""
    retries: int
    """Attempts left, this one included."""
    worker: str
    """The worker that holds the job (empty when none holds it)."""
    deadline: datetime | None
    """When the lease ends (aware UTC); None when no worker holds the job."""
    created_at: datetime
    error_message: str | None = None
    """The message of the last failed attempt."""
    error_details: str | None = None
    """The details of the last failed attempt (a stack trace), as the worker reported them."""
    priority: int = 0
    """The task's priority (``camunda:taskPriority``); 0 while the model reader keeps none."""
    state: str = "activated"
    """``activatable``, ``activated`` or ``failed`` (retries exhausted: an incident)."""
    suspended: bool = False
    """Its instance is suspended: no worker gets it until the instance is resumed."""


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """A process instance as it is now."""

    key: int
    process_id: str
    version: int
    status: str
    """``active``, ``suspended`` (active, held by an operator), ``completed`` or
    ``terminated``."""
    business_key: str | None
    started_at: datetime
    ended_at: datetime | None
    variables: dict[str, Any]
    """The variables of the root scope."""
    active_elements: tuple[str, ...] = ()
    """Ids of the elements that hold a token now (waiting tasks, sub-processes)."""
    incidents: int = 0
    parent_instance_key: int | None = None
    version_reason: str | None = None
    """Why the instance got its version: ``latest``, ``explicit version``, ``explicit version
    tag '…'``, ``rollout: 10% split``, ``rollout rule`` (None for instances that a call
    activity, a message, a signal or a timer started, and on instance lists)."""

    @property
    def is_active(self) -> bool:
        """True until the instance ended (also while it is suspended)."""
        return self.status in ("active", "suspended")

    @property
    def suspended(self) -> bool:
        """True while an operator holds the instance (see :meth:`Engine.suspend`)."""
        return self.status == "suspended"


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


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    """Which instances a batch operation takes (every field given must match)."""

    process_id: str | None = None
    version: int | None = None
    """A version of ``process_id`` (only with it)."""
    status: str | None = None
    """``active``, ``suspended``, ``completed`` or ``terminated``."""
    business_key: str | None = None
    started_after: datetime | None = None
    """Started at or after this."""
    started_before: datetime | None = None
    """Started before this."""


@dataclass(slots=True)
class BatchResult:
    """What a batch operation did (or, as a dry run, would do) to each instance."""

    kind: str
    """``cancel`` or ``retry``."""
    dry_run: bool
    done: list[int] = field(default_factory=list)
    """The instances it cancelled or retried (would, in a dry run), in the order given."""
    skipped: dict[int, str] = field(default_factory=dict)
    """The instances it left alone, each with the reason."""

    @property
    def matched(self) -> int:
        """How many instances the keys or the filter named."""
        return len(self.done) + len(self.skipped)
