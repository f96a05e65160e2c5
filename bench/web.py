"""Cockpit benchmark: the queries behind the web pages at 1,000,000 completed and 10,000
active onboarding instances, on SQLite (and on PostgreSQL with ``--postgres``).

Seeding (cached between runs, see ``--cache``):

1. Template instances run through the engine (``examples/onboarding/onboarding.bpmn`` with
   do-nothing handlers): ``--template-completed`` that finish (three in four approved
   automatically, the others by a manager through the user task) and
   ``--template-active`` that stay active (nine in ten waiting at the manager's task, the
   others stuck in an incident at the credit check, with messages that differ in their
   numbers and ids).
2. Their rows are copied with new keys in bulk SQL until there are ``--completed`` and
   ``--active`` instances: instances, history, root variables, jobs, user tasks and
   incidents, each copy shifted back in time (the copies spread over 90 days), so every row
   has the shape the engine writes. The element counters are set to the templates' counts
   times the copies. Of the open tasks, 5,000 are visible to the user ``mia`` (group
   ``managers``): 4,500 as a candidate group, 500 assigned to her; the others belong to the
   group ``sales``. The copies are for reading: their states still name the templates'
   element keys. With ``--no-history-copies`` the copies of completed instances get no
   history rows (no measured query reads them; the database is some 7 GB smaller).

Measurements: each is a function (``measure_*``) timed ``--repeat`` times after one untimed
call, through the engine's public methods in this process (server side, no HTTP); the web
pages (the task list's ``GET /tasks`` for ``mia``, the cockpit's pages for the operator
``olga``) are called through the ASGI application in this process (session check, queries
and template; no sockets). p50 and p95 are reported. Add a measurement by adding a function
to :data:`MEASUREMENTS`.

Run from the repository root::

    .venv/bin/python bench/web.py                      # SQLite, writes RESULTS.md
    .venv/bin/python bench/web.py --postgres           # PostgreSQL (schema bench_web)
    .venv/bin/python bench/web.py --completed 20000 --active 1000 --no-write  # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from _report import machine_facts, percentile, publish, version_of, yes

from legato import Engine, Job
from legato.api.app import create_app
from legato.errors import AccountNotFoundError
from legato.runtime.cockpit import instance_cursor
from legato.security.accounts import Accounts
from legato.web import mount
from legato.web.session import SESSION_COOKIE

REPO = Path(__file__).resolve().parent.parent
BPMN = REPO / "examples" / "onboarding" / "onboarding.bpmn"
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
DEFAULT_CACHE = REPO / "bench" / ".cache"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TITLE = "Cockpit: queries at 1,000,000 instances"
KEY_STRIDE = 1_000_000
"""Copy ``i`` of a template row gets the template's keys plus ``i`` times this."""
SPREAD = timedelta(days=90)
USER, GROUP, OTHER_GROUP = "mia", "managers", "sales"
USER_PASSWORD = "bench-mia"
VISIBLE_TASKS = 5_000
WEB_USER, WEB_PASSWORD = "olga", "bench-only-password"
"""The operator the web page measurements sign in as."""


# -- seeding ---------------------------------------------------------------------------------


def _handlers(engine: Engine) -> None:
    def credit_check(job: Job) -> dict[str, Any]:
        return {"score": job.variables.get("score", 650)}

    engine.register("credit-check", credit_check)
    engine.register("prepare-template", lambda job: {"template": "retail-standard"})
    for job_type in ("charge-fee", "create-account", "send-email", "provision"):
        engine.register(job_type, lambda job: {})


def _variables(index: int, score: int) -> dict[str, Any]:
    return {
        "customer": f"customer-{index}",
        "score": score,
        "segment": "business" if index % 10 == 0 else "retail",
        "country": ("DE", "FR", "NL", "IT", "ES")[index % 5],
    }


def run_completed(engine: Engine, count: int) -> None:
    """Template instances that finish: three in four approved automatically, the others
    by a manager (four in five approved)."""
    for first in range(0, count, 200):
        batch = [
            _variables(index, 650 if index % 4 == 0 else 760)
            for index in range(first, min(first + 200, count))
        ]
        engine.start_many("onboarding", batch)
        engine.run_until_idle()
        for task in engine.user_tasks(process_id="onboarding"):
            engine.complete_user_task(task.user_task_key, {"approved": task.user_task_key % 5 != 0})
        engine.run_until_idle()


def run_active(engine: Engine, count: int, first_index: int) -> None:
    """Template instances that stay active: nine in ten at the manager's task, the others
    in an incident at the credit check."""
    stuck = max(count // 10, 1)
    waiting = [_variables(first_index + n, 600 + n % 100) for n in range(count - stuck)]
    engine.start_many("onboarding", waiting)
    engine.run_until_idle()
    for number in range(stuck):
        info = engine.start("onboarding", _variables(first_index + count + number, 620))
        job = next(j for j in engine.jobs(instance_key=info.key) if j.job_type == "credit-check")
        if job.worker is None:
            engine.lock_job(job.job_key, worker="bench", timeout=timedelta(minutes=5))
        request = hashlib.sha256(str(number).encode()).hexdigest()[:12]
        message = (
            f"credit bureau timeout after {3000 + number % 7} ms (request {request}abcd)"
            if number % 3
            else f"customer {number} is unknown to the bureau"
        )
        engine.fail_job(
            job.job_key,
            message,
            retries=0,
            worker=job.worker or "bench",
            error_details="Traceback (most recent call last):\n  ...\nTimeoutError",
        )


@dataclass
class Db:
    """A database and the SQL that differs between SQLite and PostgreSQL."""

    url: str
    engine: sa.Engine

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def series(self, first: int, last: int) -> str:
        if self.postgres:
            return f"(SELECT generate_series({first}, {last}) AS i) AS c"
        return (
            f"(WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s "
            f"WHERE i < {last}) SELECT i FROM s) AS c"
        )

    def earlier(self, column: str, step: timedelta) -> str:
        micros = step // timedelta(microseconds=1)
        if self.postgres:
            return f"{column} - c.i * interval '{micros} microseconds'"
        return f"{column} - c.i * {micros}"


_COPIED = {
    "instances": {"instance_key": "key", "parent_instance_key": "key"},
    "history": {"instance_key": "key"},
    "instance_variables": {"instance_key": "key"},
    "jobs": {"job_key": "key", "instance_key": "key", "element_instance_key": "key"},
    "user_tasks": {"user_task_key": "key", "instance_key": "key", "element_instance_key": "key"},
    "incidents": {
        "incident_key": "key",
        "instance_key": "key",
        "element_instance_key": "key",
        "job_key": "key",
    },
}
"""The tables copied, and their key columns (shifted by ``c.i * KEY_STRIDE``)."""

_TIMES = {
    "instances": ("started_at", "ended_at"),
    "instance_variables": ("started_at",),
    "user_tasks": ("created_at", "updated_at", "completed_at"),
    "incidents": ("created_at",),
    "jobs": ("created_at",),
}


def _columns(connection: sa.Connection, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(connection).get_columns(table)]


def copy_rows(
    db: Db,
    templates: str,
    first: int,
    last: int,
    step: timedelta,
    key_base: int = 0,
    tables: Sequence[str] = tuple(_COPIED),
) -> None:
    """Copy the rows of the template instances ``templates`` (a SELECT of keys) as copies
    ``first`` to ``last``: copy ``i`` is ``i`` times ``step`` older and its keys are the
    template's plus ``(key_base + i) * KEY_STRIDE``."""
    with db.engine.begin() as connection:
        for table in tables:
            keys = _COPIED[table]
            expressions = []
            for column in _columns(connection, table):
                if column in keys:
                    expressions.append(f"t.{column} + (c.i + {key_base}) * {KEY_STRIDE}")
                elif column in _TIMES.get(table, ()):
                    expressions.append(db.earlier(f"t.{column}", step))
                else:
                    expressions.append(f"t.{column}")
            connection.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(_columns(connection, table))}) "
                f"SELECT {', '.join(expressions)} FROM {table} t CROSS JOIN "
                f"{db.series(first, last)} WHERE t.instance_key IN ({templates})"
            )


def _counts(connection: sa.Connection) -> dict[tuple[int, str], list[int]]:
    rows = connection.exec_driver_sql(
        "SELECT definition_key, element_id, sum(active), sum(completed), sum(terminated), "
        "sum(incidents) FROM element_counts GROUP BY definition_key, element_id"
    )
    return {(r[0], r[1]): [int(v) for v in r[2:]] for r in rows}


def seed(
    db: Db, completed: int, active: int, t_completed: int, t_active: int, history: bool = True
) -> None:
    """Fill an empty database (see the module docstring); without ``history`` the copies
    of completed instances get no history rows (only their templates have them)."""
    tables = tuple(t for t in _COPIED if history or t != "history")
    # The incidents the templates make on purpose are logged as errors: one line each.
    logging.getLogger("legato").setLevel(logging.CRITICAL)
    engine = Engine(db.url)
    try:
        _handlers(engine)
        engine.deploy(BPMN)
        run_completed(engine, t_completed)
        with db.engine.connect() as connection:
            completed_counts = _counts(connection)
        run_active(engine, t_active, t_completed)
    finally:
        engine.close()
    with db.engine.begin() as connection:
        all_counts = _counts(connection)
        max_key = connection.exec_driver_sql("SELECT max(instance_key) FROM instances").scalar()
    assert max_key is not None and int(max_key) < KEY_STRIDE // 10
    completed_copies = completed // t_completed - 1
    active_copies = active // t_active - 1
    step = SPREAD / max(completed_copies, 1)
    templates = f"SELECT instance_key FROM instances WHERE instance_key < {KEY_STRIDE} AND "
    ended, running = templates + "status <> 'active'", templates + "status = 'active'"
    for first in range(1, completed_copies + 1, 50):
        copy_rows(db, ended, first, min(first + 49, completed_copies), step, 0, tables)
        print(f"  copied completed instances, copy {min(first + 49, completed_copies)}")
    base = completed_copies + 1
    copy_rows(
        db, running + f" AND instance_key < {KEY_STRIDE}", base, base + active_copies - 1, step
    )
    with db.engine.begin() as connection:
        _set_counts(connection, completed_counts, all_counts, completed_copies, active_copies)
        _share_tasks(connection)
        next_key = (completed_copies + active_copies + 1) * KEY_STRIDE
        connection.exec_driver_sql(f"UPDATE key_counters SET next_key = {next_key}")
        if not db.postgres:
            connection.exec_driver_sql("ANALYZE")
    if db.postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def _set_counts(
    connection: sa.Connection,
    completed_counts: dict[tuple[int, str], list[int]],
    all_counts: dict[tuple[int, str], list[int]],
    completed_copies: int,
    active_copies: int,
) -> None:
    connection.exec_driver_sql("DELETE FROM element_counts")
    for place, total in all_counts.items():
        done = completed_counts.get(place, [0, 0, 0, 0])
        values = [
            d * (completed_copies + 1) + (t - d) * (active_copies + 1)
            for d, t in zip(done, total, strict=True)
        ]
        connection.execute(
            sa.text("INSERT INTO element_counts VALUES (:d, :e, 0, :a, :c, :t, :i)"),
            {
                "d": place[0],
                "e": place[1],
                "a": values[0],
                "c": values[1],
                "t": values[2],
                "i": values[3],
            },
        )


def _share_tasks(connection: sa.Connection) -> None:
    """Make 5,000 open tasks visible to ``mia``: 4,500 by group, 500 assigned."""
    keys = [
        row[0]
        for row in connection.exec_driver_sql(
            "SELECT user_task_key FROM user_tasks WHERE state = 'created' ORDER BY user_task_key"
        )
    ]
    assigned, grouped = keys[:500], keys[500:VISIBLE_TASKS]
    others = keys[VISIBLE_TASKS:]
    for chunk_keys, values in (
        (assigned, {"assignee": USER, "candidate_groups": "[]"}),
        (grouped, {"assignee": None, "candidate_groups": f'["{GROUP}"]'}),
        (others, {"assignee": None, "candidate_groups": f'["{OTHER_GROUP}"]'}),
    ):
        for start in range(0, len(chunk_keys), 500):
            connection.execute(
                sa.text(
                    "UPDATE user_tasks SET assignee = :assignee, "
                    "candidate_groups = :candidate_groups WHERE user_task_key IN :keys"
                ).bindparams(sa.bindparam("keys", expanding=True)),
                {**values, "keys": chunk_keys[start : start + 500]},
            )


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Context:
    """What the measurements use: the engine and a few values found once, untimed."""

    engine: Engine
    deep_cursor: str
    """A cursor half way down the instance list."""
    web: WebApp
    """The web app signed in as ``mia`` (role ``user``)."""
    cockpit: WebApp
    """The web app signed in as ``olga`` (role ``operator``)."""


class WebApp:
    """The server's application (API and web app) over ``engine``, called in this process
    through httpx's ASGI transport (no sockets) with the web session of a user (added with
    ``role`` and ``groups`` when the database lacks them): ``mia`` (role ``user`` in group
    ``managers``) unless told otherwise."""

    def __init__(
        self,
        engine: Engine,
        user: str = USER,
        password: str = USER_PASSWORD,
        role: str = "user",
        groups: Sequence[str] = (GROUP,),
    ) -> None:
        accounts = Accounts(engine.store)
        try:
            accounts.user(user)
        except AccountNotFoundError:
            accounts.create_user(user, password, roles=[role], groups=list(groups))
        issued = accounts.issue_token(user, password)
        if issued is None:
            raise SystemExit(f"cannot sign in as {user!r}: the database has another password")
        app = create_app(engine, accounts)
        mount(app)
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            cookies={SESSION_COOKIE: issued[0]},
        )

    def page(self, path: str) -> str:
        """The HTML of the page at ``path`` (anything but 200 stops the benchmark)."""
        answer = self._loop.run_until_complete(self._client.get(path))
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.text

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


def measure_first_page(ctx: Context) -> object:
    return ctx.engine.search_instances(limit=50, with_count=True)


def measure_filtered_page(ctx: Context) -> object:
    return ctx.engine.search_instances(
        process_id="onboarding",
        status="completed",
        variable=("segment", "business"),
        limit=50,
        with_count=True,
    )


def measure_filtered_active_page(ctx: Context) -> object:
    return ctx.engine.search_instances(
        process_id="onboarding",
        status="active",
        variable=("country", "NL"),
        limit=50,
        with_count=True,
    )


def measure_incident_page(ctx: Context) -> object:
    return ctx.engine.search_instances(status="incident", limit=50, with_count=True)


def measure_deep_page(ctx: Context) -> object:
    return ctx.engine.search_instances(after=ctx.deep_cursor, limit=50)


def measure_element_statistics(ctx: Context) -> object:
    return ctx.engine.element_statistics("onboarding")


def measure_process_versions(ctx: Context) -> object:
    return ctx.engine.process_definitions()


def measure_incident_groups(ctx: Context) -> object:
    return ctx.engine.incident_groups()


def measure_task_list(ctx: Context) -> object:
    visible = (USER, (GROUP,))
    page = ctx.engine.user_tasks(visible_to=visible, sort=(("created_at", "desc"),), limit=50)
    return page, ctx.engine.count_user_tasks(visible_to=visible)


def measure_web_first_page(ctx: Context) -> object:
    return ctx.cockpit.page("/cockpit/instances")


def measure_web_filtered_page(ctx: Context) -> object:
    return ctx.cockpit.page(
        "/cockpit/instances?process=onboarding&state=completed&variable=segment&value=business"
    )


def measure_web_process_page(ctx: Context) -> object:
    # The page and the JSON of its element overlays, which the diagram fetches after it.
    page = ctx.cockpit.page("/cockpit/processes/onboarding")
    return page, ctx.cockpit.page("/cockpit/processes/onboarding/statistics?version=1")


def measure_task_list_page(ctx: Context) -> object:
    """``GET /tasks`` rendered for ``mia`` (newest first): session check, page query, count,
    the process filter's choices and the template, through the ASGI application."""
    return ctx.web.page("/tasks?sort=created_at&order=desc")


MEASUREMENTS: dict[str, tuple[Callable[[Context], object], float]] = {
    "Instance list, first page (50, with count)": (measure_first_page, 150),
    "Instance list filtered: process + completed + variable": (measure_filtered_page, 150),
    "Instance list filtered: process + active + variable": (measure_filtered_active_page, 150),
    "Instance list filtered: with incidents": (measure_incident_page, 150),
    "Instance list, deep keyset page (half way down)": (measure_deep_page, 150),
    "Element statistics of the process (all versions)": (measure_element_statistics, 150),
    "Process versions with counts": (measure_process_versions, 150),
    "Incident groups": (measure_incident_groups, 150),
    "Task list of a user with 5,000 tasks (page + count)": (measure_task_list, 100),
    "Web page: instance list, first page (HTML through the ASGI app)": (
        measure_web_first_page,
        150,
    ),
    "Web page: instance list filtered: process + completed + variable": (
        measure_web_filtered_page,
        150,
    ),
    "Web page: process page and its element overlays (HTML + JSON)": (
        measure_web_process_page,
        150,
    ),
    "Task list page /tasks rendered for that user (ASGI, in process)": (
        measure_task_list_page,
        100,
    ),
}
"""Name -> (measurement, target p95 in ms)."""


def deep_cursor(engine: Engine, db: Db) -> str:
    """A cursor half way down the instance list (found with one untimed OFFSET query)."""
    with db.engine.connect() as connection:
        total = connection.exec_driver_sql("SELECT count(*) FROM instances").scalar() or 0
        key = connection.exec_driver_sql(
            "SELECT instance_key FROM instances "
            f"ORDER BY started_at DESC, instance_key DESC LIMIT 1 OFFSET {int(total) // 2}"
        ).scalar()
    assert key is not None
    return instance_cursor(engine.instance(int(key)).started_at, int(key))


def timed(function: Callable[[Context], object], ctx: Context, repeat: int) -> list[float]:
    function(ctx)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        function(ctx)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


# -- the run ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completed", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--template-completed", type=int, default=2_000)
    parser.add_argument("--template-active", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--reseed", action="store_true", help="seed again even if cached")
    parser.add_argument(
        "--no-history-copies",
        action="store_true",
        help="copies of completed instances get no history rows (a smaller database; no "
        "measured query reads the history)",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    return parser.parse_args(argv)


def open_db(args: argparse.Namespace) -> tuple[Db, bool]:
    """The database to measure, and whether it must be seeded first."""
    name = f"web-{args.completed}-{args.active}-{args.template_completed}-{args.template_active}"
    if args.no_history_copies:
        name += "-lean"
    if args.postgres:
        schema = name.replace("-", "_")
        admin = sa.create_engine(
            args.postgres_url.replace("postgresql://", "postgresql+psycopg://")
        )
        with admin.begin() as connection:
            if args.reseed:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).first()
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        admin.dispose()
        url = f"{args.postgres_url}?options={quote(f'-csearch_path={schema}', safe='')}"
        sa_url = url.replace("postgresql://", "postgresql+psycopg://")
        return Db(url, sa.create_engine(sa_url)), exists is None
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"{name}.db"
    if args.reseed and path.exists():
        path.unlink()
    fresh = not path.exists()
    url = f"sqlite:///{path}"
    return Db(url, sa.create_engine(url)), fresh


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    db, fresh = open_db(args)
    if fresh:
        print(f"seeding {args.completed:,} completed and {args.active:,} active instances ...")
        t0 = time.perf_counter()
        seed(
            db,
            args.completed,
            args.active,
            args.template_completed,
            args.template_active,
            not args.no_history_copies,
        )
        print(f"  seeded in {time.perf_counter() - t0:.0f} s")
    engine = Engine(db.url)
    web = WebApp(engine)
    cockpit = WebApp(engine, WEB_USER, WEB_PASSWORD, role="operator", groups=())
    try:
        with db.engine.connect() as connection:
            counts = dict(
                connection.exec_driver_sql(
                    "SELECT status, count(*) FROM instances GROUP BY status"
                ).all()
            )
            tasks = connection.exec_driver_sql(
                "SELECT count(*) FROM user_tasks WHERE state = 'created'"
            ).scalar()
        load = os.getloadavg()[0]
        ctx = Context(engine, deep_cursor(engine, db), web, cockpit)
        rows = []
        for name, (function, target) in MEASUREMENTS.items():
            samples = timed(function, ctx, args.repeat)
            p50, p95 = percentile(samples, 50), percentile(samples, 95)
            rows.append((name, p50, p95, target))
            print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    finally:
        web.close()
        cockpit.close()
        engine.close()
    command = "python bench/web.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    database = "PostgreSQL" if args.postgres else "SQLite (WAL, one file)"
    lines = [
        f"## {TITLE}" + (" (PostgreSQL)" if args.postgres else " (SQLite)"),
        "",
        f"Command: `{command.strip()}`",
        "",
        *[
            f"- {k}: {v}"
            for k, v in machine_facts({"SQLAlchemy": version_of("sqlalchemy")}).items()
        ],
        f"- Database: {database}; instances by status: "
        + ", ".join(f"{status} {count:,}" for status, count in sorted(counts.items()))
        + f"; open user tasks {int(tasks or 0):,}; history rows "
        + ("of the templates only" if args.no_history_copies else "of every instance"),
        "",
        f"Each query timed {args.repeat} times after one untimed call, through the engine's "
        "methods in one process (server side, no HTTP); the web pages through the ASGI "
        "application in the same process (session, queries and template; no sockets). The "
        f"machine is shared: its load average was {load:.1f} when the run began.",
        "",
        "| Query | p50 (ms) | p95 (ms) | Target p95 (ms) | Met |",
        "|---|---:|---:|---:|---|",
        *[
            f"| {name} | {p50:.1f} | {p95:.1f} | < {target:.0f} | {yes(p95 < target)} |"
            for name, p50, p95, target in rows
        ],
    ]
    publish(
        "\n".join(lines) + "\n",
        TITLE + (" (PostgreSQL)" if args.postgres else " (SQLite)"),
        args.results,
        not args.no_write,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
