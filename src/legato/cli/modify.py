"""``legato modify``: start and cancel tokens of a running instance by hand.

```
legato modify 2251799813685281 --cancel wait_payment --start-after wait_payment --var paid=true
legato modify 2251799813685281 --cancel-instance 2251799813685290 --start-before review
```

The instructions apply together or not at all, cancellations first (see
:mod:`legato.engine.modification`); ``--var`` values are set in the scope of every token
started. The history records the modification with ``--by``: the login name by default.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from legato.cli.values import parse_vars
from legato.engine import commands as cmd
from legato.runtime.engine import DEFAULT_DATABASE, Engine


def register(app: typer.Typer) -> None:
    """Add ``modify`` to the command line ``app``."""
    app.command(name="modify")(modify)


def modify(
    instance_key: Annotated[int, typer.Argument(help="The instance to modify.")],
    start_before: Annotated[
        list[str] | None,
        typer.Option("--start-before", metavar="ELEMENT_ID", help="Start a token before it."),
    ] = None,
    start_after: Annotated[
        list[str] | None,
        typer.Option(
            "--start-after",
            metavar="ELEMENT_ID",
            help="Start a token after it (along its one outgoing flow).",
        ),
    ] = None,
    cancel: Annotated[
        list[str] | None,
        typer.Option("--cancel", metavar="ELEMENT_ID", help="Cancel every token at it."),
    ] = None,
    cancel_instance: Annotated[
        list[int] | None,
        typer.Option("--cancel-instance", metavar="KEY", help="Cancel one element instance."),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            "-v",
            help="A variable NAME=VALUE (VALUE as JSON if it parses) for the started tokens.",
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who modifies it (the login name by default).")
    ] = None,
    db: Annotated[
        str,
        typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
    ] = DEFAULT_DATABASE,
) -> None:
    """Start and cancel tokens of a running instance (to repair one that is stuck)."""
    variables = parse_vars(var)
    starts: list[cmd.Instruction] = [
        *(cmd.StartBefore(element_id, variables) for element_id in start_before or ()),
        *(cmd.StartAfter(element_id, variables) for element_id in start_after or ()),
    ]
    if variables and not starts:
        raise typer.BadParameter(
            "give --start-before or --start-after for them", param_hint="--var"
        )
    instructions: list[cmd.Instruction] = [
        *(cmd.CancelElement(element_id) for element_id in cancel or ()),
        *(cmd.CancelElementInstance(key) for key in cancel_instance or ()),
        *starts,
    ]
    if not instructions:
        raise typer.BadParameter(
            "give at least one of --start-before, --start-after, --cancel, --cancel-instance"
        )
    with Engine(db) as engine:
        engine.modify(instance_key, instructions, by=by or _operator())
        info = engine.instance(instance_key)
    where = ", ".join(info.active_elements) or "nowhere"
    typer.echo(f"instance {instance_key} modified: {info.status}, tokens at {where}")


def _operator() -> str:
    """Who runs the command: the login name, else ``cli``."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name to be found (a bare container)
        return "cli"
