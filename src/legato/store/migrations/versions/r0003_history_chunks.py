"""History in chunks: one row per command and instance instead of one row per event.

A command appends its events to an instance at one instant; they are now stored together in
one row (``position`` is the first event's position, ``event_count`` how many follow, and
``events`` the JSON list ``[[event_type, element_id, payload], ...]``). History was most of
the rows a command wrote (some forty per onboarding instance, six chunks now), so this cuts
the rows, index entries and bytes written per step. Reading an instance's history expands
the chunks into events as before.

The upgrade copies every event row into a chunk of one event, so existing histories read
back unchanged; the downgrade expands chunks into event rows again. Legato releases from
before migrations could not read or write the new shape: ``schema_versions`` gets version 2,
which they refuse.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
_JSON = sa.Text()
_OLD = "history_0002"
"""The old rows' table while they are copied (no constraints, dropped at the end)."""

_TO_CHUNKS = {
    "sqlite": (
        "SELECT instance_key, position, 1, at,"
        " json_array(json_array(event_type, element_id, json(payload)))"
        f" FROM {_OLD}"
    ),
    "postgresql": (
        "SELECT instance_key, position, 1, at,"
        " json_build_array(json_build_array(event_type, element_id, payload::json))::text"
        f" FROM {_OLD}"
    ),
}
_TO_EVENTS = {
    "sqlite": (
        "SELECT h.instance_key, h.position + e.key, json_extract(e.value, '$[0]'),"
        " json_extract(e.value, '$[1]'), h.at, json(json_extract(e.value, '$[2]'))"
        f" FROM {_OLD} AS h, json_each(h.events) AS e"
    ),
    "postgresql": (
        "SELECT h.instance_key, h.position + e.n - 1, e.value->>0, e.value->>1, h.at,"
        " (e.value->2)::text"
        f" FROM {_OLD} AS h, json_array_elements(h.events::json) WITH ORDINALITY AS e(value, n)"
    ),
}


def _pk() -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("instance_key", "position", name=op.f("pk_history"))


def _fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["instance_key"], ["instances.instance_key"], name=op.f("fk_history_instance_key")
    )


def _key() -> sa.Column[int]:
    return sa.Column("instance_key", sa.BigInteger(), autoincrement=False, nullable=False)


def _position() -> sa.Column[int]:
    return sa.Column("position", sa.Integer(), autoincrement=False, nullable=False)


def _set_aside() -> str:
    """Move the current rows to a plain copy, drop the table; returns the dialect's name."""
    dialect = op.get_bind().dialect.name
    if dialect not in _TO_CHUNKS:
        raise RuntimeError(f"revision 0003 has no history conversion for {dialect}")
    op.execute(f"CREATE TABLE {_OLD} AS SELECT * FROM history")
    op.drop_table("history")
    return dialect


def upgrade() -> None:
    dialect = _set_aside()
    op.create_table(
        "history",
        _key(),
        _position(),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.Column("events", _JSON, nullable=False),
        _pk(),
        _fk(),
    )
    op.execute(
        "INSERT INTO history (instance_key, position, event_count, at, events) "
        + _TO_CHUNKS[dialect]
    )
    op.drop_table(_OLD)
    now = datetime.now(UTC)
    applied_at: datetime | int = now
    if dialect == "sqlite":
        applied_at = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    versions = sa.table("schema_versions", sa.column("version"), sa.column("applied_at"))
    op.bulk_insert(versions, [{"version": 2, "applied_at": applied_at}])


def downgrade() -> None:
    dialect = _set_aside()
    op.create_table(
        "history",
        _key(),
        _position(),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("element_id", sa.String(255)),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        _pk(),
        _fk(),
    )
    op.execute(
        "INSERT INTO history (instance_key, position, event_type, element_id, at, payload) "
        + _TO_EVENTS[dialect]
    )
    op.drop_table(_OLD)
    op.execute("DELETE FROM schema_versions WHERE version = 2")
