"""Migrating many instances as a durable batch: progress, a rate limit, pause and resume.

A batch is a row of ``batch_operations`` with one ``batch_items`` row per selected instance.
It runs in chunks: each chunk is one transaction that takes the batch's lock (one node at a
time, the others skip it), reads the next pending instances, migrates each of them and marks
each item done or failed (with the engine's reason) in that same transaction. So after a
crash every instance is either migrated and marked, or neither, and the batch resumes at the
first pending instance. Instances that changed since they were selected and no longer fit the
plan are failed, not migrated; the others go on.

Whoever serves the database runs the batches (:meth:`legato.Engine.serve`; and
:meth:`~legato.Engine.run_until_idle` runs those started through its engine), between its
other work, so the engine keeps serving other instances meanwhile; ``rate`` caps the
instances per second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.executor import CommandExecutor, Outcome
from legato.runtime.keys import KeyAllocator
from legato.runtime.migration import MigrationPlan
from legato.runtime.types import InstanceFilter
from legato.store.ports import Store, Transaction
from legato.store.records import BatchOperationRecord, InstanceQuery

CHUNK = 100
"""Instances migrated per transaction."""
PAGE = 1000
"""Instances selected per read when a batch is created from a filter."""
MAX_SELECTION = 1_000_000
"""The most instances one batch takes."""
LOOK_EVERY = timedelta(seconds=1)
"""How often a node that knows of no running batch looks for one."""
STATUSES = ("running", "paused", "completed", "cancelled")


@dataclass(frozen=True, slots=True)
class BatchOperation:
    """A batch operation and its progress (see :meth:`legato.Engine.migrate_in_batch`)."""

    key: int
    kind: str
    status: str
    """``running``, ``paused``, ``completed`` or ``cancelled``."""
    total: int
    done: int
    failed: int
    rate: float | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    spec: dict[str, Any]

    @property
    def pending(self) -> int:
        """Instances not yet tried."""
        return self.total - self.done - self.failed


def _operation(record: BatchOperationRecord) -> BatchOperation:
    return BatchOperation(
        key=record.batch_key,
        kind=record.kind,
        status=record.status,
        total=record.total,
        done=record.done,
        failed=record.failed,
        rate=record.rate,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        ended_at=record.ended_at,
        spec=record.spec,
    )


def plan_spec(plan: MigrationPlan) -> dict[str, Any]:
    """A plan as the JSON a batch keeps."""
    spec = dataclasses.asdict(plan)
    spec["mappings"] = [list(pair) for pair in plan.mappings]
    spec["variables"] = [list(pair) for pair in plan.variables]
    return spec


def plan_of(spec: dict[str, Any]) -> MigrationPlan:
    """The plan a batch keeps."""
    values = dict(spec)
    values["mappings"] = tuple(tuple(pair) for pair in spec["mappings"])
    values["variables"] = tuple(tuple(pair) for pair in spec["variables"])
    return MigrationPlan(**values)


class MigrationBatches:
    """Creates, runs and controls the migration batches of one engine."""

    def __init__(
        self,
        store: Store,
        executor: CommandExecutor,
        now: Callable[[], datetime],
        keys: KeyAllocator,
    ) -> None:
        self.store = store
        self.executor = executor
        self.now = now
        self.keys = keys
        self._next_look: datetime | None = None
        self._next_chunk: dict[int, datetime] = {}
        self._local: list[int] = []
        """Batches started or resumed through this engine, not yet run by it."""

    # -- control ---------------------------------------------------------------------------------

    def create(
        self,
        plan: MigrationPlan,
        instance_keys: Sequence[int] | None,
        selection: InstanceFilter | None,
        rate: float | None,
        by: str | None,
    ) -> BatchOperation:
        """A new running batch over the instances named, or matched by ``selection``, or
        (neither given) every active instance of the plan's source version."""
        if instance_keys is not None and selection is not None:
            raise InvalidCommandError("give instance keys or a filter, not both")
        if rate is not None and rate <= 0:
            raise InvalidCommandError(
                f"rate: give a positive number of instances per second, not {rate}"
            )
        keys = list(dict.fromkeys(instance_keys)) if instance_keys is not None else None
        if keys is not None and len(keys) > MAX_SELECTION:
            raise InvalidCommandError(
                f"at most {MAX_SELECTION:,} instances per batch, not {len(keys):,}"
            )
        now = self.now()
        with self.keys.transaction(self.store) as tx:
            if keys is None:
                keys = selected_instances(tx, plan, selection)
            record = BatchOperationRecord(
                batch_key=self.keys.new_key(),
                kind="migration",
                status="running" if keys else "completed",
                spec=plan_spec(plan),
                total=len(keys),
                created_at=now,
                updated_at=now,
                rate=rate,
                created_by=by,
                ended_at=None if keys else now,
            )
            tx.insert_batch_operation(record)
            tx.add_batch_items(record.batch_key, keys)
        self._next_look = None
        if keys:
            self._local.append(record.batch_key)
        return _operation(record)

    def get(self, batch_key: int) -> BatchOperation:
        """A batch operation as it is now.

        Raises:
            NotFoundError: no such batch operation.
        """
        with self.store.transaction() as tx:
            record = tx.get_batch_operation(batch_key)
        if record is None or record.kind != "migration":
            raise NotFoundError(f"no batch operation with key {batch_key}")
        return _operation(record)

    def recent(self, limit: int = 100) -> list[BatchOperation]:
        """The newest batch operations first."""
        with self.store.transaction() as tx:
            found = tx.list_batch_operations(limit)
        # A key rotation (legato.runtime.rekey) is a batch operation too, managed elsewhere.
        return [_operation(r) for r in found if r.kind == "migration"]

    def failures(self, batch_key: int) -> list[tuple[int, str]]:
        """The instances a batch could not migrate, with the reason of each."""
        self.get(batch_key)
        with self.store.transaction() as tx:
            return tx.failed_batch_items(batch_key)

    def set_status(
        self, batch_key: int, status: str, allowed_from: tuple[str, ...]
    ) -> BatchOperation:
        """Pause, resume or cancel a batch.

        Raises:
            NotFoundError: no such batch operation.
            InvalidCommandError: the batch is not in a state it can go to ``status`` from.
        """
        now = self.now()
        with self.store.transaction() as tx:
            record = tx.get_batch_operation(batch_key)
            if record is None or record.kind != "migration":
                raise NotFoundError(f"no batch operation with key {batch_key}")
            if record.status not in allowed_from:
                raise InvalidCommandError(
                    f"batch operation {batch_key} is {record.status}: it cannot be {status}"
                )
            ended = now if status == "cancelled" else None
            record = dataclasses.replace(record, status=status, updated_at=now, ended_at=ended)
            tx.update_batch_operation(record)
        self._next_look = None
        if status == "running" and batch_key not in self._local:
            self._local.append(batch_key)
        return _operation(record)

    # -- running ---------------------------------------------------------------------------------

    def run_due(self) -> int:
        """Run one chunk of each running batch that is due (its rate allows it); returns the
        instances tried. Cheap when there is none: the database is asked at most once a
        :data:`LOOK_EVERY` then."""
        running = self._running()
        now = self.now()
        tried = 0
        for record in running:
            due = self._next_chunk.get(record.batch_key)
            if due is None or now >= due:
                tried += self.run_chunk(record.batch_key)[0]
        return tried

    def run_local(self, sleep: Callable[[float], None]) -> int:
        """Run the batches started through this engine to their end (or until paused or
        cancelled; see :meth:`run_to_end`); returns how many ran. Costs nothing when there
        are none (batches started elsewhere are run by :meth:`run_due`, in ``serve``)."""
        started, self._local = self._local, []
        for batch_key in started:
            self.run_to_end(batch_key, sleep)
        return len(started)

    def _running(self) -> list[BatchOperationRecord]:
        now = self.now()
        if self._next_look is not None and now < self._next_look:
            return []
        with self.store.transaction() as tx:
            # Other kinds of batches (a key rotation, legato.runtime.rekey) run elsewhere.
            running = [
                r for r in tx.list_batch_operations(1000, status="running") if r.kind == "migration"
            ]
        if not running:
            self._next_look = now + LOOK_EVERY
        return running

    def next_due(self) -> datetime | None:
        """When a rate-limited running batch may take its next chunk (None: none waits)."""
        return min(self._next_chunk.values(), default=None)

    def run_chunk(self, batch_key: int) -> tuple[int, str | None]:
        """Migrate the next chunk of a batch (see the module docstring); returns the
        instances tried (0 when another node holds the batch or it is not running) and the
        batch's status after (None when another node holds it, ``missing`` when there is no
        such batch)."""
        seen: dict[str, Any] = {"status": None, "keys": [], "rate": None}

        def plan_chunk(tx: Transaction) -> list[cmd.Command]:
            if not tx.try_lock(f"batch:{batch_key}"):
                return []
            record = tx.get_batch_operation(batch_key)
            if record is None or record.status != "running":
                seen["status"] = "missing" if record is None else record.status
                return []
            rate = seen["rate"] = record.rate
            size = CHUNK if rate is None else max(1, min(CHUNK, int(rate)))
            keys = seen["keys"] = tx.pending_batch_items(batch_key, size)
            seen["status"] = record.status
            plan = plan_of(record.spec)
            return [plan.command(key, record.created_by) for key in keys]

        def record_outcomes(tx: Transaction, outcomes: list[Outcome]) -> None:
            if seen["keys"]:
                refused = {
                    o.command.instance_key: str(o.error) for o in outcomes if o.error is not None
                }
                done = [k for k in seen["keys"] if k not in refused]
                seen["status"] = tx.finish_batch_items(batch_key, done, refused, self.now()).status

        self.executor.execute_in(plan_chunk, record_outcomes)
        tried, rate = len(seen["keys"]), seen["rate"]
        if rate is not None and tried and seen["status"] == "running":
            self._next_chunk[batch_key] = self.now() + timedelta(seconds=tried / rate)
        else:
            self._next_chunk.pop(batch_key, None)
        return tried, seen["status"]

    def run_to_end(self, batch_key: int, sleep: Callable[[float], None]) -> BatchOperation:
        """Run a batch chunk after chunk until it is no longer running (done, paused or
        cancelled from elsewhere), keeping to its rate with ``sleep``."""
        while self.step(batch_key, sleep) in ("running", None):
            pass
        return self.get(batch_key)

    def step(self, batch_key: int, sleep: Callable[[float], None]) -> str | None:
        """Run the next chunk of a running batch, once its rate allows (``sleep`` waits);
        the batch's status after (None while another node holds it)."""
        due = self._next_chunk.get(batch_key)
        if due is not None:
            sleep(max((due - self.now()).total_seconds(), 0.0))
        tried, status = self.run_chunk(batch_key)
        if not tried and status in ("running", None):
            sleep(0.05)  # another node holds it: its chunk ends soon
        return status


def selected_instances(
    tx: Transaction, plan: MigrationPlan, selection: InstanceFilter | None
) -> list[int]:
    """The active instances of the plan's source version (matching ``selection``)."""
    if selection is not None and selection.process_id not in (None, plan.process_id):
        raise InvalidCommandError(
            f"filter.process_id: the plan migrates '{plan.process_id}', "
            f"not '{selection.process_id}'"
        )
    if selection is not None and selection.version not in (None, plan.source_version):
        raise InvalidCommandError(
            f"filter.version: the plan migrates version {plan.source_version}, "
            f"not {selection.version}"
        )
    keys: list[int] = []
    after = None
    while True:
        query = InstanceQuery(
            process_id=plan.process_id,
            version=plan.source_version,
            status="active",
            business_key=selection.business_key if selection else None,
            started_from=selection.started_after if selection else None,
            started_before=selection.started_before if selection else None,
            after=after,
            limit=PAGE,
        )
        page = tx.search_instances(query)
        keys += [record.instance_key for record in page]
        if len(page) < PAGE:
            return keys
        after = (page[-1].started_at, page[-1].instance_key)
