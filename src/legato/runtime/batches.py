"""Batch operations: cancel or retry many instances, named by key or by a filter.

An operator's batch runs synchronously in chunks of :data:`CHUNK` instances, each chunk one
transaction (one commit), so a large batch neither holds one long transaction nor commits
once per instance. Every instance is checked first; the ones that cannot be cancelled or
retried are skipped with the reason, and a command the engine refuses (the instance moved on
meanwhile) is skipped with the engine's message. A dry run checks without changing anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from legato.engine import commands as cmd
from legato.errors import InvalidCommandError
from legato.runtime.arguments import check_one_of
from legato.runtime.executor import CommandExecutor
from legato.runtime.types import BatchResult, InstanceFilter
from legato.store._rules import iter_chunks
from legato.store.incidents import Incidents
from legato.store.ports import Store, Transaction
from legato.store.records import INSTANCE_FILTER_STATUSES, InstanceQuery, InstanceRecord

BATCH_KINDS = ("cancel", "retry")
"""What a batch operation does to each instance."""
MAX_BATCH = 10_000
"""The most instances one batch operation takes (a larger one is refused, not cut short)."""
CHUNK = 100
"""Instances per transaction."""


def run_batch(
    store: Store,
    executor: CommandExecutor,
    kind: str,
    keys: Sequence[int] | None,
    selection: InstanceFilter | None,
    *,
    by: str | None,
    dry_run: bool,
    limit: int = MAX_BATCH,
) -> BatchResult:
    """Cancel or retry the instances named by ``keys`` or matched by ``selection``.

    Raises:
        InvalidCommandError: an unknown ``kind`` or status, neither or both of ``keys`` and
            ``selection``, or more than ``limit`` instances.
    """
    check_one_of("kind", kind, BATCH_KINDS)
    instance_keys = _selected(store, keys, selection, limit)
    result = BatchResult(kind=kind, dry_run=dry_run)
    for chunk in iter_chunks(instance_keys, CHUNK):
        with store.transaction() as tx:
            planned = _plan(tx, kind, chunk, by, result)
        if dry_run or not planned:
            result.done += list(planned)
            continue
        commands = [c for commands in planned.values() for c in commands]
        refused = {
            o.command.instance_key: str(o.error)
            for o in executor.execute(commands)
            if o.error is not None
        }
        for key in planned:
            if key in refused:
                result.skipped[key] = refused[key]
            else:
                result.done.append(key)
    return result


def _selected(
    store: Store, keys: Sequence[int] | None, selection: InstanceFilter | None, limit: int
) -> list[int]:
    if (keys is None) == (selection is None):
        raise InvalidCommandError("give either instance keys or a filter (exactly one of them)")
    if keys is not None:
        if len(keys) > limit:
            raise InvalidCommandError(
                f"keys: at most {limit:,} instances per batch operation, not {len(keys):,}"
            )
        return list(dict.fromkeys(keys))
    assert selection is not None
    check_one_of("status", selection.status, INSTANCE_FILTER_STATUSES)
    if selection.version is not None and selection.process_id is None:
        raise InvalidCommandError("filter.version: give the process id with a version")
    for name, moment in (
        ("started_after", selection.started_after),
        ("started_before", selection.started_before),
    ):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidCommandError(f"filter.{name}: give a time with its offset (UTC)")
    query = InstanceQuery(
        process_id=selection.process_id,
        version=selection.version,
        status=selection.status,
        business_key=selection.business_key,
        started_from=selection.started_after,
        started_before=selection.started_before,
        limit=limit + 1,
    )
    with store.transaction() as tx:
        found = [record.instance_key for record in tx.search_instances(query)]
    if len(found) > limit:
        raise InvalidCommandError(
            f"the filter matches more than {limit:,} instances: narrow it (at most {limit:,} "
            "per batch operation)"
        )
    return found


def _plan(
    tx: Transaction, kind: str, keys: Sequence[int], by: str | None, result: BatchResult
) -> dict[int, list[cmd.Command]]:
    """The commands for each instance of ``keys`` that can take them; the others are noted
    in ``result.skipped``."""
    records = {r.instance_key: r for r in tx.get_instances(keys)}
    planned: dict[int, list[cmd.Command]] = {}
    for key in keys:
        record = records.get(key)
        reason = _unfit(record, key, kind)
        if reason is None:
            assert record is not None
            commands = list(_commands(tx, kind, record, by))
            if commands:
                planned[key] = commands
                continue
            reason = f"instance {key} has no open incident"
        result.skipped[key] = reason
    return planned


def _unfit(record: InstanceRecord | None, key: int, kind: str) -> str | None:
    if record is None:
        return f"no instance with key {key}"
    if record.status != "active":
        return f"instance {key} is {record.status}"
    if kind == "cancel" and record.parent_instance_key is not None:
        # A called instance ends with its caller: cancelling it alone would leave the
        # caller waiting for ever (as Engine.cancel refuses it).
        return (
            f"instance {key} was called by instance {record.parent_instance_key}: cancel that one"
        )
    if kind == "retry" and record.suspended:
        return f"instance {key} is suspended: resume it first"
    return None


def _commands(
    tx: Incidents, kind: str, record: InstanceRecord, by: str | None
) -> Iterator[cmd.Command]:
    key = record.instance_key
    if kind == "cancel":
        yield cmd.CancelInstance(instance_key=key, reason="cancelled in a batch", by=by)
        return
    for incident in tx.list_incidents(state="open", instance_key=key):
        yield cmd.ResolveIncident(instance_key=key, incident_key=incident.incident_key, by=by)
