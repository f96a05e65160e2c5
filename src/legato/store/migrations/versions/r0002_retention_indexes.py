"""Indexes for the retention sweep.

``ix_instances_status_ended``: the sweep looks for instances that completed or were
terminated before a cutoff. Active instances (``ended_at`` NULL) stay out of the index, so
starting an instance writes no entry into it and the index only grows with the ended
instances the sweep is there to remove.

``ix_start_requests_instance``: deleting an instance deletes its start requests, and the
foreign key from ``start_requests`` is checked for every deleted instance; without an index
both are a scan of the whole table.

Purely additive: Legato releases from before migrations can still read and write the
database, so ``schema_versions`` stays at 1.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_ENDED = sa.text("ended_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_instances_status_ended",
        "instances",
        ["status", "ended_at"],
        sqlite_where=_ENDED,
        postgresql_where=_ENDED,
    )
    op.create_index("ix_start_requests_instance", "start_requests", ["instance_key"])


def downgrade() -> None:
    op.drop_index("ix_start_requests_instance", table_name="start_requests")
    op.drop_index("ix_instances_status_ended", table_name="instances")
