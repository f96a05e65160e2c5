"""Jobs keep the details of their last failure (``jobs.error_details``) and the priority of
their task (``jobs.priority``).

External workers report a failure with a message and details (a stack trace); Camunda 7
clients read them back (``GET /external-task/{id}/errorDetails``) and see them on the task.
Workers that fetch by priority (Camunda 7's ``usePriority``) get higher priorities first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("error_details", sa.Text))
        batch.add_column(
            sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("priority")
        batch.drop_column("error_details")
