"""The least PostgreSQL privileges Legato needs: a migration role and an engine role.

The **migration role** owns the schema: it creates and alters the tables, and runs
``legato db upgrade`` (every store also migrates a database that is behind when it opens
it, which is why the engine role must only ever open a database that is at the newest
revision already). The **engine role** the servers and workers connect with holds no DDL:
it reads and writes rows (SELECT, INSERT, UPDATE, DELETE on the tables), uses the sequences,
and creates temporary tables (a batch operation streams instance rows into one). It cannot
create, alter or drop a table, so neither a bug nor an injected statement in the engine can
change the schema.

:func:`engine_grants` writes the statements, for ``legato db grants``.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def quoted(name: str, what: str) -> str:
    """``name`` as a PostgreSQL identifier in double quotes.

    Raises:
        ValueError: ``name`` is not a plain identifier (letters, digits, ``_`` and ``$``, at
            most 63 characters, not starting with a digit).
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"the {what} {name!r} cannot be used: letters, digits, '_' and '$', at most 63 "
            "characters, starting with a letter or '_'"
        )
    return f'"{name}"'


def engine_grants(
    engine_role: str,
    *,
    migration_role: str,
    schema: str = "public",
    database: str | None = None,
) -> list[str]:
    """The statements that let ``engine_role`` run Legato on ``schema``, which
    ``migration_role`` owns, without any DDL. Run them as a superuser after ``legato db
    upgrade``; the default privileges cover the tables a later revision adds.

    Raises:
        ValueError: a name that is not a plain identifier.
    """
    engine = quoted(engine_role, "engine role")
    owner = quoted(migration_role, "migration role")
    where = quoted(schema, "schema")
    statements = []
    if database is not None:
        statements.append(
            f"GRANT CONNECT, TEMPORARY ON DATABASE {quoted(database, 'database')} TO {engine};"
        )
    statements += [
        f"ALTER SCHEMA {where} OWNER TO {owner};",
        f"REVOKE CREATE ON SCHEMA {where} FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA {where} TO {engine};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {where} TO {engine};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {engine};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {where} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {engine};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {where} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {engine};",
    ]
    return statements
