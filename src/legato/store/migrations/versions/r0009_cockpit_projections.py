"""The cockpit's query tables: root variables, element counts, decision evaluations.

``instance_variables`` (scalar root variables, for the variable filter of the instance
search), ``element_counts`` (per process version and element: active, completed,
terminated, open incidents; sharded counter rows) and ``decision_evaluations`` (each
``DecisionEvaluated`` event), an index on ``instances.parent_instance_key`` for the
called instances of an instance, ``ix_instances_process_status`` (a process's instances in
one state, newest first) and ``ix_instances_incidents`` (active instances with open
incidents, a partial index), and the instance key added to the three listing indexes of
``instances`` (status, process, start time), so that a page of the newest-first list is one
index range however deep it is. The store fills the new tables from the stored history
right after this revision runs (``legato.store.rebuild.rebuild_derived``), in the same
transaction. The new tables are ``WITHOUT ROWID`` on SQLite (the primary key is the
table). New tables and indexes only: ``schema_versions`` stays.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema.UtcTimestamp`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""

_HAS_PARENT = sa.text("parent_instance_key IS NOT NULL")
_HAS_INCIDENTS = sa.text("status = 'active' AND incident_count > 0")


_LISTING_INDEXES = (
    ("ix_instances_status_started", ["status", "started_at"]),
    ("ix_instances_process_started", ["process_id", "started_at"]),
    ("ix_instances_started", ["started_at"]),
)


def upgrade() -> None:
    for name, columns in _LISTING_INDEXES:
        op.drop_index(name, table_name="instances")
        op.create_index(name, "instances", [*columns, "instance_key"])
    op.create_index(
        "ix_instances_process_status",
        "instances",
        ["process_id", "status", "started_at", "instance_key"],
    )
    op.create_index(
        "ix_instances_incidents",
        "instances",
        ["started_at", "instance_key"],
        sqlite_where=_HAS_INCIDENTS,
        postgresql_where=_HAS_INCIDENTS,
    )
    op.create_index(
        "ix_instances_parent",
        "instances",
        ["parent_instance_key"],
        sqlite_where=_HAS_PARENT,
        postgresql_where=_HAS_PARENT,
    )
    op.create_table(
        "instance_variables",
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_key"],
            ["instances.instance_key"],
            name=op.f("fk_instance_variables_instance_key"),
        ),
        sa.PrimaryKeyConstraint("instance_key", "name", name=op.f("pk_instance_variables")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_instance_variables_name_value",
        "instance_variables",
        ["name", "value", "started_at", "instance_key"],
    )
    op.create_table(
        "element_counts",
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("active", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.BigInteger(), nullable=False),
        sa.Column("terminated", sa.BigInteger(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "definition_key", "element_id", "shard", name=op.f("pk_element_counts")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "decision_evaluations",
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.String(255), nullable=False),
        sa.Column("decision_key", sa.BigInteger(), nullable=False),
        sa.Column("decision_version", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("element_instance_key", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", _TIMESTAMP, nullable=False),
        sa.Column("matched_rules", sa.Text(), nullable=False),
        sa.Column("result", sa.Text()),
        sa.ForeignKeyConstraint(
            ["instance_key"],
            ["instances.instance_key"],
            name=op.f("fk_decision_evaluations_instance_key"),
        ),
        sa.PrimaryKeyConstraint("instance_key", "position", name=op.f("pk_decision_evaluations")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_decision_evaluations_decision",
        "decision_evaluations",
        ["decision_id", "evaluated_at", "instance_key", "position"],
    )


def downgrade() -> None:
    op.drop_index("ix_decision_evaluations_decision", table_name="decision_evaluations")
    op.drop_table("decision_evaluations")
    op.drop_table("element_counts")
    op.drop_index("ix_instance_variables_name_value", table_name="instance_variables")
    op.drop_table("instance_variables")
    op.drop_index("ix_instances_parent", table_name="instances")
    op.drop_index("ix_instances_incidents", table_name="instances")
    op.drop_index("ix_instances_process_status", table_name="instances")
    for name, columns in _LISTING_INDEXES:
        op.drop_index(name, table_name="instances")
        op.create_index(name, "instances", columns)
