"""The narrow port between the runtime and a database.

A :class:`Store` hands out :class:`Transaction` objects; everything done through one
transaction commits together or not at all (a command, its state change, its history and the
jobs it creates). Adapters: :mod:`legato.store.memory` (tests) and :mod:`legato.store.sql`
(SQLite, later PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from legato.store.derived import DerivedRows
from legato.store.records import (
    ApiKeyRecord,
    DecisionEvaluationRecord,
    DefinitionRecord,
    ElementCountsRecord,
    FormRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    NodeRecord,
    SubscriptionRecord,
    TimerRecord,
    UserRecord,
    UserTaskQuery,
    UserTaskRecord,
)


class Transaction(Protocol):
    """Reads and writes inside one database transaction."""

    # -- keys ---------------------------------------------------------------------------------
    def reserve_keys(self, count: int) -> range:
        """Reserve ``count`` fresh keys, unique across the whole database, for ever."""

    # -- definitions --------------------------------------------------------------------------
    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""

    # -- instances ----------------------------------------------------------------------------
    def insert_instance(self, record: InstanceRecord) -> None:
        """Store a new instance (revision 0)."""

    def update_instance(self, record: InstanceRecord) -> None:
        """Save an instance whose ``revision`` was incremented by the caller.

        Raises:
            StoreError: if the stored revision is not ``record.revision - 1`` (a concurrent
                change: the caller reloads and retries the command).
        """

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances at once (one statement where the database allows)."""

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances at once, with the revision check of :meth:`update_instance`.

        Raises:
            StoreError: if any stored revision is not the record's ``revision - 1``.
        """

    def get_revision(self, instance_key: int) -> int | None:
        """The stored revision of an instance (None if there is none): a cheap check that a
        cached state is still current."""

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys (with their states), in no particular order; unknown
        keys are left out. Reads many states in a few queries instead of one each."""

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""

    def list_instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        """Instances, newest first; the returned records may carry an empty ``state``."""

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""

    # -- cockpit queries and the tables derived from history ---------------------------------
    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first; the records carry an empty
        ``state``."""

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query``'s filters find (its page position included, its
        limit ignored), counting no further than ``cap``."""

    def instance_summaries(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys with an empty ``state``, in no particular order;
        unknown keys are left out."""

    def write_derived(self, rows: DerivedRows, shard: int) -> None:
        """Apply derived-table changes: root variables, decision evaluations, and the
        counter deltas added to the rows of ``shard`` (0 to 15)."""

    def clear_derived(self) -> None:
        """Empty the derived tables (before they are rebuilt from the history)."""

    def element_counts(self, definition_keys: Sequence[int]) -> list[ElementCountsRecord]:
        """Per element, the counts of these process versions summed, by element id (the
        instances' own row, element id ``""``, left out)."""

    def counts_by_definition(self) -> dict[int, tuple[int, int, int, int]]:
        """Per definition key: (active, completed and terminated instances, open incidents);
        versions that never ran may be left out."""

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        """Open incidents counted by (process id, element id, error type, message): each
        with its count and its oldest and newest creation time; at most ``limit`` causes."""

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        """Up to ``limit`` open incidents, oldest first, each with its instance's process id."""

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        """A decision's evaluations, newest first (time, instance key, position descending),
        after the (time, instance key, position) of the last one of a previous page."""

    def select_instance_keys(
        self,
        *,
        process_id: str | None = None,
        version: int | None = None,
        status: str | None = None,
        business_key: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int,
    ) -> list[int]:
        """The keys of up to ``limit`` instances that match every filter given, oldest
        first (``status`` may be ``suspended``; started in ``[started_after,
        started_before)``)."""

    # -- idempotent starts --------------------------------------------------------------------
    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""

    # -- history ------------------------------------------------------------------------------
    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""

    # -- jobs ---------------------------------------------------------------------------------
    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row."""

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs."""

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key; ``for_update`` locks its row until the transaction ends
        (PostgreSQL), so that no other transaction hands it out or changes it meanwhile."""

    def find_fetchable_jobs(
        self,
        job_types: Sequence[str],
        now: datetime,
        limit: int,
        *,
        business_key: str | None = None,
        process_ids: Sequence[str] | None = None,
        definition_keys: Sequence[int] | None = None,
        after: tuple[datetime, int] | None = None,
        by_priority: bool = False,
    ) -> list[JobRecord]:
        """Up to ``limit`` jobs of these types that may be handed out at ``now`` (as
        :meth:`activate_jobs` picks them), oldest due first (highest priority first with
        ``by_priority``, which ignores ``after``), whose instance has this
        business key, one of these process ids and one of these definitions (a None filter
        lets every instance through), and that come after ``after`` (the available time and
        key of the last job of a previous page). Nothing is changed; on PostgreSQL the rows
        are locked (``FOR UPDATE SKIP LOCKED``), and rows another transaction is handing out
        are skipped."""

    def lease_jobs(
        self, job_keys: Sequence[int], worker: str, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Lease to ``worker`` until ``lease_until`` those of these jobs that may still be
        handed out at ``now``; returns them, leased, in the order of ``job_keys``."""

    def activate_jobs(
        self,
        job_types: Sequence[str] | None,
        worker: str,
        max_jobs: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[JobRecord]:
        """Hand out up to ``max_jobs`` jobs that are due.

        A job is due when it is ``activatable`` with ``due_at <= now``, or ``activated`` with a
        lease that ran out before ``now`` (its worker is presumed dead). The returned jobs are
        marked ``activated`` by ``worker`` until ``lease_until``; oldest due first.
        ``job_types`` None means every type.
        """

    def extend_leases(
        self, job_keys: Sequence[int], worker: str, lease_until: datetime
    ) -> list[int]:
        """Extend ``worker``'s leases of these jobs to ``lease_until``.

        Returns the keys it still held (and now holds longer); a job missing from the answer
        was finished, or released because ``worker`` was found dead, or taken by another
        worker after the lease ran out.
        """

    def release_jobs(self, job_keys: Sequence[int], worker: str) -> int:
        """Give back jobs ``worker`` holds, unchanged (no attempt is charged): they are due
        again at once for any worker. Returns how many were released."""

    def next_job_due_at(
        self,
        job_types: Sequence[str] | None,
        *,
        held: bool = True,
        after: datetime | None = None,
    ) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases (unless
        ``held`` is False: then only jobs no worker holds count); with ``after``, the first
        such time later than it."""

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        """Jobs, oldest first."""

    # -- timers -------------------------------------------------------------------------------
    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers."""

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Hand out up to ``max_timers`` timers due by ``now``, earliest first.

        Due: ``scheduled`` with ``due_at <= now``, or ``claimed`` with a lease that ran out
        (its node is presumed dead). They are marked ``claimed`` until ``lease_until``.
        """

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time (those of an instance, or of a process definition's starts)."""

    # -- message and signal subscriptions ----------------------------------------------------
    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions."""

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest first.

        For messages, an instance subscription matches only when its correlation key equals
        ``correlation_key``; start-event subscriptions (``instance_key`` None) always match.
        """

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys``, oldest first.

        What :meth:`find_subscriptions` returns for each key (``kind`` "message"), united and
        each subscription once: the instance subscriptions whose correlation key is one of
        the keys (None equals None) and the start-event subscriptions of the name. One lookup
        for a batch of messages instead of one query per message.
        """

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions of an instance, or the start-event ones of a process definition."""

    # -- buffered messages --------------------------------------------------------------------
    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead."""

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered, unexpired messages of this name and correlation key, oldest first."""

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages."""

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages whose time to live ran out by ``now``."""

    # -- user tasks ---------------------------------------------------------------------------
    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""

    def list_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_group: str | None = None,
        instance_key: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks, oldest first."""

    def find_user_tasks(self, query: UserTaskQuery) -> list[UserTaskRecord]:
        """The page of user tasks ``query`` asks for, in its order."""

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""

    # -- forms --------------------------------------------------------------------------------
    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""

    def find_form(
        self,
        form_id: str | None = None,
        *,
        form_key: int | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> FormRecord | None:
        """A form version by key, or by id (the latest, or the given version, or the latest
        with the given version tag)."""

    # -- incidents ----------------------------------------------------------------------------
    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""

    # -- nodes and coordination ---------------------------------------------------------------
    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row (its heartbeat)."""

    def list_nodes(self) -> list[NodeRecord]:
        """Every node that ever heartbeat here, by id."""

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark ``running`` nodes whose heartbeat is older than ``now - timeout`` as ``dead``
        and end the leases of the jobs they hold, so that any node may take them at once.
        Returns the ids of the nodes found dead."""

    def try_lock(self, name: str) -> bool:
        """Take the lock ``name`` until this transaction ends, if no other transaction holds
        it (PostgreSQL: an advisory lock). Where a single writer runs at a time anyway
        (SQLite, memory) it is always granted."""

    def database_now(self) -> datetime | None:
        """The database server's clock, where nodes on several machines share one
        (PostgreSQL); None where there is none (SQLite, memory: one machine)."""

    # -- retention ----------------------------------------------------------------------------
    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        """Keys of up to ``limit`` instances that may be removed, ascending.

        Such an instance ended (``completed`` or ``terminated``) before ``ended_before``, and
        its parent instance, if it has one that still exists, has ended too (a running parent
        may still look at its children).
        """

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        """Delete these ended instances with every row that belongs to them: history, jobs,
        user tasks, incidents, timers, subscriptions and start requests.

        Keys of instances that do not exist or have not ended are skipped. Returns how many
        instances were deleted.
        """

    # -- accounts -----------------------------------------------------------------------------
    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (then nothing changes and the answer is
        False). Race-free: of two transactions inserting one name, exactly one succeeds."""

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row (by name); False if there is no such user."""

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""

    def count_users(self) -> int:
        """How many users there are (disabled ones included)."""

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key.

        Raises:
            ConflictError: if the key id is taken.
        """

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row (by key id); False if there is no such key."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id (revoked ones too)."""

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key (revoked ones too), oldest first."""

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """The server secret ``name``: stored with ``value`` if there was none, and returned
        as stored. Race-free: nodes that ask together all get the one value that won."""


class Listener(Protocol):
    """A subscription to other processes' new work (see :meth:`Store.listen`)."""

    def close(self) -> None:
        """Stop listening."""


class Store(Protocol):
    """A database that Legato keeps its state in."""

    def listen(self, wake: Callable[[], None]) -> Listener | None:
        """Call ``wake`` (from another thread) when another process commits work that is
        due; None where the database cannot tell (the caller polls)."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception."""

    def close(self) -> None:
        """Release connections."""


def iter_chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Split ``items`` into slices of at most ``size`` (for SQL ``IN`` lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


ENDED_STATUSES = ("completed", "terminated")
"""The statuses of an instance that has ended (see :meth:`Transaction.find_expired_instances`)."""
