"""Process versions carry a version tag and can be suspended; a rollout rule per process.

``definitions`` gains ``version_tag`` (the model's ``zeebe:versionTag`` or
``camunda:versionTag``; NULL for versions deployed before this revision) and ``suspended``
(no new instance starts on the version). ``rollouts`` holds, per process, the percentage
split or FEEL rule that chooses the version of a new instance when the caller names none.

Only new columns and a new table: the revision does not depend on the ones beside it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema._TIMESTAMP`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, or a constant default): no batch copy of the table.
    op.add_column("definitions", sa.Column("version_tag", sa.String(255)))
    op.add_column(
        "definitions",
        sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "rollouts",
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("split", sa.Text()),
        sa.Column("rule", sa.Text()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.Text()),
        sa.PrimaryKeyConstraint("process_id"),
    )


def downgrade() -> None:
    op.drop_table("rollouts")
    for column in ("suspended", "version_tag"):
        op.drop_column("definitions", column)
