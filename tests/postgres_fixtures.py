"""PostgreSQL for the tests: schemas of their own on one server, dropped afterwards.

``LEGATO_TEST_POSTGRES_URL`` names the server (default: the local one with trust auth).
Where it cannot be reached the PostgreSQL variants are skipped, unless
``LEGATO_REQUIRE_POSTGRES=1`` (CI sets it) turns that into a failure.

The store tests get one fresh schema per test module (``postgres_url``); the engine tests
borrow stores from a pool that lives for the whole session (see ``engine_stores.py``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from legato.store import postgres
from legato.store.schema import metadata
from legato.store.sql import SqlStore
from postgres_slots import wait_for_free_slots

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

# The server's connections are shared with every suite running at once: wait for a free one.
wait_for_free_slots()

# The schema version and the key counter survive an emptying: keys must never repeat anyway.
KEPT_TABLES = frozenset({"schema_versions", "key_counters"})


def server_url() -> sa.URL:
    """The test server's URL, for psycopg 3."""
    return postgres.postgres_url(
        sa.make_url(os.environ.get("LEGATO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    )


def unreachable(reason: str) -> None:
    """Skip the test (or fail it, where CI requires PostgreSQL)."""
    if os.environ.get("LEGATO_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (LEGATO_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"PostgreSQL not reachable ({reason}); set LEGATO_TEST_POSTGRES_URL")


def schema_url(server: sa.URL, schema: str) -> str:
    """A URL whose connections put ``schema`` first on the ``search_path``."""
    options = quote(f"-csearch_path={schema}", safe="")
    rendered = server.render_as_string(hide_password=False)
    separator = "&" if "?" in rendered else "?"
    return f"{rendered}{separator}options={options}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new empty schema (no tables yet), dropped when the block ends."""
    server = server_url()
    admin = sa.create_engine(server, connect_args={"connect_timeout": 3})
    schema = f"legato_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unreachable(str(exc.orig).strip().splitlines()[0])
    try:
        yield schema_url(server, schema)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def empty_tables(engine: sa.Engine) -> None:
    """Delete every row but the schema version and the key counter.

    The engine and conformance suites lend a store to each test, so this runs hundreds of
    times. DELETE rather than TRUNCATE: on tables of a few rows DELETE takes milliseconds,
    while TRUNCATE swaps every table's and index's files (about 200 ms here). On PostgreSQL
    all statements go in one round trip, and the commit does not wait for its WAL flush (a
    crash of the server would only lose the emptying of a test schema): about 6 ms instead
    of 24 ms. SQLite runs in the process and takes one statement per call.
    """
    tables = [t for t in reversed(metadata.sorted_tables) if t.name not in KEPT_TABLES]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            deletes = " ".join(f'DELETE FROM "{table.name}";' for table in tables)
            connection.exec_driver_sql(f"SET LOCAL synchronous_commit TO OFF; {deletes}")
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The URL of a schema of this test module's own (dropped at the end)."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """The URL of a new empty schema (no tables yet) for one test."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[SqlStore]:
    """A store on this module's schema with every table empty."""
    store = SqlStore(postgres_url)
    empty_tables(store.engine)
    yield store
    store.close()


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    """This module's schema URL, with every table empty (for engines made from a URL)."""
    store = SqlStore(postgres_url)
    try:
        empty_tables(store.engine)
    finally:
        store.close()
    return postgres_url
