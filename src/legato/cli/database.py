"""``legato db …``: the database's schema, and the privileges of the roles that use it.

``legato db upgrade`` migrates a database to the newest schema revision (as the migration
role, which owns the schema); ``legato db grants`` prints the statements that let the
engine's role read and write rows without any DDL (see :mod:`legato.store.grants`).
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer

from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE
from legato.store.grants import engine_grants
from legato.store.migrations import stored_revision
from legato.store.sql import SqlStore

db_app = typer.Typer(
    help="The database: schema migrations and role privileges.", no_args_is_help=True
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]


def register(app: typer.Typer) -> None:
    """Add ``db`` to the ``legato`` command."""
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(db: DbOption = DEFAULT_DATABASE) -> None:
    """Migrate the database to the newest schema revision (run it as the role that owns
    the schema, before servers connect with a role without DDL)."""
    try:
        store = SqlStore(db)
    except LegatoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        with store.engine.connect() as connection:
            revision = stored_revision(connection)
    except sa.exc.SQLAlchemyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"the database is at schema revision {revision}")


@db_app.command("grants")
def grants(
    engine_role: Annotated[str, typer.Argument(help="The role the engine connects with.")],
    migration_role: Annotated[
        str, typer.Option("--migration-role", help="The role that owns the schema.")
    ],
    schema: Annotated[str, typer.Option("--schema", help="The schema of Legato's tables.")] = (
        "public"
    ),
    database: Annotated[
        str | None,
        typer.Option("--database", help="Also grant CONNECT and TEMPORARY on this database."),
    ] = None,
) -> None:
    """Print the PostgreSQL statements that give ENGINE_ROLE what Legato needs (rows, not
    DDL) on the schema the migration role owns; run them as a superuser."""
    try:
        statements = engine_grants(
            engine_role, migration_role=migration_role, schema=schema, database=database
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for statement in statements:
        typer.echo(statement)
