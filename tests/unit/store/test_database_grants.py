"""The least PostgreSQL privileges: a migration role owns the schema and migrates it, an
engine role with the statements of ``legato db grants`` runs instances and can change no
table. Both roles are made for the test (names of their own) and dropped at the end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bpmn_helpers import chain, process, service
from legato import Engine, Job, NonRetryableError
from legato.cli.app import app
from legato.runtime.clock import VirtualClock
from legato.store.grants import engine_grants
from legato.store.migrations import head_revision
from postgres_fixtures import fresh_schema, server_url

pytestmark = pytest.mark.postgres

ONBOARDING = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "credit-check")
    + '<bpmn:userTask id="approve"/>'
    + '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    + '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>'
    + "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    + service("open", "open-account")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "approve", "wait", "open", "e"),
    process_id="onboarding",
)


class Roles:
    """The two roles of a test, their schema, and URLs that connect as each."""

    def __init__(self, schema_url: str, suffix: str) -> None:
        self.migration = f"legato_mig_{suffix}"
        self.engine = f"legato_eng_{suffix}"
        self._url = sa.make_url(schema_url)
        self.schema = self._url.query["options"].rpartition("=")[2]

    def url(self, role: str) -> str:
        return self._url.set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def roles() -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:10]
    admin = sa.create_engine(server_url(), connect_args={"connect_timeout": 3})
    made: list[str] = []
    try:
        with fresh_schema() as url:
            found = Roles(url, suffix)
            with admin.begin() as connection:
                for role in (found.migration, found.engine):
                    connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
                    made.append(role)
            yield found
    finally:
        with admin.begin() as connection:
            for role in made:  # the schema and its tables went with fresh_schema
                connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
                connection.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def _as_superuser(statements: list[str]) -> None:
    admin = sa.create_engine(server_url())
    try:
        with admin.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        admin.dispose()


def _run_onboarding(url: str) -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    engine = Engine(url, clock=clock, worker_name="node")
    try:
        engine.deploy(ONBOARDING)

        def check(job: Job) -> dict[str, object]:
            if job.variables.get("score") is None:
                raise NonRetryableError("no credit score")
            return {"approved": job.variables["score"] > 600}

        engine.register("credit-check", check)
        engine.register("open-account", lambda job: {"account": "A-1"})
        applicant = engine.start("onboarding", {"score": 700}, business_key="ann")
        broken = engine.start("onboarding", {})
        spare = engine.start("onboarding", {"score": 650})
        engine.run_until_idle()
        [incident] = engine.incidents()
        engine.retry(incident.incident_key, variables={"score": 610})
        engine.run_until_idle()
        for task in engine.user_tasks(instance_key=applicant.key):
            engine.complete_user_task(task.user_task_key, {"ok": True})
        clock.advance(timedelta(hours=1))
        engine.fire_due_timers()
        engine.run_until_idle()
        cancelled = engine.batch("cancel", keys=[broken.key, spare.key])

        assert engine.instance(applicant.key).status == "completed"
        assert engine.instance(applicant.key).variables["account"] == "A-1"
        assert cancelled.skipped == {}
        assert engine.instance(spare.key).status == "terminated"
        assert engine.replay(applicant.key).to_json() == engine.state(applicant.key).to_json()
    finally:
        engine.close()


def test_the_engine_role_runs_instances_and_cannot_change_the_schema(roles: Roles) -> None:
    # Given a schema the migration role owns and has migrated with `legato db upgrade`
    _as_superuser([f'ALTER SCHEMA "{roles.schema}" OWNER TO "{roles.migration}"'])
    upgraded = CliRunner().invoke(app, ["db", "upgrade", "--db", roles.url(roles.migration)])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema revision {head_revision()}" in upgraded.output
    # and the statements of `legato db grants` for the engine role
    printed = CliRunner().invoke(
        app,
        [
            *("db", "grants", roles.engine, "--migration-role", roles.migration),
            *("--schema", roles.schema, "--database", "test"),
        ],
    )
    assert printed.exit_code == 0, printed.output
    _as_superuser([line for line in printed.output.splitlines() if line.strip()])

    # When the engine connects as the engine role, an onboarding runs through
    _run_onboarding(roles.url(roles.engine))

    # Then that role can change no table, nor make one
    engine_role = sa.create_engine(roles.url(roles.engine))
    try:
        for statement in (
            "CREATE TABLE sneaky (x int)",
            "ALTER TABLE instances ADD COLUMN sneaky int",
            "DROP TABLE audit_log",
            "CREATE INDEX sneaky ON instances (status)",
            "TRUNCATE history",
        ):
            with (
                pytest.raises(sa.exc.ProgrammingError, match=r"(?i)permission denied|owner"),
                engine_role.begin() as connection,
            ):
                connection.exec_driver_sql(statement)
    finally:
        engine_role.dispose()


def test_grants_refuse_names_that_are_not_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="engine role 'a\"; DROP"):
        engine_grants('a"; DROP TABLE x; --', migration_role="owner")
    assert engine_grants("eng", migration_role="own")[0] == 'ALTER SCHEMA "public" OWNER TO "own";'
