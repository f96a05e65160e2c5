"""Schema migrations with alembic, run by every store when it opens a database.

The revisions live in ``versions/`` (``r0001_baseline`` is the whole version-1 schema written
out; each later revision is one change). They run programmatically: no ``alembic.ini``, the
store's open connection is handed to ``env.py`` in ``config.attributes["connection"]``.

**One transaction, under a lock.** :func:`upgrade_schema` runs inside the caller's
transaction, which already holds the schema lock (PostgreSQL: ``pg_advisory_xact_lock``;
SQLite: the write lock of ``BEGIN IMMEDIATE``). Nodes that start together therefore queue:
the first migrates, the others find the database at head and do nothing. Because the
transaction is the caller's, alembic opens none of its own, so ``transaction_per_migration``
is moot and left off: every pending revision and the ``alembic_version`` update commit
together, or, if one fails, none do and the database stays at the revision it had. Both
dialects run DDL inside a transaction (SQLite's ``CREATE``/``DROP``/``ALTER`` are
transactional; alembic merely assumes they are not, for the sake of drivers that commit
before DDL, which the store's SQLite engine does not let happen).

**Two version markers.** ``alembic_version`` is the authority for this code: the database
is migrated from the revision it records to :func:`head_revision`, and a revision this code
does not know (a newer Legato migrated the database) is refused. ``schema_versions`` is kept
for Legato releases from before migrations, which read only that table and refuse a version
above 1: a revision that makes the database unusable for them inserts a higher version
there; additive revisions (new tables, new indexes) leave it at 1. This code refuses a
``schema_versions`` above :data:`~legato.store.schema.SCHEMA_VERSION` too.

**Adopting older databases.** A database written before migrations has ``schema_versions``
at 1 and no ``alembic_version``. Some of those files predate the timers, subscriptions,
messages or nodes tables. They are completed with the baseline revision's own table
functions (never with ``metadata.create_all``, which would create tables as the *newest*
revision shapes them), stamped at the baseline, and then upgraded like any other database.

New revisions are written by hand (``script.py.mako`` is the template). The migration tests
compare the migrated schema with :data:`~legato.store.schema.metadata`, so a revision that
does not match the tables in ``schema.py`` (or the reverse) fails there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory

from legato.errors import StoreError
from legato.store.schema import SCHEMA_VERSION, schema_versions

BASELINE = "0001"
"""The revision that is the whole version-1 schema (what older databases are stamped at)."""

logger = logging.getLogger("legato.store.migrations")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An alembic configuration for Legato's revisions, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = _scripts().get_current_head()
    assert head is not None  # the revisions form one line
    return head


def stored_revision(connection: sa.Connection) -> str | None:
    """The revision recorded in ``alembic_version`` (None if the table is missing)."""
    return MigrationContext.configure(connection).get_current_revision()


def stored_schema_version(connection: sa.Connection) -> int | None:
    """The highest version in ``schema_versions`` (None if the table is missing or empty)."""
    if not sa.inspect(connection).has_table(schema_versions.name):
        return None
    version = connection.scalar(sa.select(sa.func.max(schema_versions.c.version)))
    return None if version is None else int(version)


def upgrade_schema(connection: sa.Connection) -> list[str]:
    """Bring the database on ``connection`` to :func:`head_revision`.

    The caller runs this inside a transaction that holds the schema lock and commits it
    (see the module docstring).

    Returns:
        The revisions applied, oldest first (empty if the database was at head).

    Raises:
        StoreError: if the database was migrated by a newer Legato.
    """
    version = stored_schema_version(connection)
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {version}, newer than version "
            f"{SCHEMA_VERSION} that this Legato knows; upgrade Legato to use it"
        )
    revision = stored_revision(connection)
    if revision is None and version is not None:
        revision = _adopt(connection)
    head = head_revision()
    if revision is not None:
        _check_known(revision, head)
    if revision == head:
        return []
    config = alembic_config(connection)
    applied: list[str] = []
    config.attributes["applied"] = applied
    command.upgrade(config, "head")
    for each in applied:
        logger.info("applied schema revision %s", each)
    return applied


def _check_known(revision: str, head: str) -> None:
    try:
        _scripts().get_revision(revision)
    except Exception as exc:  # alembic raises several kinds for an unknown id
        raise StoreError(
            f"the database is at schema revision {revision}, newer than revision {head} "
            "that this Legato knows; upgrade Legato to use it"
        ) from exc


def _adopt(connection: sa.Connection) -> str:
    """Complete a version-1 database from before migrations and stamp it at the baseline."""
    baseline = _scripts().get_revision(BASELINE)
    assert baseline is not None
    tables: dict[str, Callable[[], None]] = baseline.module.TABLES
    existing = set(sa.inspect(connection).get_table_names())
    missing = [name for name in tables if name not in existing]
    context = MigrationContext.configure(connection)
    with Operations.context(context):
        for name in missing:
            tables[name]()
    context.stamp(_scripts(), BASELINE)
    logger.info("adopted a version-1 database (created %s)", ", ".join(missing) or "nothing")
    return BASELINE
