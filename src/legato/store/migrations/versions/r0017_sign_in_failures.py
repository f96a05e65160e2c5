"""Failed sign-ins: ``sign_in_failures``.

Failed sign-ins are counted per account (``user:<name>``) and per client address
(``address:<ip>``) in the database, so that every node of it refuses a locked account and an
address that guesses too much (:mod:`legato.security.lockout`). New table only, so
``schema_versions`` stays.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema.UtcTimestamp`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", _TIMESTAMP, nullable=False),
        sa.Column("locked_until", _TIMESTAMP),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_sign_in_failures")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
