"""The read side of the engine: what is stored, as the engine's public types.

Each function opens one read transaction of its own and returns values that outlive it
(:class:`~legato.runtime.types.InstanceInfo`, :class:`~legato.runtime.types.HistoryEntry`,
the engine state, the store's frozen records). :class:`legato.Engine` answers its queries
through these; tools that hold an engine (the command line) call them the same way instead
of opening store transactions themselves.
"""

from __future__ import annotations

from legato.engine.appliers import replay as replay_events
from legato.engine.state import InstanceState
from legato.errors import NotFoundError
from legato.runtime.arguments import check_one_of
from legato.runtime.cockpit import instance_info
from legato.runtime.executor import decode_event
from legato.runtime.types import HistoryEntry, InstanceInfo
from legato.store._rules import ENDED_STATUSES
from legato.store.ports import Store
from legato.store.records import (
    INCIDENT_STATES,
    INSTANCE_FILTER_STATUSES,
    JOB_STATES,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    NodeRecord,
)


def instance(store: Store, instance_key: int) -> InstanceInfo:
    """An instance as it is now.

    Raises:
        NotFoundError: no such instance.
    """
    return instance_info(_stored_instance(store, instance_key))


def instances(
    store: Store,
    *,
    status: str | None = None,
    process_id: str | None = None,
    business_key: str | None = None,
    limit: int = 100,
) -> list[InstanceInfo]:
    """Instances, newest first, each with where it waits and its root variables.

    Raises:
        InvalidCommandError: ``status`` is none of ``active``, ``suspended``, ``completed``,
            ``terminated``.
    """
    check_one_of("status", status, INSTANCE_FILTER_STATUSES)
    with store.transaction() as tx:
        records = tx.list_instances(
            status=status, process_id=process_id, business_key=business_key, limit=limit
        )
        # The list query leaves the states out; one more query reads those of this page.
        states = {r.instance_key: r for r in tx.get_instances([r.instance_key for r in records])}
    return [instance_info(states.get(r.instance_key, r)) for r in records]


def count_ended(store: Store) -> int:
    """How many instances have ended (completed or terminated) and are still stored."""
    with store.transaction() as tx:
        return sum(tx.count_instances(status=status) for status in ENDED_STATUSES)


def state(store: Store, instance_key: int) -> InstanceState:
    """The engine state of an instance (tokens, scopes, variables) as stored.

    Raises:
        NotFoundError: no such instance.
    """
    data = dict(_stored_instance(store, instance_key).state)
    data.pop("history_length", None)
    return InstanceState.from_json(data)


def history(store: Store, instance_key: int) -> list[HistoryEntry]:
    """An instance's history, in order."""
    with store.transaction() as tx:
        records = tx.history(instance_key)
    return [
        HistoryEntry(r.position, r.event_type, r.at, r.element_id, dict(r.payload)) for r in records
    ]


def replay(store: Store, instance_key: int) -> InstanceState:
    """An instance's state rebuilt from its stored history alone.

    Raises:
        NotFoundError: the instance has no history.
    """
    with store.transaction() as tx:
        records = tx.history(instance_key)
    if not records:
        raise NotFoundError(f"no history for instance {instance_key}")
    return replay_events(instance_key, (decode_event(r) for r in records))


def incidents(
    store: Store, *, state: str | None = "open", instance_key: int | None = None
) -> list[IncidentRecord]:
    """Incidents (open ones by default), oldest first.

    Raises:
        InvalidCommandError: ``state`` is neither ``open`` nor ``resolved``.
    """
    check_one_of("state", state, INCIDENT_STATES)
    with store.transaction() as tx:
        return tx.list_incidents(state=state, instance_key=instance_key)


def jobs(
    store: Store, *, instance_key: int | None = None, state: str | None = None
) -> list[JobRecord]:
    """Jobs, oldest first.

    Raises:
        InvalidCommandError: ``state`` is none of ``activatable``, ``activated``, ``failed``.
    """
    check_one_of("state", state, JOB_STATES)
    with store.transaction() as tx:
        return tx.list_jobs(instance_key=instance_key, state=state)


def nodes(store: Store) -> list[NodeRecord]:
    """The engine nodes that serve this database, with their last heartbeat and load."""
    with store.transaction() as tx:
        return tx.list_nodes()


def _stored_instance(store: Store, instance_key: int) -> InstanceRecord:
    with store.transaction() as tx:
        record = tx.get_instance(instance_key)
    if record is None:
        raise NotFoundError(f"no instance with key {instance_key}")
    return record
