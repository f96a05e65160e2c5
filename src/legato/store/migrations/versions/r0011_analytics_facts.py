"""The analytics facts: ``instance_facts``, ``element_facts``, ``incident_facts`` and the
rollups ``fact_hours`` and ``fact_durations`` (see ``legato.store.facts``).

One row per instance, element instance and incident, each with its start, end and outcome,
and partial indexes over the running instances and element instances of a version (the SLA
sweep reads them, oldest first); per process version, element and hour the started,
completed, terminated and incident counts and summed durations, and per day the completed
durations in log-scale buckets (percentiles within 4.9 %), both sharded counter rows like
``element_counts``. The store fills them from the stored history right after this revision
runs (``legato.store.rebuild.rebuild_facts``), in the same transaction. The new tables are
``WITHOUT ROWID`` on SQLite (the primary key is the table). New tables only:
``schema_versions`` stays.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema.UtcTimestamp`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""

_OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "instance_facts",
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("parent_instance_key", sa.BigInteger()),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("ended_at", _TIMESTAMP),
        sa.Column("duration_us", sa.BigInteger()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("instance_key", name=op.f("pk_instance_facts")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_instance_facts_open",
        "instance_facts",
        ["process_id", "version", "started_at", "instance_key"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "element_facts",
        sa.Column("element_instance_key", sa.BigInteger(), nullable=False),
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("element_type", sa.String(64), nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("ended_at", _TIMESTAMP),
        sa.Column("duration_us", sa.BigInteger()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("completed_by", sa.String(255)),
        sa.PrimaryKeyConstraint("element_instance_key", name=op.f("pk_element_facts")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_element_facts_instance", "element_facts", ["instance_key"])
    op.create_index(
        "ix_element_facts_open",
        "element_facts",
        ["process_id", "version", "element_id", "started_at", "element_instance_key"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "incident_facts",
        sa.Column("incident_key", sa.BigInteger(), nullable=False),
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("opened_at", _TIMESTAMP, nullable=False),
        sa.Column("resolved_at", _TIMESTAMP),
        sa.PrimaryKeyConstraint("incident_key", name=op.f("pk_incident_facts")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_incident_facts_instance", "incident_facts", ["instance_key"])
    op.create_table(
        "fact_hours",
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("hour", _TIMESTAMP, nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.BigInteger(), nullable=False),
        sa.Column("terminated", sa.BigInteger(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "definition_key", "element_id", "hour", "shard", name=op.f("pk_fact_hours")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "fact_durations",
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("day", _TIMESTAMP, nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "definition_key", "element_id", "day", "bucket", "shard", name=op.f("pk_fact_durations")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("fact_durations")
    op.drop_table("fact_hours")
    op.drop_index("ix_incident_facts_instance", table_name="incident_facts")
    op.drop_table("incident_facts")
    op.drop_index("ix_element_facts_open", table_name="element_facts")
    op.drop_index("ix_element_facts_instance", table_name="element_facts")
    op.drop_table("element_facts")
    op.drop_index("ix_instance_facts_open", table_name="instance_facts")
    op.drop_table("instance_facts")
