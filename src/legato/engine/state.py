"""The state of one process instance: what is active, its variables, jobs, tasks, incidents.

Only the appliers (:mod:`legato.engine.appliers`) change it. It serialises to JSON so the store
can keep it beside the history it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from legato.engine import values
from legato.engine.encoded import EncodedParts
from legato.engine.kinds import (
    DelegationState,
    IncidentPhase,
    InstanceStatus,
    SubscriptionKind,
)

_NONE: dict[str, Any] = {}
"""No variables (never changed)."""


@dataclass(frozen=True, slots=True)
class TaskPeople:
    """Who holds an open user task: the assignee, and the owner while it is delegated."""

    assignee: str | None = None
    owner: str | None = None
    delegation_state: DelegationState | None = None
    """``PENDING`` while delegated, ``RESOLVED`` once the delegate resolved it."""


@dataclass(slots=True)
class ElementInstance:
    """A token in an element (the process itself is the root element instance)."""

    key: int
    element_id: str
    kind: str
    parent_key: int | None
    flow_id: str | None = None
    loop_counter: int = 0
    is_mi_body: bool = False
    children: set[int] = field(default_factory=set)
    job_key: int | None = None
    user_task_key: int | None = None
    incident_key: int | None = None
    child_instance_key: int | None = None
    mi_count: int = 0
    mi_items: list[Any] | None = None
    mi_completed: int = 0
    mi_started: int = 0
    compensation_queue: list[tuple[str, int]] = field(default_factory=list)
    """For a compensation throw event: the handlers still to run, in order, each with the
    key its stashed work is kept under (0 for none)."""
    compensating_for: int | None = None
    """For a compensation handler: the throw event instance it runs for."""
    activated_at: datetime | None = None
    """When it was activated (None for the process itself, and in states stored before it
    was kept): metrics and traces measure the element from it when it ends on another node
    or after a restart."""

    def to_json(self) -> dict[str, Any]:
        # Spelled out field by field (no getattr loops): every saved instance serialises each
        # of its element instances.
        data: dict[str, Any] = {"key": self.key, "element_id": self.element_id, "kind": self.kind}
        if self.compensation_queue:
            data["compensation_queue"] = [list(item) for item in self.compensation_queue]
        if self.compensating_for is not None:
            data["compensating_for"] = self.compensating_for
        if self.parent_key is not None:
            data["parent_key"] = self.parent_key
        if self.flow_id is not None:
            data["flow_id"] = self.flow_id
        if self.job_key is not None:
            data["job_key"] = self.job_key
        if self.user_task_key is not None:
            data["user_task_key"] = self.user_task_key
        if self.incident_key is not None:
            data["incident_key"] = self.incident_key
        if self.child_instance_key is not None:
            data["child_instance_key"] = self.child_instance_key
        if self.loop_counter:
            data["loop_counter"] = self.loop_counter
        if self.mi_count:
            data["mi_count"] = self.mi_count
        if self.mi_completed:
            data["mi_completed"] = self.mi_completed
        if self.mi_started:
            data["mi_started"] = self.mi_started
        if self.is_mi_body:
            data["is_mi_body"] = True
            data["mi_items"] = values.encode(self.mi_items)
        if self.children:
            data["children"] = sorted(self.children)
        if self.activated_at is not None:
            # Seconds since the epoch: exact to the microsecond for centuries around now,
            # and several times cheaper than an ISO string (every save writes every token).
            data["activated_at"] = self.activated_at.timestamp()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ElementInstance:
        data = dict(data)
        data["children"] = set(data.get("children", ()))
        data.setdefault("parent_key", None)
        if "mi_items" in data:
            data["mi_items"] = values.decode(data["mi_items"])
        if "compensation_queue" in data:
            data["compensation_queue"] = [(h, k) for h, k in data["compensation_queue"]]
        if "activated_at" in data:
            data["activated_at"] = datetime.fromtimestamp(data["activated_at"], UTC)
        return cls(**data)


@dataclass(slots=True)
class JobState:
    """A job the instance waits for."""

    job_key: int
    element_instance_key: int
    job_type: str
    retries: int
    failed: bool = False


@dataclass(slots=True)
class IncidentState:
    """An open incident."""

    incident_key: int
    element_instance_key: int
    element_id: str
    error_type: str
    message: str
    phase: IncidentPhase
    job_key: int | None = None


@dataclass(slots=True)
class TimerState:
    """A timer an element instance waits on."""

    timer_key: int
    element_instance_key: int
    element_id: str
    due_at: datetime
    repetitions: int | None = None
    cycle: str | None = None


@dataclass(slots=True)
class SubscriptionState:
    """A message, signal or condition an element instance waits for."""

    subscription_key: int
    kind: SubscriptionKind
    name: str
    element_instance_key: int
    element_id: str
    correlation_key: str | None = None
    interrupting: bool = True


@dataclass(slots=True)
class InstanceState:
    """Everything the engine knows about one process instance."""

    instance_key: int
    definition_key: int = 0
    process_id: str = ""
    version: int = 0
    business_key: str | None = None
    status: InstanceStatus = "active"
    suspended: bool = False
    """Held by an operator (see :class:`~legato.engine.commands.SuspendInstance`); the
    status stays ``active``."""
    parent_instance_key: int | None = None
    parent_element_instance_key: int | None = None
    version_reason: str | None = None
    """Why the instance got its version (``latest``, ``explicit version``, ``rollout: 10%
    split``, …; see :mod:`legato.runtime.rollout`); None when nobody said."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    elements: dict[int, ElementInstance] = field(default_factory=dict)
    variables: dict[int, dict[str, Any]] = field(default_factory=dict)
    joins: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)
    jobs: dict[int, JobState] = field(default_factory=dict)
    user_tasks: dict[int, int] = field(default_factory=dict)
    """Open user task key -> element instance key."""
    task_people: dict[int, TaskPeople] = field(default_factory=dict)
    """Open user task key -> its assignee, owner and delegation state."""
    incidents: dict[int, IncidentState] = field(default_factory=dict)
    timers: dict[int, TimerState] = field(default_factory=dict)
    subscriptions: dict[int, SubscriptionState] = field(default_factory=dict)
    compensable: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)
    """By scope key: (activity id, handler id, stash key) of completed activities that can be
    undone, in the order they completed."""
    compensation_stash: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)
    """By completed sub-process key: what can be undone inside it, kept for its compensation
    event sub-process."""
    encoded: EncodedParts = field(
        default_factory=EncodedParts, init=False, repr=False, compare=False
    )
    """The parts of :meth:`to_json` encoded before; the appliers drop what they change."""

    @property
    def is_active(self) -> bool:
        """True until the instance completed or was terminated."""
        return self.status == "active"

    def visible_variables(self, scope_key: int) -> dict[str, Any]:
        """The variables seen from a scope: its own over its parents' over the root's."""
        element = self.elements.get(scope_key)
        if element is not None and element.parent_key == self.instance_key:
            # Most scopes are elements of the root (a task asking for its job's variables).
            visible = dict(self.variables.get(self.instance_key, _NONE))
            visible.update(self.variables.get(scope_key, _NONE))
            return visible
        chain: list[int] = []
        key: int | None = scope_key
        while key is not None:
            chain.append(key)
            element = self.elements.get(key)
            key = element.parent_key if element else None
        result: dict[str, Any] = {}
        for key in reversed(chain):
            result.update(self.variables.get(key, {}))
        return result

    def scope_defining(self, scope_key: int, name: str) -> int:
        """The nearest scope from ``scope_key`` upwards that has ``name``; else the root."""
        key: int | None = scope_key
        while key is not None:
            if name in self.variables.get(key, {}):
                return key
            element = self.elements.get(key)
            key = element.parent_key if element else None
        return self.instance_key

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible snapshot (values encoded).

        The parts that did not change since the last snapshot (the variables of a scope, an
        element instance) are the ones encoded then (see :mod:`legato.engine.encoded`): the
        snapshot is for dumping, not for changing.
        """
        data = self._to_json()
        if self.suspended:
            data["suspended"] = True  # absent otherwise: states stored before it stay equal
        if self.version_reason is not None:
            data["version_reason"] = self.version_reason
        return data

    def _to_json(self) -> dict[str, Any]:
        encoded = self.encoded
        # Most instances have no joins, incidents, timers, … : an empty part is not walked.
        return {
            "instance_key": self.instance_key,
            "definition_key": self.definition_key,
            "process_id": self.process_id,
            "version": self.version,
            "business_key": self.business_key,
            "status": self.status,
            "parent_instance_key": self.parent_instance_key,
            "parent_element_instance_key": self.parent_element_instance_key,
            "started_at": encoded.started_at(self.started_at),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "elements": encoded.elements(self.elements.values()),
            "variables": encoded.variables(self.variables),
            "joins": [
                [scope, element_id, flows] for (scope, element_id), flows in self.joins.items()
            ]
            if self.joins
            else [],
            "jobs": [
                [j.job_key, j.element_instance_key, j.job_type, j.retries, j.failed]
                for j in self.jobs.values()
            ]
            if self.jobs
            else [],
            "user_tasks": [[k, v] for k, v in self.user_tasks.items()] if self.user_tasks else [],
            "task_people": [
                [k, t.assignee, t.owner, t.delegation_state] for k, t in self.task_people.items()
            ]
            if self.task_people
            else [],
            "incidents": [
                [
                    i.incident_key,
                    i.element_instance_key,
                    i.element_id,
                    i.error_type,
                    i.message,
                    i.phase,
                    i.job_key,
                ]
                for i in self.incidents.values()
            ]
            if self.incidents
            else [],
            "timers": [
                [
                    t.timer_key,
                    t.element_instance_key,
                    t.element_id,
                    t.due_at.isoformat(),
                    t.repetitions,
                    t.cycle,
                ]
                for t in self.timers.values()
            ]
            if self.timers
            else [],
            "compensable": [
                [scope, [list(entry) for entry in entries]]
                for scope, entries in self.compensable.items()
            ]
            if self.compensable
            else [],
            "compensation_stash": [
                [key, [list(entry) for entry in entries]]
                for key, entries in self.compensation_stash.items()
            ]
            if self.compensation_stash
            else [],
            "subscriptions": [
                [
                    s.subscription_key,
                    s.kind,
                    s.name,
                    s.element_instance_key,
                    s.element_id,
                    s.correlation_key,
                    s.interrupting,
                ]
                for s in self.subscriptions.values()
            ]
            if self.subscriptions
            else [],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstanceState:
        """Rebuild a state from :meth:`to_json`."""
        state = cls(
            instance_key=data["instance_key"],
            definition_key=data["definition_key"],
            process_id=data["process_id"],
            version=data["version"],
            business_key=data["business_key"],
            status=data["status"],
            suspended=data.get("suspended", False),
            version_reason=data.get("version_reason"),
            parent_instance_key=data["parent_instance_key"],
            parent_element_instance_key=data["parent_element_instance_key"],
            started_at=_parse_time(data["started_at"]),
            ended_at=_parse_time(data["ended_at"]),
        )
        for raw in data["elements"]:
            element = ElementInstance.from_json(raw)
            state.elements[element.key] = element
        state.variables = {
            int(scope): {name: values.decode(v) for name, v in scope_vars.items()}
            for scope, scope_vars in data["variables"].items()
        }
        state.joins = {
            (scope, element_id): dict(flows) for scope, element_id, flows in data["joins"]
        }
        state.jobs = {row[0]: JobState(*row) for row in data["jobs"]}
        state.user_tasks = {k: v for k, v in data["user_tasks"]}
        state.task_people = {row[0]: TaskPeople(*row[1:]) for row in data.get("task_people", ())}
        state.incidents = {row[0]: IncidentState(*row) for row in data["incidents"]}
        for key, owner, element_id, due, repetitions, cycle in data.get("timers", ()):
            state.timers[key] = TimerState(
                key, owner, element_id, datetime.fromisoformat(due), repetitions, cycle
            )
        state.compensable = {
            scope: [(a, h, k) for a, h, k in entries]
            for scope, entries in data.get("compensable", ())
        }
        state.compensation_stash = {
            key: [(a, h, k) for a, h, k in entries]
            for key, entries in data.get("compensation_stash", ())
        }
        state.subscriptions = {
            row[0]: SubscriptionState(*row) for row in data.get("subscriptions", ())
        }
        return state


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
