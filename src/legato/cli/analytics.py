"""``legato analytics rebuild``: recompute the analytics facts from the stored history.

```
legato analytics rebuild --batch 1000
legato analytics rebuild --after 1767225600000000:4711   # resume an interrupted rebuild
```

One transaction per batch of instances (newest first); after each a line on standard
error says how many were rebuilt and the position to resume from with ``--after`` (the
facts of the instances before it are kept then, the rest are recomputed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE
from legato.store.rebuild import rebuild_facts_in_steps
from legato.store.schema import from_micros, to_micros
from legato.store.sql import SqlStore

analytics_app = typer.Typer(
    help="The analytics facts behind the dashboard (rebuild them from the history).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``analytics`` to the ``legato`` command."""
    app.add_typer(analytics_app, name="analytics")


def _position(text: str | None) -> tuple[datetime, int] | None:
    if text is None:
        return None
    micros, _, key = text.partition(":")
    try:
        return from_micros(int(micros)), int(key)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a position printed by a rebuild (MICROS:KEY)", param_hint="--after"
        ) from None


@analytics_app.command("rebuild")
def rebuild(
    batch: Annotated[int, typer.Option("--batch", min=1, help="Instances per transaction.")] = 500,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Resume after this position (printed by a rebuild)."),
    ] = None,
    db: Annotated[
        str,
        typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
    ] = DEFAULT_DATABASE,
) -> None:
    """Recompute the instance, element and incident facts and their rollups."""
    start = _position(after)

    def progress(count: int, position: tuple[datetime, int]) -> None:
        cursor = f"{to_micros(position[0])}:{position[1]}"
        typer.echo(f"rebuilt {count} instances (resume with --after {cursor})", err=True)

    try:
        store = SqlStore(db)
    except LegatoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        total = rebuild_facts_in_steps(
            store.transaction, batch=batch, after=start, on_batch=progress
        )
    except LegatoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"rebuilt the analytics facts of {total} instances")
