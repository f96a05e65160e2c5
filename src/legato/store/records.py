"""The rows the store keeps, as plain frozen records (no SQL, no engine types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

INSTANCE_STATUSES = ("active", "completed", "terminated")
"""The statuses of an instance (:attr:`InstanceRecord.status`)."""
SUSPENDED = "suspended"
"""The status filter for the active instances that are suspended
(:attr:`InstanceRecord.suspended`; their stored status stays ``active``)."""
INSTANCE_FILTER_STATUSES = (*INSTANCE_STATUSES, SUSPENDED, "incident")
"""What the instance lists filter on: a status, ``suspended``, or ``incident`` (active
instances with at least one open incident)."""
JOB_STATES = ("activatable", "activated", "failed")
"""The states of a job (:attr:`JobRecord.state`)."""
USER_TASK_STATES = ("created", "completed", "canceled")
"""The states of a user task (:attr:`UserTaskRecord.state`)."""
INCIDENT_STATES = ("open", "resolved")
"""The states of an incident (:attr:`IncidentRecord.state`)."""


@dataclass(frozen=True, slots=True)
class DefinitionRecord:
    """One deployed version of one process."""

    definition_key: int
    process_id: str
    version: int
    resource_name: str
    """The file name the process came from (or ``<string>``)."""
    source: str
    """The whole BPMN XML of the resource, kept so the model can be rebuilt after a restart."""
    checksum: str
    """SHA-256 of the resource; deploying the same content again makes no new version."""
    deployed_at: datetime
    name: str | None = None
    version_tag: str | None = None
    """The process's version tag (unique among its versions), if the model names one."""
    suspended: bool = False
    """No new instance starts on this version; its running instances go on."""


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """One version of a process without its model: what choosing a version to start needs."""

    definition_key: int
    version: int
    version_tag: str | None
    suspended: bool


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    """Which version a new instance of a process gets when the caller names none: a
    percentage split over versions, or a FEEL rule (exactly one of the two)."""

    process_id: str
    split: tuple[tuple[int, int], ...] = ()
    """(version, percent) pairs, by version; the percentages add up to 100."""
    rule: str | None = None
    """A FEEL expression over the start variables and ``businessKey`` that returns a version
    number or a version tag."""
    revision: int = 1
    """Counts the changes of the process's rollout (starting at 1)."""
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """A process instance: summary columns for queries, and the engine state as JSON."""

    instance_key: int
    definition_key: int
    process_id: str
    version: int
    status: str
    """``active``, ``completed`` or ``terminated``."""
    business_key: str | None
    started_at: datetime
    ended_at: datetime | None
    state: dict[str, Any]
    """The engine's instance state, JSON-compatible (values already encoded)."""
    revision: int = 0
    """Incremented on every save; a save of a stale revision is a conflict."""
    parent_instance_key: int | None = None
    incident_count: int = 0
    suspended: bool = False
    """Held by an operator until resumed (``status`` stays ``active``)."""


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One event of an instance's history, in order."""

    instance_key: int
    position: int
    """The event's 1-based position within its instance's history."""
    event_type: str
    at: datetime
    payload: dict[str, Any]
    """The event's fields, JSON-compatible."""
    element_id: str | None = None


class HistoryChunk(NamedTuple):
    """Consecutive events of one instance at one instant (what a command records for an
    instance): one row of the history table, built by the executor straight from the events.
    """

    instance_key: int
    position: int
    """The 1-based position of the first event within its instance's history."""
    at: datetime
    events: list[list[Any]]
    """Each event as ``[event_type, element_id, payload]``, its payload JSON-compatible."""

    def records(self) -> list[HistoryRecord]:
        """The chunk's events as history records."""
        key, first, at = self.instance_key, self.position, self.at
        return [
            HistoryRecord(key, first + offset, event_type, at, payload, element_id)
            for offset, (event_type, element_id, payload) in enumerate(self.events)
        ]


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A unit of work for a handler or an external worker."""

    job_key: int
    instance_key: int
    element_instance_key: int
    element_id: str
    job_type: str
    retries: int
    """Attempts left."""
    due_at: datetime
    """Not handed out before this (later than creation after a failure: the backoff)."""
    state: str = "activatable"
    """``activatable``, ``activated`` (held by a worker until ``lease_until``) or ``failed``
    (retries exhausted: an incident waits for an operator)."""
    worker: str | None = None
    lease_until: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str | None = None
    created_at: datetime | None = None
    error_details: str | None = None
    """Further detail of the last failure (a stack trace), as the worker reported it."""
    priority: int = 0
    """Workers that fetch by priority get higher ones first."""
    suspended: bool = False
    """Its instance is suspended: handed to no worker until it is resumed."""


@dataclass(frozen=True, slots=True)
class UserTaskRecord:
    """An open or finished task for a person."""

    user_task_key: int
    instance_key: int
    element_instance_key: int
    element_id: str
    name: str | None
    state: str
    """``created``, ``completed`` or ``canceled``."""
    created_at: datetime
    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    form_key: str | None = None
    due_at: datetime | None = None
    follow_up_at: datetime | None = None
    priority: int = 50
    """0 to 100 (50 unless the model says otherwise)."""
    completed_at: datetime | None = None
    completed_by: str | None = None
    process_id: str = ""
    """The id of the process the task's instance runs."""
    definition_key: int = 0
    """The key of the process version the task's instance runs."""
    process_version: int = 0
    """The version number of that process."""
    business_key: str | None = None
    """The business key of the task's instance."""
    form_id: str | None = None
    """The id of the linked (or embedded) Camunda form."""
    linked_form_key: int | None = None
    """The deployed version of the linked form bound when the task was created."""
    external_form_reference: str | None = None
    """A form kept elsewhere (``zeebe:formDefinition externalReference``)."""
    owner: str | None = None
    """Who delegated the task (Camunda 7 delegation)."""
    delegation_state: str | None = None
    """``PENDING`` while delegated, ``RESOLVED`` once resolved, else None."""
    updated_at: datetime | None = None
    """When the task last changed (created, assigned, completed)."""


USER_TASK_SORT_FIELDS = ("created_at", "due_at", "follow_up_at", "priority", "name")
"""What user task queries sort by (:attr:`UserTaskQuery.sort`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTaskQuery:
    """Which user tasks a query finds, in which order, and which page of them.

    Every filter given must hold. ``visible_to=(user, groups)`` keeps the tasks assigned to
    the user, those naming the user as a candidate or any of the groups as a candidate group,
    and those with no assignee and no candidates at all. Ties in the sort are broken by the
    task key; empty values (no due date) sort last either way.
    """

    state: str | None = "created"
    assignee: str | None = None
    candidate_user: str | None = None
    candidate_group: str | None = None
    candidate_groups: tuple[str, ...] | None = None
    """Any of these groups is a candidate group of the task."""
    visible_to: tuple[str, tuple[str, ...]] | None = None
    instance_key: int | None = None
    process_id: str | None = None
    definition_key: int | None = None
    element_id: str | None = None
    user_task_key: int | None = None
    name_contains: str | None = None
    """The task's name contains this text (case-insensitively)."""
    unassigned_only: bool = False
    """Only tasks without an assignee."""
    sort: tuple[tuple[str, str], ...] = (("created_at", "asc"),)
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class FormRecord:
    """One deployed version of a Camunda form (a form-js ``.form`` file)."""

    form_key: int
    form_id: str
    version: int
    resource_name: str
    schema: dict[str, Any] = field(repr=False)
    """The form's JSON document."""
    deployed_at: datetime
    checksum: str = ""
    version_tag: str | None = None
    """The form's ``versionTag`` (for ``bindingType="versionTag"`` links)."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """Something an operator must look at: the token of an element is stuck."""

    incident_key: int
    instance_key: int
    element_instance_key: int
    element_id: str
    error_type: str
    message: str
    created_at: datetime
    state: str = "open"
    """``open`` or ``resolved``."""
    job_key: int | None = None
    details: str | None = None
    """A stack trace or further detail."""
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A timer waiting to fire: for an element instance, or a timer start event of a process."""

    timer_key: int
    definition_key: int
    element_id: str
    """The timer event (intermediate catch, boundary, event sub-process or process start)."""
    due_at: datetime
    instance_key: int | None = None
    """None for a timer start event of a process (it creates instances)."""
    element_instance_key: int | None = None
    """The element instance the timer belongs to (the catch event, or the activity or scope
    a boundary or event sub-process timer waits on)."""
    repetitions: int | None = None
    """Firings left after this one for a cycle (-1 for unbounded); None for a one-off timer."""
    state: str = "scheduled"
    """``scheduled`` or ``claimed`` (a node fires it until ``lease_until``)."""
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """An element waiting for a message or a signal, or a message/signal start event."""

    subscription_key: int
    kind: str
    """``message`` or ``signal``."""
    name: str
    """The message or signal name."""
    definition_key: int
    element_id: str
    correlation_key: str | None = None
    """For messages: the value the message's correlation key must equal (None for start
    events, which any message of the name starts)."""
    instance_key: int | None = None
    """None for a start event of a process."""
    element_instance_key: int | None = None
    interrupting: bool = True


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A published message kept until it is correlated or its time to live runs out."""

    message_key: int
    name: str
    published_at: datetime
    expires_at: datetime
    correlation_key: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    """Variables, JSON-compatible (already encoded)."""
    message_id: str | None = None
    """Unique among buffered messages: publishing the same id again is a no-op."""


class UserTaskMove(NamedTuple):
    """Where an open user task is after its instance migrated (see
    :meth:`~legato.store.user_tasks.UserTasks.move_user_tasks`)."""

    user_task_key: int
    element_id: str
    name: str | None
    process_id: str
    definition_key: int
    process_version: int


@dataclass(frozen=True, slots=True)
class BatchOperationRecord:
    """An operator's long-running batch over many instances (a migration), and its progress."""

    batch_key: int
    kind: str
    """``migration``."""
    status: str
    """``running``, ``paused``, ``completed`` or ``cancelled``."""
    spec: dict[str, Any]
    """The operation's parameters (a migration's plan)."""
    total: int
    created_at: datetime
    updated_at: datetime
    done: int = 0
    failed: int = 0
    rate: float | None = None
    """Instances per second at most (None: as fast as it goes)."""
    created_by: str | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """An engine node (a process running :meth:`Engine.serve`) and its last heartbeat."""

    node_id: str
    """The node's worker name: the jobs it holds carry it."""
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    """When the node last said it is alive (database time on PostgreSQL)."""
    status: str = "running"
    """``running``, ``stopped`` (it said goodbye) or ``dead`` (its heartbeat ran out and its
    work was released to the other nodes)."""
    jobs_done: int = 0
    """Jobs this node ran since it started."""
    timers_fired: int = 0
    """Timers this node fired since it started."""
    load: float = 0.0
    """The share of the last heartbeat interval the node spent working (0 to 1)."""
    abandoned: int = 0
    """Handler calls this node abandoned (past their timeout) since it started."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person who signs in with a name and a password."""

    name: str
    password_hash: str
    """The argon2id hash of the password (PHC string format)."""
    roles: tuple[str, ...]
    created_at: datetime
    groups: tuple[str, ...] = ()
    """Candidate groups of user tasks match against these."""
    disabled: bool = False
    """A disabled user cannot sign in, and the tokens issued to them stop working."""
    processes: tuple[str, ...] | None = None
    """The process ids (a trailing ``*`` matches a prefix) the user is limited to; None for
    every process."""


@dataclass(frozen=True, slots=True)
class SignInFailureRecord:
    """Failed sign-ins of one account or one client address, and its lock-out."""

    subject: str
    """``user:<name>`` (a user name or an API key id) or ``address:<client address>``."""
    failures: int
    """Failed attempts since ``since`` (none succeeded in between, for an account)."""
    since: datetime
    """The first failure counted."""
    locked_until: datetime | None = None
    """Until when every sign-in of the subject is refused; None: not locked."""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A machine's credentials: a public key id and a secret shown once."""

    key_id: str
    """``lk_`` and 16 random characters: the user name of Basic authentication."""
    name: str
    """A label saying whose key it is."""
    secret_hash: str
    """A hash of the secret (never the secret itself)."""
    roles: tuple[str, ...]
    created_at: datetime
    job_types: tuple[str, ...] | None = None
    """For the ``worker`` role: the job types the key may work on; None for all."""
    last_used_at: datetime | None = None
    """When the key last authenticated (recorded at a coarse resolution, not per request)."""
    revoked_at: datetime | None = None
    """When the key was revoked (it authenticates no more); None while it is valid."""
    processes: tuple[str, ...] | None = None
    """The process ids (a trailing ``*`` matches a prefix) the key is limited to; None for
    every process."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceQuery:
    """Which instances a search finds; newest first (``started_at``, then key, descending).

    Every filter given must hold. ``variable`` is a root variable's name and a scalar value
    (string, number or boolean; see :func:`legato.store.derived.indexed_value`): instances
    whose variable of that name equals it. Time bounds are inclusive below, exclusive above.
    ``after`` is the (``started_at``, key) of the last instance of the previous page.
    """

    process_id: str | None = None
    version: int | None = None
    status: str | None = None
    business_key: str | None = None
    variable: tuple[str, str] | None = None
    """(name, value as :func:`~legato.store.derived.indexed_value` writes it)."""
    started_from: datetime | None = None
    started_before: datetime | None = None
    ended_from: datetime | None = None
    ended_before: datetime | None = None
    parent_instance_key: int | None = None
    after: tuple[datetime, int] | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ElementCountsRecord:
    """How many element instances of one element are where, summed over versions asked for."""

    element_id: str
    active: int
    """Element instances there now (tokens waiting or working)."""
    completed: int
    terminated: int
    incidents: int
    """Open incidents there."""


@dataclass(frozen=True, slots=True)
class DecisionEvaluationRecord:
    """One evaluation of a decision by a business rule task (a ``DecisionEvaluated`` event)."""

    instance_key: int
    position: int
    """The event's position in the instance's history."""
    decision_id: str
    decision_key: int
    decision_version: int
    element_id: str
    element_instance_key: int
    evaluated_at: datetime
    matched_rules: tuple[str, ...]
    """The ids of the rules that matched (a decision table's)."""
    result: Any
    """The decision's result, JSON-compatible (values encoded)."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of ``audit_log``."""

    seq: int
    """The position in the trail: 1, 2, 3, ... without gaps."""
    at: datetime
    actor: str
    """A user name, ``key:<id>`` for an API key, or ``system``."""
    actor_kind: str
    """``user``, ``key``, ``token``, ``system`` or ``anonymous`` (a failed sign-in)."""
    source_address: str | None
    user_agent: str | None
    action: str
    """A dotted name: ``instance.cancel``, ``auth.sign_in_failed``, ..."""
    resource_type: str | None
    resource_id: str | None
    outcome: str
    """``allowed`` or ``denied``."""
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    """The hash of the record before (or of the trail's start)."""
    hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """One row of ``audit_checkpoints``: record ``seq``'s hash, signed."""

    seq: int
    hash: str
    signature: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit records to list (every given filter must match)."""

    actor: str | None = None
    action: str | None = None
    """An exact action, or a prefix ending in ``.`` (``instance.``)."""
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    """At or after."""
    until: datetime | None = None
    """Before."""
    after_seq: int | None = None
    """Only records after this one (oldest first)."""
    before_seq: int | None = None
    """Only records before this one."""
    newest_first: bool = False
    limit: int = 100


ALERT_KINDS = ("instance_overdue", "element_overdue", "error_rate", "job_queue_age")
"""The kinds of an alert (:attr:`AlertRecord.kind`)."""
DELIVERY_STATUSES = ("pending", "delivered", "failed")
"""The statuses of a webhook delivery (:attr:`DeliveryRecord.status`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """Something an operator should look at: raised once, open until resolved."""

    alert_key: int
    dedupe_key: str
    """Unique over every alert ever raised: what makes a sweep on two nodes raise it once
    (``instance_overdue:<instance key>``, ``error_rate:<process>:<version>:<window>``…)."""
    kind: str
    """One of :data:`ALERT_KINDS`."""
    raised_at: datetime
    process_id: str | None = None
    version: int | None = None
    instance_key: int | None = None
    element_id: str | None = None
    """The element (None for the whole instance, or for alerts about no element)."""
    element_instance_key: int | None = None
    resolved_at: datetime | None = None
    """When it was resolved (the instance moved on, or an operator resolved it)."""
    details: dict[str, Any] = field(default_factory=dict)
    """What the kind measures (expected and actual durations, a rate, a queue's age…)."""


@dataclass(frozen=True, slots=True)
class ServiceLevelRecord:
    """An expected duration set through the API; it overrides the model's."""

    process_id: str
    version: int
    """The process version, or 0 for every version."""
    element_id: str
    """The flow element, or ``""`` for the whole instance."""
    expected_duration: timedelta
    threshold: float | None
    """The overdue factor; None for the engine's default."""
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """An HTTP endpoint that alerts are posted to."""

    webhook_key: int
    url: str
    secret: str
    """The HMAC-SHA256 key the body is signed with."""
    kinds: tuple[str, ...] | None
    """The alert kinds sent there; None for all."""
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord:
    """One alert event to post to one webhook: the outbox row and its attempts."""

    delivery_key: int
    webhook_key: int
    alert_key: int
    event: str
    """``raised`` or ``resolved``."""
    payload: dict[str, Any]
    created_at: datetime
    status: str = "pending"
    """One of :data:`DELIVERY_STATUSES`."""
    attempts: int = 0
    next_attempt_at: datetime | None = None
    """When a pending delivery is tried next (or a claimed one's claim runs out)."""
    delivered_at: datetime | None = None
    last_error: str | None = None
