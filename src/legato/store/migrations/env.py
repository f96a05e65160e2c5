"""The alembic environment: runs the revisions on the connection the store passes in.

Only the programmatic path is supported (see :func:`legato.store.migrations.upgrade_schema`):
the caller opens the transaction and holds the schema lock, and hands its connection over in
``config.attributes["connection"]``. There is no offline (``--sql``) mode and no
``alembic.ini``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alembic import context
from alembic.migration import MigrationContext, MigrationInfo

from legato.errors import StoreError
from legato.store.schema import metadata


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise StoreError(
            "Legato's migrations run on an open connection: "
            "use legato.store.migrations.upgrade_schema()"
        )
    applied: list[str] = config.attributes.setdefault("applied", [])

    def record(
        ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Any
    ) -> None:
        applied.extend(step.up_revision_ids)

    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters most things by copying the table; batch operations do that, and
        # autogenerate should write them when a new revision is drafted.
        render_as_batch=True,
        # The caller's transaction is already open (it holds the schema lock), so alembic
        # opens none of its own and every pending revision commits together or not at all;
        # see the module docstring of legato.store.migrations.
        transaction_per_migration=False,
        on_version_apply=record,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
