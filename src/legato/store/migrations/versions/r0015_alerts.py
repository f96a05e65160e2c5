"""Alerts: ``alerts``, ``service_levels``, ``webhooks`` and ``webhook_deliveries``.

The SLA sweep (``legato.runtime.sla``) raises alerts into ``alerts``, unique by
``dedupe_key`` so that sweeps on two nodes raise each once; ``service_levels`` holds the
expected durations set through the API (over the model's ``legato:sla``); ``webhooks`` says
where alerts are posted and ``webhook_deliveries`` is the outbox the delivery worker reads.
New tables only, so ``schema_versions`` stays.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema.UtcTimestamp`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("process_id", sa.String(255)),
        sa.Column("version", sa.Integer()),
        sa.Column("instance_key", sa.BigInteger()),
        sa.Column("element_id", sa.String(255)),
        sa.Column("element_instance_key", sa.BigInteger()),
        sa.Column("raised_at", _TIMESTAMP, nullable=False),
        sa.Column("resolved_at", _TIMESTAMP),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_key", name=op.f("pk_alerts")),
    )
    op.create_index("ux_alerts_dedupe_key", "alerts", ["dedupe_key"], unique=True)
    op.create_index("ix_alerts_instance", "alerts", ["instance_key"])
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["raised_at", "alert_key"],
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "service_levels",
        sa.Column("process_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("expected_us", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.Float()),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "process_id", "version", "element_id", name=op.f("pk_service_levels")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("kinds", sa.Text()),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("webhook_key", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("webhook_key", sa.BigInteger(), nullable=False),
        sa.Column("alert_key", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIMESTAMP),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("delivered_at", _TIMESTAMP),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("delivery_key", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ux_webhook_deliveries_event",
        "webhook_deliveries",
        ["webhook_key", "alert_key", "event"],
        unique=True,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("service_levels")
    op.drop_table("alerts")
