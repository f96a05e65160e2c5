"""Nodes count the handler calls they abandoned (``nodes.abandoned``).

A handler call that passes its timeout is abandoned: its job fails the attempt and the slot
gets a new thread, while the old thread runs on until the call returns. ``legato nodes``
shows how many calls each node abandoned, so a node whose handlers hang is seen.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(
            sa.Column("abandoned", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("abandoned")
