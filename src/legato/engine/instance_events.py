"""Events of an instance's tokens: the instance, its element instances, joins, variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from legato.engine.event_base import Event, register


@register
@dataclass(slots=True, kw_only=True)
class InstanceCreated(Event):
    """A process instance was created (its root scope is ``instance_key``)."""

    instance_key: int
    definition_key: int
    process_id: str
    version: int
    business_key: str | None = None
    parent_instance_key: int | None = None
    parent_element_instance_key: int | None = None
    version_reason: str | None = None
    """Why the instance got this version (see :mod:`legato.runtime.rollout`)."""


@register
@dataclass(slots=True, kw_only=True)
class InstanceCompleted(Event):
    """Every path of the instance ended."""


@register
@dataclass(slots=True, kw_only=True)
class InstanceTerminated(Event):
    """The instance was cancelled or ended by a terminate end event of its root scope."""

    reason: str = ""
    by: str | None = None
    """Who cancelled it (None: the process itself, or no one named)."""


@register
@dataclass(slots=True, kw_only=True)
class InstanceSuspended(Event):
    """An operator suspended the instance: it takes no work until resumed."""

    by: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class InstanceResumed(Event):
    """An operator resumed a suspended instance."""

    by: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class InstanceMigrated(Event):
    """An operator moved the running instance to another process version.

    Its element instances keep their keys and take the ids of ``elements``; its jobs keep
    their keys (so handlers' idempotency keys stay valid), with the types of ``job_types``
    where the new version's differ; its user tasks keep assignee and claim, named as in
    ``task_names``. The waits that move are closed and opened again around this event.
    """

    source_definition_key: int
    definition_key: int
    process_id: str
    version: int
    elements: list[list[Any]]
    """``[element instance key, element id before, element id after]`` of every element
    instance whose id changes (the process itself included)."""
    renamed: list[list[str]] = field(default_factory=list)
    """``[element id before, element id after]`` of the ids of the plan that change, for what
    refers to elements by id alone (tokens waiting at a join, completed activities to
    compensate)."""
    job_types: list[list[Any]] = field(default_factory=list)
    """``[job key, new type]`` of the jobs whose type changes."""
    task_names: list[list[Any]] = field(default_factory=list)
    """``[user task key, name in the new version]`` of the open user tasks."""
    incidents: list[list[Any]] = field(default_factory=list)
    """``[incident key, element id before]`` of the open incidents (moved with their element)."""
    by: str | None = None
    """Who migrated it."""


@register
@dataclass(slots=True, kw_only=True)
class InstanceModified(Event):
    """An operator started or cancelled tokens of the instance by hand.

    The terminations, activations and variable changes follow as their own events.
    """

    instructions: list[dict[str, Any]]
    """The instructions in order: ``{"start_before" | "start_after" | "cancel": element id}``,
    with the ``variables`` names set, and the ``element_instance_keys`` a cancellation ends."""
    by: str | None = None
    """Who modified it."""


@register
@dataclass(slots=True, kw_only=True)
class ElementActivated(Event):
    """A token entered an element; ``key`` is the new element instance."""

    key: int
    element_id: str
    element_kind: str
    parent_key: int
    flow_id: str | None = None
    loop_counter: int = 0
    is_mi_body: bool = False


@register
@dataclass(slots=True, kw_only=True)
class ElementCompleted(Event):
    """An element instance finished its work normally."""

    key: int
    element_id: str


@register
@dataclass(slots=True, kw_only=True)
class ElementTerminated(Event):
    """An element instance was ended before finishing its work."""

    key: int
    element_id: str


@register
@dataclass(slots=True, kw_only=True)
class JoinTokenArrived(Event):
    """A token arrived at a joining gateway and waits there."""

    scope_key: int
    element_id: str
    flow_id: str


@register
@dataclass(slots=True, kw_only=True)
class JoinTokensConsumed(Event):
    """A joining gateway fired and consumed the waiting tokens (flow id -> count)."""

    scope_key: int
    element_id: str
    consumed: dict[str, int]


@register
@dataclass(slots=True, kw_only=True)
class VariableSet(Event):
    """A variable was created or changed in a scope (an element instance key)."""

    scope_key: int
    name: str
    value: Any


@register
@dataclass(slots=True, kw_only=True)
class VariablesEdited(Event):
    """Someone outside the process changed variables of a scope (an operator's fix).

    ``changes`` maps each name to ``{"old": value, "new": value}`` (``old`` is None for a
    variable the scope did not have); the :class:`VariableSet` events that follow change
    the state.
    """

    scope_key: int
    changes: dict[str, dict[str, Any]]
    by: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class MultiInstanceStarted(Event):
    """A multi-instance body fixed its input: ``items`` (or None) and the instance count."""

    key: int
    count: int
    items: list[Any] | None = None


@register
@dataclass(slots=True, kw_only=True)
class CallActivityChildStarted(Event):
    """A call activity started its child instance."""

    element_instance_key: int
    child_instance_key: int


__all__ = [
    "CallActivityChildStarted",
    "ElementActivated",
    "ElementCompleted",
    "ElementTerminated",
    "InstanceCompleted",
    "InstanceCreated",
    "InstanceMigrated",
    "InstanceModified",
    "InstanceResumed",
    "InstanceSuspended",
    "InstanceTerminated",
    "JoinTokenArrived",
    "JoinTokensConsumed",
    "MultiInstanceStarted",
    "VariableSet",
    "VariablesEdited",
]
