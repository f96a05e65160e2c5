"""The SQL schema of the store, as SQLAlchemy Core tables (no ORM).

Conventions:

* tables are plural snake_case; every index is named for the rule it enforces
  (``ux_`` unique, ``ix_`` lookup) and constraints get names from :data:`NAMING`, so that
  later migrations can refer to them on SQLite and PostgreSQL alike;
* ``*_at`` columns are :class:`UtcTimestamp` (integer microseconds on SQLite, ``timestamptz``
  on PostgreSQL); JSON documents are :class:`JsonText` (compact JSON in a ``TEXT`` column).

Versions: these tables are what the newest migration (``legato.store.migrations``) leaves
behind, and a test proves that the migrated schema equals :data:`metadata`; a change here
needs a new revision there. Alembic's ``alembic_version`` table records the revision a
database is at. :data:`SCHEMA_VERSION` in ``schema_versions`` stays for Legato releases
from before migrations, which refuse a version above it: it only grows when a revision makes
the database unusable for them, and a store refuses a database whose number is higher than
this code's. Version-1 files from before migrations (some without the ``timers``,
``subscriptions``, ``messages`` or ``nodes`` tables) are completed and stamped at the
baseline revision when opened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from legato.store._rules import check_aware, dump_json, load_json, utc

SCHEMA_VERSION = 2
"""The schema version this code creates and understands."""

KEY_COUNTER = "default"
"""The name of the row in ``key_counters`` that hands out engine keys."""

NAMING = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "ux_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime.

    Raises:
        StoreError: if ``value`` is naive (its instant would be a guess).
    """
    # Every timestamp the store writes on SQLite comes through here. Integer arithmetic on
    # the timedelta's parts is exact (unlike datetime.timestamp(), a float) and cheaper than
    # dividing timedeltas; subtracting a naive datetime from the aware epoch fails, and only
    # then is the value looked at again for the error.
    try:
        since = value - _EPOCH
    except TypeError:
        check_aware(value)
        raise
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


class UtcTimestamp(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime column.

    SQLite has no timestamp type, so the value is kept as integer microseconds since the
    epoch: integers compare and sort by instant whatever offset the caller used, take 8 bytes,
    and round-trip Python's microsecond precision exactly (ISO text only sorts correctly if
    every writer uses the same offset and format). PostgreSQL gets ``timestamptz``.
    """

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_micros(value)
        return utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_micros(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


class JsonText(sa.types.TypeDecorator[Any]):
    """A JSON document kept as compact ``TEXT`` (portable; the store never queries inside)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else load_json(value)


RowKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A primary key that is SQLite's rowid (64-bit there too), BIGINT elsewhere.

SQLite makes only a column declared exactly ``INTEGER PRIMARY KEY`` the rowid; a ``BIGINT``
key is a second b-tree beside the table's own, so every insert and delete writes one more
page. Used by the high-churn tables (timers, subscriptions, messages).
"""

metadata = sa.MetaData(naming_convention=NAMING)

schema_versions = sa.Table(
    "schema_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UtcTimestamp, nullable=False),
)

key_counters = sa.Table(
    "key_counters",
    metadata,
    # One row per counter; a transaction bumps ``next_key`` and owns the range it skipped.
    # The row lock (PostgreSQL) or the write lock (SQLite) makes concurrent reservations
    # queue up instead of overlapping.
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("next_key", sa.BigInteger, nullable=False),
)

definitions = sa.Table(
    "definitions",
    metadata,
    sa.Column("definition_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("resource_name", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("deployed_at", UtcTimestamp, nullable=False),
    # Revision 0012: the model's version tag, and whether new instances may start on it.
    sa.Column("version_tag", sa.String(255)),
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    # One number per version of a process; also serves "latest version of a process".
    sa.Index("ux_definitions_process_version", "process_id", "version", unique=True),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    # Revision 0012: which version a new instance of a process gets when the caller names
    # none. One small row per process with a rule; every start reads it (or its cache).
    sa.Column("process_id", sa.String(255), primary_key=True),
    # JSON ``[[version, percent], ...]``; NULL for a FEEL rule.
    sa.Column("split", sa.Text),
    sa.Column("rule", sa.Text),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sa.Column("updated_by", sa.Text),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("instance_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column(
        "definition_key",
        sa.BigInteger,
        sa.ForeignKey("definitions.definition_key"),
        nullable=False,
    ),
    sa.Column("process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("started_at", UtcTimestamp, nullable=False),
    sa.Column("ended_at", UtcTimestamp),
    sa.Column("revision", sa.Integer, nullable=False),
    # No foreign key: a parent may be archived before its children.
    sa.Column("parent_instance_key", sa.BigInteger),
    sa.Column("incident_count", sa.Integer, nullable=False),
    sa.Column("state", JsonText, nullable=False),
    # Revision 0010: held by an operator (the status stays ``active``).
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    # The list queries filter on one of these and show the newest first; the key breaks
    # ties in that order and is the second half of a page's position (revision 0009), so a
    # page is one index range in index order, however deep.
    sa.Index("ix_instances_status_started", "status", "started_at", "instance_key"),
    sa.Index("ix_instances_process_started", "process_id", "started_at", "instance_key"),
    sa.Index("ix_instances_started", "started_at", "instance_key"),
    # Revision 0009: the cockpit's most common filter, a process's instances in one state,
    # is one index range in list order; with a variable filter each entry is probed for the
    # variable without reading the instance row.
    sa.Index("ix_instances_process_status", "process_id", "status", "started_at", "instance_key"),
    # Revision 0009: the instances with open incidents, few among many active ones. It holds
    # only those rows, so it costs a write only when an incident opens or an instance with
    # one ends. PostgreSQL reads it; SQLite's planner (3.40) prefers the status index for
    # the same query, which walks the active instances (thousands) instead.
    sa.Index(
        "ix_instances_incidents",
        "started_at",
        "instance_key",
        sqlite_where=sa.text("status = 'active' AND incident_count > 0"),
        postgresql_where=sa.text("status = 'active' AND incident_count > 0"),
    ),
    sa.Index("ix_instances_business_key", "business_key"),
    # The retention sweep finds ended instances by end time (revision 0002); active ones
    # (NULL) stay out, so starting an instance writes nothing here.
    sa.Index(
        "ix_instances_status_ended",
        "status",
        "ended_at",
        sqlite_where=sa.text("ended_at IS NOT NULL"),
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    ),
    # Called instances of an instance (revision 0009); top-level instances (NULL) stay out.
    sa.Index(
        "ix_instances_parent",
        "parent_instance_key",
        sqlite_where=sa.text("parent_instance_key IS NOT NULL"),
        postgresql_where=sa.text("parent_instance_key IS NOT NULL"),
    ),
    # The suspended instances, newest first (revision 0010); the others stay out, so
    # saving an instance that is not suspended writes nothing here.
    sa.Index(
        "ix_instances_suspended",
        "started_at",
        sqlite_where=sa.text("suspended"),
        postgresql_where=sa.text("suspended"),
    ),
)

start_requests = sa.Table(
    "start_requests",
    metadata,
    # The primary key is the idempotency rule: one instance per request id.
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column(
        "instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key"), nullable=False
    ),
    sa.Column("requested_at", UtcTimestamp, nullable=False),
    # Deleting an instance's start requests, and checking the foreign key when the instance
    # goes (retention), without a scan of the table (revision 0002).
    sa.Index("ix_start_requests_instance", "instance_key"),
)

history = sa.Table(
    "history",
    metadata,
    # One row per chunk: the events one command appended to one instance at one instant
    # (revision 0003; before it, one row per event). An onboarding instance writes six rows
    # instead of some forty, which is most of the rows and bytes a command writes.
    # The primary key is the rule "a position is taken once per instance" for the chunks'
    # first positions (the executor's revision check keeps chunks from overlapping) and
    # gives the order.
    sa.Column(
        "instance_key",
        sa.BigInteger,
        sa.ForeignKey("instances.instance_key"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("at", UtcTimestamp, nullable=False),
    # [[event_type, element_id, payload], ...] for positions position .. position+count-1.
    sa.Column("events", JsonText, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column(
        "instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key"), nullable=False
    ),
    sa.Column("element_instance_key", sa.BigInteger, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("job_type", sa.String(255), nullable=False),
    sa.Column("retries", sa.Integer, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("due_at", UtcTimestamp, nullable=False),
    sa.Column("worker", sa.String(255)),
    sa.Column("lease_until", UtcTimestamp),
    # When the job can next be handed out: ``due_at`` while activatable, ``lease_until``
    # while activated, NULL once failed. One column lets activation and "next due" use one
    # ordered index scan instead of an OR over two conditions.
    sa.Column("available_at", UtcTimestamp),
    sa.Column("headers", JsonText, nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("created_at", UtcTimestamp),
    sa.Column("error_details", sa.Text),
    sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")),
    # Revision 0010: the job's instance is suspended (``available_at`` is NULL meanwhile).
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    # Activation walks this in due order; failed jobs (NULL) stay out of the index.
    sa.Index(
        "ix_jobs_due",
        "available_at",
        "job_type",
        sqlite_where=sa.text("available_at IS NOT NULL"),
        postgresql_where=sa.text("available_at IS NOT NULL"),
    ),
    sa.Index("ix_jobs_instance", "instance_key"),
)

user_tasks = sa.Table(
    "user_tasks",
    metadata,
    sa.Column("user_task_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column(
        "instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key"), nullable=False
    ),
    sa.Column("element_instance_key", sa.BigInteger, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("assignee", sa.String(255)),
    # JSON lists of names; filtered with a LIKE pre-check and an exact check in Python.
    sa.Column("candidate_groups", sa.Text, nullable=False),
    sa.Column("candidate_users", sa.Text, nullable=False),
    sa.Column("form_key", sa.Text),
    sa.Column("due_at", UtcTimestamp),
    sa.Column("follow_up_at", UtcTimestamp),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("completed_at", UtcTimestamp),
    sa.Column("completed_by", sa.String(255)),
    # Revision 0007: what the task queries of the HTTP APIs filter, sort and show.
    sa.Column("process_id", sa.String(255), nullable=False, server_default=""),
    sa.Column("definition_key", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("process_version", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("business_key", sa.String(255)),
    sa.Column("form_id", sa.String(255)),
    sa.Column("linked_form_key", sa.BigInteger),
    sa.Column("external_form_reference", sa.Text),
    sa.Column("owner", sa.String(255)),
    sa.Column("delegation_state", sa.String(16)),
    sa.Column("updated_at", UtcTimestamp),
    sa.Index("ix_user_tasks_state_created", "state", "created_at"),
    sa.Index("ix_user_tasks_assignee", "assignee"),
    sa.Index("ix_user_tasks_instance", "instance_key"),
    sa.Index("ix_user_tasks_process_state", "process_id", "state"),
    sa.Index("ix_user_tasks_state_due", "state", "due_at"),
)

forms = sa.Table(
    "forms",
    metadata,
    sa.Column("form_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("form_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("resource_name", sa.Text, nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("deployed_at", UtcTimestamp, nullable=False),
    sa.Column("version_tag", sa.String(255)),
    # One number per version of a form; also serves "latest version of a form".
    sa.Index("ux_forms_form_version", "form_id", "version", unique=True),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column(
        "instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key"), nullable=False
    ),
    sa.Column("element_instance_key", sa.BigInteger, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("error_type", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", sa.Text),
    sa.Column("state", sa.String(32), nullable=False),
    # No foreign key: the job an incident points at is deleted when it is retried.
    sa.Column("job_key", sa.BigInteger),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("resolved_at", UtcTimestamp),
    sa.Index("ix_incidents_state_created", "state", "created_at"),
    sa.Index("ix_incidents_instance", "instance_key"),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("timer_key", RowKey, primary_key=True, autoincrement=False),
    sa.Column(
        "definition_key",
        sa.BigInteger,
        sa.ForeignKey("definitions.definition_key"),
        nullable=False,
    ),
    # NULL for a timer start event of a process (it belongs to no instance yet).
    sa.Column("instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key")),
    sa.Column("element_instance_key", sa.BigInteger),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("due_at", UtcTimestamp, nullable=False),
    sa.Column("repetitions", sa.Integer),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("lease_until", UtcTimestamp),
    # When the timer can next be claimed: ``due_at`` while scheduled, ``lease_until`` while
    # claimed (the jobs table's trick): claiming and "next due" are one ordered index range
    # instead of an OR over two conditions.
    sa.Column("available_at", UtcTimestamp),
    # Claiming walks this in (due, key) order and stops after ``max_timers`` rows, so the
    # ORDER BY needs no sort; rows that can never be claimed stay out of the index.
    sa.Index(
        "ix_timers_due",
        "available_at",
        "timer_key",
        sqlite_where=sa.text("available_at IS NOT NULL"),
        postgresql_where=sa.text("available_at IS NOT NULL"),
    ),
    # Also lists a definition's start-event timers: its NULL entries are exactly those, few
    # in number. (No index on definition_key: every instance timer would write into it, and
    # no query needs it.)
    sa.Index("ix_timers_instance", "instance_key"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("subscription_key", RowKey, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("correlation_key", sa.Text),
    sa.Column(
        "definition_key",
        sa.BigInteger,
        sa.ForeignKey("definitions.definition_key"),
        nullable=False,
    ),
    sa.Column("element_id", sa.String(255), nullable=False),
    # NULL for a message or signal start event of a process.
    sa.Column("instance_key", sa.BigInteger, sa.ForeignKey("instances.instance_key")),
    sa.Column("element_instance_key", sa.BigInteger),
    sa.Column("interrupting", sa.Boolean, nullable=False),
    # Correlating a message is one equality probe on all three columns (the waiting instances
    # of one name can be many, their correlation keys are what tells them apart); a signal
    # uses the (kind, name) prefix.
    sa.Index("ix_subscriptions_lookup", "kind", "name", "correlation_key"),
    # Start events match every message of their name whatever its correlation key: a separate
    # small index, so that finding them never walks the instance subscriptions of the name.
    # (A definition's start events are listed through ix_subscriptions_instance: its NULL
    # entries are exactly the start events, few in number.)
    sa.Index(
        "ix_subscriptions_start",
        "kind",
        "name",
        sqlite_where=sa.text("instance_key IS NULL"),
        postgresql_where=sa.text("instance_key IS NULL"),
    ),
    # Also lists a definition's start events (the NULL entries); no index on definition_key,
    # for the same reason as on timers.
    sa.Index("ix_subscriptions_instance", "instance_key"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("message_key", RowKey, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("correlation_key", sa.Text),
    sa.Column("message_id", sa.String(255)),
    sa.Column("published_at", UtcTimestamp, nullable=False),
    sa.Column("expires_at", UtcTimestamp, nullable=False),
    sa.Column("variables", JsonText, nullable=False),
    # The idempotency rule: one buffered message per message id. Messages without an id are
    # left out (partial), so they never conflict and do not bloat the index.
    sa.Index(
        "ux_messages_message_id",
        "message_id",
        unique=True,
        sqlite_where=sa.text("message_id IS NOT NULL"),
        postgresql_where=sa.text("message_id IS NOT NULL"),
    ),
    # A new subscription looks for buffered messages of its name and key, oldest (by key)
    # first: the trailing key column makes that order come from the index.
    sa.Index("ix_messages_lookup", "name", "correlation_key", "message_key"),
    # The expiry sweep is one range scan.
    sa.Index("ix_messages_expiry", "expires_at"),
)

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("node_id", sa.String(255), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UtcTimestamp, nullable=False),
    sa.Column("heartbeat_at", UtcTimestamp, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("jobs_done", sa.BigInteger, nullable=False),
    sa.Column("timers_fired", sa.BigInteger, nullable=False),
    sa.Column("load", sa.Float, nullable=False),
    sa.Column("abandoned", sa.BigInteger, nullable=False, server_default=sa.text("0")),
)

batch_operations = sa.Table(
    "batch_operations",
    metadata,
    # Revision 0011: an operator's long-running batch (migrating many instances), durable so
    # that it resumes where it stopped; its instances are the rows of ``batch_items``.
    sa.Column("batch_key", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    # running, paused, completed or cancelled.
    sa.Column("status", sa.String(16), nullable=False),
    # The operation's parameters as JSON (for a migration: the plan).
    sa.Column("spec", JsonText, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    # Instances per second at most (NULL: as fast as it goes).
    sa.Column("rate", sa.Float),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sa.Column("ended_at", UtcTimestamp),
)

batch_items = sa.Table(
    "batch_items",
    metadata,
    # Revision 0011: each instance of a batch operation: pending, done or failed (with why).
    sa.Column(
        "batch_key",
        sa.BigInteger,
        sa.ForeignKey("batch_operations.batch_key", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("instance_key", sa.BigInteger, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Index("ix_batch_items_state", "batch_key", "state", "instance_key"),
    # Retention deletes the items of the instances it deletes.
    sa.Index("ix_batch_items_instance", "instance_key"),
    sqlite_with_rowid=False,
)

users = sa.Table(
    "users",
    metadata,
    # The primary key is the rule "one user per name" (and makes creating the first admin
    # race-free: two nodes inserting it at once, one wins).
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    # JSON lists of names.
    sa.Column("roles", JsonText, nullable=False),
    sa.Column("groups", JsonText, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    # A JSON list of process ids and prefixes (``billing-*``); NULL for every process.
    sa.Column("processes", JsonText),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("roles", JsonText, nullable=False),
    # A JSON list of job types; NULL for every type.
    sa.Column("job_types", JsonText),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("last_used_at", UtcTimestamp),
    sa.Column("revoked_at", UtcTimestamp),
    # A JSON list of process ids and prefixes (``billing-*``); NULL for every process.
    sa.Column("processes", JsonText),
)

server_secrets = sa.Table(
    "server_secrets",
    metadata,
    # Secrets every node of a database shares (the signing key of the tokens it issues);
    # the primary key makes "generate once" race-free (insert if absent, then read).
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
)

sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    # Revision 0016: failed sign-ins per account ("user:<name>") and per client address
    # ("address:<ip>"), and their lock-outs, so that every node of a database counts them.
    sa.Column("subject", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("since", UtcTimestamp, nullable=False),
    sa.Column("locked_until", UtcTimestamp),
)

instance_variables = sa.Table(
    "instance_variables",
    metadata,
    # Revision 0009: the scalar root variables of each instance (strings, numbers, booleans;
    # long values and documents are left out), so that "instances whose variable x is v" is
    # an index probe instead of a scan of every state. Written in the command's transaction.
    sa.Column(
        "instance_key",
        sa.BigInteger,
        sa.ForeignKey("instances.instance_key"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("name", sa.String(255), primary_key=True),
    # The value as compact JSON (``"gold"``, ``800``, ``true``): one column compares all
    # kinds exactly, and 800 and 800.0 are both written ``800``.
    sa.Column("value", sa.Text, nullable=False),
    # The instance's start time: a variable's instances come out of the index newest first,
    # in the instance list's order, so a page of them reads no more rows than it shows.
    sa.Column("started_at", UtcTimestamp, nullable=False),
    sa.Index("ix_instance_variables_name_value", "name", "value", "started_at", "instance_key"),
    # SQLite: the primary key is the table (no rowid b-tree beside it), so probing one
    # instance's variable reads one b-tree, and each write changes two b-trees, not three.
    sqlite_with_rowid=False,
)

element_counts = sa.Table(
    "element_counts",
    metadata,
    # Revision 0009: per process version and element, how many element instances are active
    # there, have completed or were terminated, and how many incidents are open there. A
    # batch adds its changes with one upsert per element; concurrent nodes add to different
    # shards (chosen at random per transaction), so no single row serialises their commits.
    # Readers sum the shards.
    sa.Column("definition_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("element_id", sa.String(255), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("active", sa.BigInteger, nullable=False),
    sa.Column("completed", sa.BigInteger, nullable=False),
    sa.Column("terminated", sa.BigInteger, nullable=False),
    sa.Column("incidents", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

decision_evaluations = sa.Table(
    "decision_evaluations",
    metadata,
    # Revision 0009: every evaluation of a decision by a business rule task, from the
    # ``DecisionEvaluated`` event at this history position.
    sa.Column(
        "instance_key",
        sa.BigInteger,
        sa.ForeignKey("instances.instance_key"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("decision_id", sa.String(255), nullable=False),
    sa.Column("decision_key", sa.BigInteger, nullable=False),
    sa.Column("decision_version", sa.Integer, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("element_instance_key", sa.BigInteger, nullable=False),
    sa.Column("evaluated_at", UtcTimestamp, nullable=False),
    sa.Column("matched_rules", JsonText, nullable=False),
    sa.Column("result", JsonText),
    # A decision's evaluations newest first, paged by (time, instance, position).
    sa.Index(
        "ix_decision_evaluations_decision",
        "decision_id",
        "evaluated_at",
        "instance_key",
        "position",
    ),
    sqlite_with_rowid=False,
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Revision 0013: every action of a person or a machine, append-only and chained by hash
    # (see legato.security.audit). The sequence number is gap-free: a writer takes it as
    # max + 1 under a lock held until its commit, and the primary key refuses a duplicate.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UtcTimestamp, nullable=False),
    # A user name, ``key:<id>`` or ``system``.
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("source_address", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(64)),
    sa.Column("resource_id", sa.String(255)),
    # allowed or denied.
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("details", JsonText, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # The queries of the audit page: by actor, by resource, by time (newest first by seq).
    sa.Index("ix_audit_log_actor", "actor", "seq"),
    sa.Index("ix_audit_log_resource", "resource_type", "resource_id", "seq"),
    sa.Index("ix_audit_log_at", "at"),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    # Revision 0013: the hash of the audit record ``seq``, signed (HMAC-SHA256) with a server
    # secret: written every so many records, on demand, and at the cut of a prune, where the
    # verification of the remaining chain starts.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(64), nullable=False),
    sa.Column("at", UtcTimestamp, nullable=False),
)

# Revision 0014: the analytics facts (``legato.store.facts``), written in the command's
# transaction and rebuilt from the history. No foreign keys: retention deletes them with
# their instances, and the live path pays for no lookups. SQLite: the primary key is the
# table.
_OPEN_INSTANCE_FACTS = sa.text("ended_at IS NULL")

instance_facts = sa.Table(
    "instance_facts",
    metadata,
    sa.Column("instance_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("definition_key", sa.BigInteger, nullable=False),
    sa.Column("process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("parent_instance_key", sa.BigInteger),
    sa.Column("started_at", UtcTimestamp, nullable=False),
    sa.Column("ended_at", UtcTimestamp),
    sa.Column("duration_us", sa.BigInteger),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("incidents", sa.Integer, nullable=False),
    # The running instances of a version, oldest first (the SLA sweep); ended ones stay out.
    sa.Index(
        "ix_instance_facts_open",
        "process_id",
        "version",
        "started_at",
        "instance_key",
        sqlite_where=_OPEN_INSTANCE_FACTS,
        postgresql_where=_OPEN_INSTANCE_FACTS,
    ),
    sqlite_with_rowid=False,
)

element_facts = sa.Table(
    "element_facts",
    metadata,
    sa.Column("element_instance_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("instance_key", sa.BigInteger, nullable=False),
    sa.Column("definition_key", sa.BigInteger, nullable=False),
    sa.Column("process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("element_type", sa.String(64), nullable=False),
    sa.Column("started_at", UtcTimestamp, nullable=False),
    sa.Column("ended_at", UtcTimestamp),
    sa.Column("duration_us", sa.BigInteger),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("retries", sa.Integer, nullable=False),
    sa.Column("completed_by", sa.String(255)),
    # An instance's element facts (retention deletes them by instance).
    sa.Index("ix_element_facts_instance", "instance_key"),
    # The running element instances of an element, oldest first (the SLA sweep).
    sa.Index(
        "ix_element_facts_open",
        "process_id",
        "version",
        "element_id",
        "started_at",
        "element_instance_key",
        sqlite_where=_OPEN_INSTANCE_FACTS,
        postgresql_where=_OPEN_INSTANCE_FACTS,
    ),
    sqlite_with_rowid=False,
)

incident_facts = sa.Table(
    "incident_facts",
    metadata,
    sa.Column("incident_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("instance_key", sa.BigInteger, nullable=False),
    sa.Column("process_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("cause", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("opened_at", UtcTimestamp, nullable=False),
    sa.Column("resolved_at", UtcTimestamp),
    sa.Index("ix_incident_facts_instance", "instance_key"),
    sqlite_with_rowid=False,
)

fact_hours = sa.Table(
    "fact_hours",
    metadata,
    # Per process version, element ("": the instance) and UTC hour; sharded counter rows
    # like element_counts. Aggregates: retention leaves them.
    sa.Column("definition_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("element_id", sa.String(255), primary_key=True),
    sa.Column("hour", UtcTimestamp, primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("started", sa.BigInteger, nullable=False),
    sa.Column("completed", sa.BigInteger, nullable=False),
    sa.Column("terminated", sa.BigInteger, nullable=False),
    sa.Column("incidents", sa.BigInteger, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("duration_us", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

fact_durations = sa.Table(
    "fact_durations",
    metadata,
    # Completed durations per process version, element and UTC day in log-scale buckets
    # (legato.store.histogram); sharded like fact_hours.
    sa.Column("definition_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("element_id", sa.String(255), primary_key=True),
    sa.Column("day", UtcTimestamp, primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("shard", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

alerts = sa.Table(
    "alerts",
    metadata,
    # Revision 0015: alerts raised by the SLA sweep (see legato.runtime.sla). Rows are not
    # tied to instances by a foreign key: an alert outlives the instance it was about.
    sa.Column("alert_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("dedupe_key", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("process_id", sa.String(255)),
    sa.Column("version", sa.Integer),
    sa.Column("instance_key", sa.BigInteger),
    sa.Column("element_id", sa.String(255)),
    sa.Column("element_instance_key", sa.BigInteger),
    sa.Column("raised_at", UtcTimestamp, nullable=False),
    sa.Column("resolved_at", UtcTimestamp),
    sa.Column("details", JsonText, nullable=False),
    # An alert is raised once: two sweeps (two nodes) inserting it, one wins.
    sa.Index("ux_alerts_dedupe_key", "dedupe_key", unique=True),
    # An instance's alerts (its detail, and retention deleting them with it).
    sa.Index("ix_alerts_instance", "instance_key"),
    # The open alerts, newest first, without reading the resolved ones.
    sa.Index(
        "ix_alerts_open",
        "raised_at",
        "alert_key",
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    ),
)

service_levels = sa.Table(
    "service_levels",
    metadata,
    # Revision 0015: expected durations set through the API (over the model's). version 0
    # is every version, element_id '' the whole instance.
    sa.Column("process_id", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("element_id", sa.String(255), primary_key=True),
    sa.Column("expected_us", sa.BigInteger, nullable=False),
    sa.Column("threshold", sa.Float),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sqlite_with_rowid=False,
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    # Revision 0015: where alerts are posted.
    sa.Column("webhook_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    # A JSON list of alert kinds; NULL for all.
    sa.Column("kinds", JsonText),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # Revision 0015: the outbox. Written in the sweep's transaction with the alert; posted
    # by a delivery worker outside any engine transaction (see legato.runtime.webhooks).
    sa.Column("delivery_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("webhook_key", sa.BigInteger, nullable=False),
    sa.Column("alert_key", sa.BigInteger, nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("payload", JsonText, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcTimestamp),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("delivered_at", UtcTimestamp),
    sa.Column("last_error", sa.Text),
    # One delivery per webhook, alert and event, however often it is enqueued.
    sa.Index("ux_webhook_deliveries_event", "webhook_key", "alert_key", "event", unique=True),
    # The pending deliveries, by when they are due.
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)
