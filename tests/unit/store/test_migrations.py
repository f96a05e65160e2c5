"""Schema migrations: the migrated schema is ``metadata``; upgrades keep data; nodes that
start together migrate once; older files are adopted; newer databases are refused."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from legato.errors import StoreError
from legato.store import migrations
from legato.store.postgres import create_postgres_engine
from legato.store.records import HistoryRecord
from legato.store.schema import JsonText, UtcTimestamp, definitions, instances, metadata
from legato.store.sql import SqlStore
from legato.store.sqlite import create_sqlite_engine

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def raw_engine(fresh_url: str) -> Iterator[sa.Engine]:
    """An engine on the fresh database, set up like the store's (pragmas, search_path)."""
    parsed = sa.make_url(fresh_url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_sqlite_engine(parsed)
    else:
        engine = create_postgres_engine(parsed)
    yield engine
    engine.dispose()


def schema_diff(engine: sa.Engine) -> list[object]:
    """Alembic's autogenerate diff between the database and ``metadata`` (types included)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def revision_of(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return migrations.stored_revision(connection)


def open_store(url: str) -> SqlStore:
    return SqlStore(url)


# -- the schema -------------------------------------------------------------------------------


def test_the_migrated_schema_is_the_metadata(fresh_url: str, raw_engine: sa.Engine) -> None:
    open_store(fresh_url).close()

    assert schema_diff(raw_engine) == []
    assert revision_of(raw_engine) == migrations.head_revision() == "0017"
    with raw_engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version FROM schema_versions ORDER BY 1"))
        assert versions.all() == [(1,), (2,)]
        assert connection.execute(sa.text("SELECT next_key FROM key_counters")).all() == [(1,)]


@pytest.mark.postgres
def test_postgres_instance_pages_keep_room_for_updates(fresh_postgres_url: str) -> None:
    # Revision 0004: instance rows are rewritten by every command; half-full pages let
    # PostgreSQL update them in place (HOT) instead of adding entries to six indexes.
    def options(engine: sa.Engine) -> list[str] | None:
        with engine.connect() as connection:
            found: list[str] | None = connection.execute(
                sa.text(
                    "SELECT reloptions FROM pg_class"
                    " WHERE oid = to_regclass(current_schema() || '.instances')"
                )
            ).scalar()
        return found

    open_store(fresh_postgres_url).close()
    engine = create_postgres_engine(sa.make_url(fresh_postgres_url))
    try:
        assert options(engine) == ["fillfactor=50"]
        with engine.begin() as connection:
            command.downgrade(migrations.alembic_config(connection), "0003")
        assert options(engine) is None
    finally:
        engine.dispose()


def test_a_schema_that_differs_from_the_metadata_is_noticed(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    # The comparison above must be able to fail: drop an index and a table and see both.
    open_store(fresh_url).close()
    with raw_engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_instances_status_ended"))
        connection.execute(sa.text("DROP TABLE nodes"))

    kinds = sorted(str(change[0]) for change in schema_diff(raw_engine))  # type: ignore[index]
    assert kinds == ["add_index", "add_table"]


def test_constraints_carry_the_names_of_the_naming_convention(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    open_store(fresh_url).close()
    if raw_engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not keep primary-key names in its catalog")
    inspector = sa.inspect(raw_engine)
    for table in metadata.sorted_tables:
        assert inspector.get_pk_constraint(table.name)["name"] == f"pk_{table.name}"
        expected = {constraint.name for constraint in table.foreign_key_constraints}
        assert {fk["name"] for fk in inspector.get_foreign_keys(table.name)} == expected


def test_downgrading_to_nothing_and_upgrading_again_gives_the_same_schema(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    open_store(fresh_url).close()
    with raw_engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "base")
    assert set(sa.inspect(raw_engine).get_table_names()) == {"alembic_version"}

    open_store(fresh_url).close()
    assert schema_diff(raw_engine) == []


# -- upgrades keep data -------------------------------------------------------------------------


def test_an_upgrade_from_the_baseline_keeps_the_data(
    fresh_url: str, raw_engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a database at revision 0001 with an ended instance and its history (event rows)
    with raw_engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0001")
        insert_ended_instance(connection)
    assert revision_of(raw_engine) == "0001"

    # When a store opens it
    caplog.set_level(logging.INFO, logger="legato.store.migrations")
    store = open_store(fresh_url)

    # Then 0002, 0003 and 0004 ran, the data is intact and the schema is the metadata
    try:
        assert applied_revisions(caplog) == [
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
            "0015",
            "0016",
            "0017",
        ]
        with store.transaction() as tx:
            record = tx.get_instance(10)
            events = tx.history(10)
        assert record is not None
        assert (record.status, record.ended_at, record.state) == (
            "completed",
            T0 + timedelta(minutes=5),
            {"vars": {"x": 1}},
        )
        assert [(e.position, e.event_type, e.element_id, e.at, e.payload) for e in events] == [
            (1, "InstanceStarted", None, T0, {"n": 1}),
            (2, "InstanceCompleted", "end", T0, {"n": 2}),
        ]
        assert revision_of(raw_engine) == "0017"
        assert schema_diff(raw_engine) == []
    finally:
        store.close()


def test_history_chunks_survive_a_downgrade_to_event_rows_and_back(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    # Given a history written in chunks: two commands' events at two instants
    store = open_store(fresh_url)
    written = [
        HistoryRecord(10, position, kind, when, {"n": position, "deep": {"list": [1, None]}}, eid)
        for position, kind, when, eid in (
            (1, "InstanceCreated", T0, None),
            (2, "ElementActivated", T0, "start"),
            (3, "ElementCompleted", T0, "start"),
            (4, "JobCompleted", T0 + timedelta(seconds=1), None),
            (5, "InstanceCompleted", T0 + timedelta(seconds=1), "end"),
        )
    ]
    try:
        with raw_engine.begin() as connection:
            insert_definition_and_instance(connection)
        with store.transaction() as tx:
            tx.append_history(written)
    finally:
        store.close()
    with raw_engine.connect() as connection:
        chunks = connection.execute(sa.text("SELECT position, event_count FROM history"))
        assert sorted(chunks.all()) == [(1, 3), (4, 2)]

    # When the database goes back to one row per event (revision 0002)
    with raw_engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "0002")

    # Then every event has its row, and schema_versions no longer claims version 2
    with raw_engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT position, event_type, element_id, payload FROM history ORDER BY 1")
        ).all()
        versions = connection.execute(sa.text("SELECT version FROM schema_versions")).all()
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in rows] == [
        (e.position, e.event_type, e.element_id, e.payload) for e in written
    ]
    assert versions == [(1,)]

    # And upgrading again reads back the same history
    store = open_store(fresh_url)
    try:
        with store.transaction() as tx:
            assert tx.history(10) == written
        assert schema_diff(raw_engine) == []
    finally:
        store.close()


HISTORY_0001 = sa.Table(
    "history",
    sa.MetaData(),
    sa.Column("instance_key", sa.BigInteger, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("event_type", sa.String(64)),
    sa.Column("element_id", sa.String(255)),
    sa.Column("at", UtcTimestamp),
    sa.Column("payload", JsonText),
)
"""The history table as revisions 0001 and 0002 have it (one row per event)."""


def insert_ended_instance(connection: sa.Connection) -> None:
    """Rows as revision 0001 stores them."""
    insert_definition_and_instance(connection)
    connection.execute(
        sa.insert(HISTORY_0001),
        [
            {
                "instance_key": 10,
                "position": position,
                "event_type": event_type,
                "element_id": element_id,
                "at": T0,
                "payload": {"n": position},
            }
            for position, event_type, element_id in (
                (1, "InstanceStarted", None),
                (2, "InstanceCompleted", "end"),
            )
        ],
    )


def insert_definition_and_instance(connection: sa.Connection) -> None:
    """A definition and an ended instance 10 of it (these tables have not changed)."""
    connection.execute(
        sa.insert(definitions),
        {
            "definition_key": 1,
            "process_id": "order",
            "version": 1,
            "name": None,
            "resource_name": "order.bpmn",
            "source": "<definitions/>",
            "checksum": "sha",
            "deployed_at": T0,
        },
    )
    connection.execute(
        sa.insert(instances),
        {
            "instance_key": 10,
            "definition_key": 1,
            "process_id": "order",
            "version": 1,
            "status": "completed",
            "business_key": None,
            "started_at": T0,
            "ended_at": T0 + timedelta(minutes=5),
            "revision": 2,
            "parent_instance_key": None,
            "incident_count": 0,
            "state": {"vars": {"x": 1}},
        },
    )


def applied_revisions(caplog: pytest.LogCaptureFixture) -> list[str]:
    prefix = "applied schema revision "
    return [
        record.getMessage().removeprefix(prefix)
        for record in caplog.records
        if record.getMessage().startswith(prefix)
    ]


# -- nodes starting together ------------------------------------------------------------------


def test_stores_opening_a_fresh_database_together_migrate_it_once(
    fresh_url: str, raw_engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="legato.store.migrations")
    opened, failures = open_together(lambda: open_store(fresh_url), count=4)
    try:
        assert failures == []
        assert len(opened) == 4
        assert applied_revisions(caplog) == [
            "0001",
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
            "0015",
            "0016",
            "0017",
        ]
        with raw_engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM schema_versions")).scalar() == 2
            assert connection.execute(sa.text("SELECT count(*) FROM key_counters")).scalar() == 1
        # Each store works, and they share one key counter.
        ranges = []
        for store in opened:
            with store.transaction() as tx:
                ranges.append(tx.reserve_keys(5))
        starts = sorted(each.start for each in ranges)
        assert starts == [1, 6, 11, 16]
    finally:
        for store in opened:
            store.close()


def open_together(
    opener: Callable[[], SqlStore], count: int
) -> tuple[list[SqlStore], list[BaseException]]:
    """Open ``count`` stores in threads released at the same instant."""
    barrier = threading.Barrier(count)
    opened: list[SqlStore] = []
    failures: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            opened.append(opener())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened, failures


# -- older and newer databases ----------------------------------------------------------------


def test_a_version_1_file_from_before_migrations_is_completed_and_stamped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a file as Legato wrote it before migrations: version 1, no alembic_version, no
    # nodes or timers table yet, no retention index, and some data
    path = tmp_path / "legacy.db"
    engine = create_sqlite_engine(sa.make_url(f"sqlite:///{path}"))
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0001")
        insert_ended_instance(connection)
    engine.dispose()
    with sqlite3.connect(path) as raw:
        for table in ("alembic_version", "nodes", "timers"):
            raw.execute(f"DROP TABLE {table}")
    raw.close()

    # When a store opens it
    caplog.set_level(logging.INFO, logger="legato.store.migrations")
    store = open_store(f"sqlite:///{path}")

    # Then the missing tables were made, it was stamped at 0001 and upgraded to the head
    engine = create_sqlite_engine(sa.make_url(f"sqlite:///{path}"))
    try:
        assert any("created timers, nodes" in r.getMessage() for r in caplog.records)
        assert applied_revisions(caplog) == [
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
            "0015",
            "0016",
            "0017",
        ]
        assert revision_of(engine) == "0017"
        assert schema_diff(engine) == []
        with store.transaction() as tx:
            assert tx.history(10)[-1].event_type == "InstanceCompleted"
            assert tx.list_timers() == []
    finally:
        store.close()
        engine.dispose()


def test_a_database_at_an_unknown_newer_revision_is_refused(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    open_store(fresh_url).close()
    with raw_engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))

    with pytest.raises(StoreError, match=r"revision 0999, newer than revision 0017"):
        open_store(fresh_url)


def test_the_analytics_facts_are_filled_from_the_history_when_their_revision_runs(
    fresh_url: str, raw_engine: sa.Engine
) -> None:
    from legato.testing import TestEngine

    engine = TestEngine(fresh_url, start=T0)
    try:
        engine.deploy(
            '<?xml version="1.0"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
            "</bpmn:process></bpmn:definitions>"
        )
        key = engine.start("p").key
        with engine.store.transaction() as tx:
            live = tx.facts_of([key])
    finally:
        engine.close()
    with raw_engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "0013")

    store = open_store(fresh_url)
    try:
        with store.transaction() as tx:
            assert tx.facts_of([key]) == live
        assert live[0][0].outcome == "completed" and live[1] == []  # instant elements: no rows
    finally:
        store.close()
