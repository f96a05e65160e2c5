"""Batch operations: ``batch_operations`` and ``batch_items``.

An operator's long-running batch (migrating many instances to another process version) is
kept in the database with each of its instances, so that it shows its progress, can be
paused and resumed, and after a crash resumes where it stopped: an instance's item is marked
done in the transaction that migrates it. New tables only.

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


def upgrade() -> None:
    op.create_table(
        "batch_operations",
        sa.Column("batch_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("ended_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("batch_key", name=op.f("pk_batch_operations")),
    )
    op.create_table(
        "batch_items",
        sa.Column("batch_key", sa.BigInteger(), nullable=False),
        sa.Column("instance_key", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_key"],
            ["batch_operations.batch_key"],
            name=op.f("fk_batch_items_batch_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_key", "instance_key", name=op.f("pk_batch_items")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_batch_items_state", "batch_items", ["batch_key", "state", "instance_key"])
    op.create_index("ix_batch_items_instance", "batch_items", ["instance_key"])


def downgrade() -> None:
    op.drop_index("ix_batch_items_instance", table_name="batch_items")
    op.drop_index("ix_batch_items_state", table_name="batch_items")
    op.drop_table("batch_items")
    op.drop_table("batch_operations")
