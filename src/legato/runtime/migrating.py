"""Moving running instances to another process version (mixed into
:class:`~legato.runtime.engine.Engine`): plans, dry runs, migration all or nothing, and
durable batches with their progress and control (see :mod:`legato.runtime.migration` and
:mod:`legato.runtime.migration_batches`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from legato.errors import NotFoundError
from legato.model import ProcessDefinition
from legato.runtime import migration
from legato.runtime.arguments import checked_arguments
from legato.runtime.clock import Clock
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor
from legato.runtime.migration import MigrationCheck, MigrationPlan
from legato.runtime.migration_batches import BatchOperation, MigrationBatches
from legato.runtime.types import InstanceFilter

if TYPE_CHECKING:
    from legato.runtime.delivery import EventDelivery
    from legato.store.ports import Store


@checked_arguments
class MigrationMethods:
    """Instance migration (mixed into the engine)."""

    store: Store
    clock: Clock
    _definitions: DefinitionRegistry
    _executor: CommandExecutor
    _migrations: MigrationBatches
    _events: EventDelivery

    def process_model(self, process_id: str, version: int | None = None) -> ProcessDefinition:
        """The model of a deployed process version (the newest when ``version`` is None):
        its elements and flows, as the engine runs them.

        Raises:
            NotFoundError: no such process (version) is deployed.
        """
        with self.store.transaction() as tx:
            record = tx.find_definition(process_id, version)
        if record is None:
            shown = f"process '{process_id}'" + ("" if version is None else f" version {version}")
            raise NotFoundError(f"{shown} is not deployed")
        return self._definitions.get(record.definition_key).process

    def migration_plan(
        self,
        process_id: str,
        source_version: int = 1,
        target_version: int = 2,
        mappings: Mapping[str, str] | None = None,
        *,
        target_process_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        recreate_timers: bool = False,
    ) -> MigrationPlan:
        """A plan to move running instances of one process version to another.

        Active elements move to the element of the same id unless ``mappings`` (source id to
        target id) names another; ``variables`` (name to FEEL expression, evaluated in each
        instance's root scope) are set after the move; timers keep their due time unless
        ``recreate_timers`` sets the ones whose definition changed anew. See
        :meth:`check_migration` and :meth:`migrate`.

        Raises:
            NotFoundError: a version is not deployed.
            MigrationError: a mapping names an element that version does not have, or a
                variable expression is not FEEL.
        """
        return migration.make_plan(
            self.store,
            self._definitions,
            process_id,
            source_version,
            target_version,
            mappings,
            target_process_id=target_process_id,
            variables=variables,
            recreate_timers=recreate_timers,
        )

    def check_migration(
        self, plan: MigrationPlan, instance_keys: Sequence[int]
    ) -> list[MigrationCheck]:
        """A dry run: for each instance, ``ok`` with the changes the migration would make,
        or the ``reason`` it cannot move (an element with no target, a join that would wait
        for ever, a message wait whose correlation key the target computes differently, ...).
        Nothing is written."""
        return migration.check(self.store, self._executor, plan, instance_keys)

    def migrate(
        self, plan: MigrationPlan, instance_keys: Sequence[int], *, by: str | None = None
    ) -> list[int]:
        """Move the instances to the plan's target version, all or none, in one transaction
        (at most 10,000): element instances, jobs (same keys), user tasks (same assignee and
        claim), timers (same due time) and subscriptions go with them; each instance's history
        records ``InstanceMigrated`` with ``by``. Returns the keys migrated.

        Raises:
            MigrationError: an instance does not fit the plan (the error's ``problems`` names
                the reason for each); nothing was migrated.
        """
        keys = migration.migrate(self.store, self._executor, plan, instance_keys, by)
        self._events.timers_changed()
        return keys

    def migrate_in_batch(
        self,
        plan: MigrationPlan,
        instance_keys: Sequence[int] | None = None,
        *,
        filter: InstanceFilter | None = None,
        rate: float | None = None,
        by: str | None = None,
    ) -> BatchOperation:
        """Start a durable batch that migrates many instances by ``plan``: those named, or
        those ``filter`` matches among the active instances of the plan's source version
        (every one of them when neither is given), at most ``rate`` per second.

        The batch runs in the background of whoever serves the database (:meth:`serve`; the
        next :meth:`run_until_idle` of this engine runs it too, and :meth:`run_batch_operation`
        at once), 100 instances a
        transaction, each instance migrated and marked done together: a crash leaves every
        instance migrated or not, and the batch goes on where it stopped. Instances that no
        longer fit the plan are skipped, each with its reason (:meth:`batch_failures`).
        Watch it with :meth:`batch_operation`; pause, resume or cancel it any time.
        """
        return self._migrations.create(plan, instance_keys, filter, rate, by)

    def batch_operation(self, batch_key: int) -> BatchOperation:
        """A batch operation with its progress (``total``, ``done``, ``failed``, ``pending``)
        and status (``running``, ``paused``, ``completed``, ``cancelled``)."""
        return self._migrations.get(batch_key)

    def batch_operations(self, limit: int = 100) -> list[BatchOperation]:
        """The newest batch operations first."""
        return self._migrations.recent(limit)

    def batch_failures(self, batch_key: int) -> list[tuple[int, str]]:
        """The instances a batch operation could not migrate, each with the reason."""
        return self._migrations.failures(batch_key)

    def pause_batch_operation(self, batch_key: int) -> BatchOperation:
        """Stop a running batch after its current chunk; :meth:`resume_batch_operation`
        goes on with the rest."""
        return self._migrations.set_status(batch_key, "paused", ("running",))

    def resume_batch_operation(self, batch_key: int) -> BatchOperation:
        """Go on with a paused batch."""
        return self._migrations.set_status(batch_key, "running", ("paused",))

    def cancel_batch_operation(self, batch_key: int) -> BatchOperation:
        """End a running or paused batch: the instances it migrated stay migrated, the
        others stay where they are."""
        return self._migrations.set_status(batch_key, "cancelled", ("running", "paused"))

    def run_batch_operation(self, batch_key: int) -> BatchOperation:
        """Run a batch operation here until it is completed (or paused or cancelled from
        elsewhere), keeping to its rate; returns it as it ended."""
        operation = self._migrations.run_to_end(batch_key, self.clock.sleep)
        self._events.timers_changed()
        return operation

    def run_batch_operation_chunk(self, batch_key: int) -> BatchOperation:
        """Run the next chunk of a running batch operation here (after waiting for its
        rate); returns it as it is after (a progress bar's step)."""
        self._migrations.step(batch_key, self.clock.sleep)
        self._events.timers_changed()
        return self._migrations.get(batch_key)
