"""Process limits of accounts: ``users.processes`` and ``api_keys.processes``.

A JSON list of the process ids (a trailing ``*`` matches a prefix) a user or an API key may
see and act on; NULL (every existing row) for every process, so nothing changes for
existing accounts.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("processes", sa.Text()))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("processes", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("processes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("processes")
