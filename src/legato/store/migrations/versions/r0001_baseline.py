"""The baseline: the whole schema of version 1.

Written out table by table, as the database stores it, so that later changes to
``legato.store.schema`` never change what this revision creates: timestamps are BIGINT
microseconds on SQLite and ``timestamptz`` on PostgreSQL, JSON is TEXT, and every constraint
and index carries the name that ``schema.NAMING`` gives it, so later revisions can refer to
them on both dialects.

:data:`TABLES` is also used to adopt a version-1 database written before migrations existed:
the tables it lacks are created with these same functions before it is stamped at this
revision (see ``legato.store.migrations``).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema.UtcTimestamp`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""
_ROW_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""``schema.RowKey``: exactly ``INTEGER PRIMARY KEY`` on SQLite, so it is the rowid."""
_JSON = sa.Text()
"""``schema.JsonText``: compact JSON in TEXT."""
_FIRST_KEY = 1
_PARTIAL_DUE = sa.text("available_at IS NOT NULL")


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}"))


def _key(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), autoincrement=False, nullable=nullable)


def _schema_versions() -> None:
    op.create_table(
        "schema_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("applied_at", _TIMESTAMP, nullable=False),
        _pk("schema_versions", "version"),
    )


def _key_counters() -> None:
    op.create_table(
        "key_counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("next_key", sa.BigInteger(), nullable=False),
        _pk("key_counters", "name"),
    )


def _definitions() -> None:
    op.create_table(
        "definitions",
        _key("definition_key"),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("resource_name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("deployed_at", _TIMESTAMP, nullable=False),
        _pk("definitions", "definition_key"),
    )
    op.create_index(
        "ux_definitions_process_version", "definitions", ["process_id", "version"], unique=True
    )


def _instances() -> None:
    op.create_table(
        "instances",
        _key("instance_key"),
        _key("definition_key"),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("ended_at", _TIMESTAMP),
        sa.Column("revision", sa.Integer(), nullable=False),
        _key("parent_instance_key", nullable=True),
        sa.Column("incident_count", sa.Integer(), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        _pk("instances", "instance_key"),
        _fk("instances", "definition_key", "definitions.definition_key"),
    )
    op.create_index("ix_instances_status_started", "instances", ["status", "started_at"])
    op.create_index("ix_instances_process_started", "instances", ["process_id", "started_at"])
    op.create_index("ix_instances_started", "instances", ["started_at"])
    op.create_index("ix_instances_business_key", "instances", ["business_key"])


def _start_requests() -> None:
    op.create_table(
        "start_requests",
        sa.Column("request_id", sa.String(255), nullable=False),
        _key("instance_key"),
        sa.Column("requested_at", _TIMESTAMP, nullable=False),
        _pk("start_requests", "request_id"),
        _fk("start_requests", "instance_key", "instances.instance_key"),
    )


def _history() -> None:
    op.create_table(
        "history",
        _key("instance_key"),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("element_id", sa.String(255)),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        _pk("history", "instance_key", "position"),
        _fk("history", "instance_key", "instances.instance_key"),
    )


def _jobs() -> None:
    op.create_table(
        "jobs",
        _key("job_key"),
        _key("instance_key"),
        sa.Column("element_instance_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("job_type", sa.String(255), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("due_at", _TIMESTAMP, nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("lease_until", _TIMESTAMP),
        sa.Column("available_at", _TIMESTAMP),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("error_message", sa.Text()),
        sa.Column("created_at", _TIMESTAMP),
        _pk("jobs", "job_key"),
        _fk("jobs", "instance_key", "instances.instance_key"),
    )
    op.create_index(
        "ix_jobs_due",
        "jobs",
        ["available_at", "job_type"],
        sqlite_where=_PARTIAL_DUE,
        postgresql_where=_PARTIAL_DUE,
    )
    op.create_index("ix_jobs_instance", "jobs", ["instance_key"])


def _user_tasks() -> None:
    op.create_table(
        "user_tasks",
        _key("user_task_key"),
        _key("instance_key"),
        sa.Column("element_instance_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("assignee", sa.String(255)),
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.Column("candidate_users", sa.Text(), nullable=False),
        sa.Column("form_key", sa.Text()),
        sa.Column("due_at", _TIMESTAMP),
        sa.Column("follow_up_at", _TIMESTAMP),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("completed_at", _TIMESTAMP),
        sa.Column("completed_by", sa.String(255)),
        _pk("user_tasks", "user_task_key"),
        _fk("user_tasks", "instance_key", "instances.instance_key"),
    )
    op.create_index("ix_user_tasks_state_created", "user_tasks", ["state", "created_at"])
    op.create_index("ix_user_tasks_assignee", "user_tasks", ["assignee"])
    op.create_index("ix_user_tasks_instance", "user_tasks", ["instance_key"])


def _incidents() -> None:
    op.create_table(
        "incidents",
        _key("incident_key"),
        _key("instance_key"),
        sa.Column("element_instance_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("error_type", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text()),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("job_key", sa.BigInteger()),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("resolved_at", _TIMESTAMP),
        _pk("incidents", "incident_key"),
        _fk("incidents", "instance_key", "instances.instance_key"),
    )
    op.create_index("ix_incidents_state_created", "incidents", ["state", "created_at"])
    op.create_index("ix_incidents_instance", "incidents", ["instance_key"])


def _timers() -> None:
    op.create_table(
        "timers",
        sa.Column("timer_key", _ROW_KEY, autoincrement=False, nullable=False),
        _key("definition_key"),
        _key("instance_key", nullable=True),
        sa.Column("element_instance_key", sa.BigInteger()),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("due_at", _TIMESTAMP, nullable=False),
        sa.Column("repetitions", sa.Integer()),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("lease_until", _TIMESTAMP),
        sa.Column("available_at", _TIMESTAMP),
        _pk("timers", "timer_key"),
        _fk("timers", "definition_key", "definitions.definition_key"),
        _fk("timers", "instance_key", "instances.instance_key"),
    )
    op.create_index(
        "ix_timers_due",
        "timers",
        ["available_at", "timer_key"],
        sqlite_where=_PARTIAL_DUE,
        postgresql_where=_PARTIAL_DUE,
    )
    op.create_index("ix_timers_instance", "timers", ["instance_key"])


def _subscriptions() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("subscription_key", _ROW_KEY, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("correlation_key", sa.Text()),
        _key("definition_key"),
        sa.Column("element_id", sa.String(255), nullable=False),
        _key("instance_key", nullable=True),
        sa.Column("element_instance_key", sa.BigInteger()),
        sa.Column("interrupting", sa.Boolean(), nullable=False),
        _pk("subscriptions", "subscription_key"),
        _fk("subscriptions", "definition_key", "definitions.definition_key"),
        _fk("subscriptions", "instance_key", "instances.instance_key"),
    )
    op.create_index("ix_subscriptions_lookup", "subscriptions", ["kind", "name", "correlation_key"])
    start_only = sa.text("instance_key IS NULL")
    op.create_index(
        "ix_subscriptions_start",
        "subscriptions",
        ["kind", "name"],
        sqlite_where=start_only,
        postgresql_where=start_only,
    )
    op.create_index("ix_subscriptions_instance", "subscriptions", ["instance_key"])


def _messages() -> None:
    op.create_table(
        "messages",
        sa.Column("message_key", _ROW_KEY, autoincrement=False, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("correlation_key", sa.Text()),
        sa.Column("message_id", sa.String(255)),
        sa.Column("published_at", _TIMESTAMP, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.Column("variables", _JSON, nullable=False),
        _pk("messages", "message_key"),
    )
    with_id = sa.text("message_id IS NOT NULL")
    op.create_index(
        "ux_messages_message_id",
        "messages",
        ["message_id"],
        unique=True,
        sqlite_where=with_id,
        postgresql_where=with_id,
    )
    op.create_index("ix_messages_lookup", "messages", ["name", "correlation_key", "message_key"])
    op.create_index("ix_messages_expiry", "messages", ["expires_at"])


def _nodes() -> None:
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", _TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("jobs_done", sa.BigInteger(), nullable=False),
        sa.Column("timers_fired", sa.BigInteger(), nullable=False),
        sa.Column("load", sa.Float(), nullable=False),
        _pk("nodes", "node_id"),
    )


TABLES: dict[str, Callable[[], None]] = {
    "schema_versions": _schema_versions,
    "key_counters": _key_counters,
    "definitions": _definitions,
    "instances": _instances,
    "start_requests": _start_requests,
    "history": _history,
    "jobs": _jobs,
    "user_tasks": _user_tasks,
    "incidents": _incidents,
    "timers": _timers,
    "subscriptions": _subscriptions,
    "messages": _messages,
    "nodes": _nodes,
}
"""The functions that create each table of this revision, in foreign-key order."""


def _seed() -> None:
    # Version 1 in schema_versions tells Legato releases from before migrations that they
    # may open this database; the key counter starts the range of engine keys.
    now = datetime.now(UTC)
    applied_at: datetime | int = now
    if op.get_bind().dialect.name == "sqlite":
        applied_at = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    versions = sa.table("schema_versions", sa.column("version"), sa.column("applied_at"))
    counters = sa.table("key_counters", sa.column("name"), sa.column("next_key"))
    op.bulk_insert(versions, [{"version": 1, "applied_at": applied_at}])
    op.bulk_insert(counters, [{"name": "default", "next_key": _FIRST_KEY}])


def upgrade() -> None:
    for create in TABLES.values():
        create()
    _seed()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
