"""Instances can be suspended: ``instances.suspended`` and ``jobs.suspended``.

A suspended instance keeps its status (``active``); the flag on its row lets the instance
lists filter on it, and a partial index finds the suspended ones without touching the
others. Its jobs carry the flag too, with ``available_at`` NULL, so activation (which walks
``ix_jobs_due``) never sees them and costs nothing more. Its timers and message and signal
subscriptions are taken out of their tables while it is suspended and put back from its
state when it is resumed, so timer claims and correlation need no change either.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default): SQLite can, and a batch would copy the tables.
    for table in ("instances", "jobs"):
        op.add_column(
            table, sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_instances_suspended",
        "instances",
        ["started_at"],
        sqlite_where=sa.text("suspended"),
        postgresql_where=sa.text("suspended"),
    )


def downgrade() -> None:
    op.drop_index("ix_instances_suspended", table_name="instances")
    for table in ("jobs", "instances"):
        # ALTER TABLE … DROP COLUMN (SQLite 3.35 on): a batch would copy the tables.
        op.drop_column(table, "suspended")
