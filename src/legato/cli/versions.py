"""``legato versions`` and ``legato rollout``: process versions side by side, and the rule
that chooses the version of new instances.

```
legato versions list onboarding
legato versions diff onboarding 1 2
legato versions suspend onboarding 1        # no new instances; running ones go on
legato versions resume onboarding 1
legato versions tag onboarding 1 1.0.0
legato rollout set onboarding --split 1=90 --split 2=10
legato rollout set onboarding --rule 'if region = "EU" then 2 else 1'
legato rollout show onboarding
legato rollout clear onboarding             # new instances get the latest version again
```

Bad input (an unknown process or version, a split that does not add up, a rule that is not
FEEL) is one line naming it on standard error, and exit code 1.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from legato.cli.values import to_json
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.runtime.rollout import Rollout
from legato.runtime.versions import VersionInfo

versions_app = typer.Typer(
    help="Process versions: list, compare, suspend, resume, tag.", no_args_is_help=True
)
rollout_app = typer.Typer(
    help="The rollout rule: which version new instances of a process get.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ProcessArgument = Annotated[str, typer.Argument(help="The process id.")]
VersionArgument = Annotated[int, typer.Argument(help="The version number.", min=1)]

console = Console()


def register(app: typer.Typer) -> None:
    """Add ``versions`` and ``rollout`` to the ``legato`` command."""
    app.add_typer(versions_app, name="versions")
    app.add_typer(rollout_app, name="rollout")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _engine(db: str) -> Iterator[Engine]:
    """An engine over ``db``; a Legato error becomes one line and exit code 1."""
    try:
        with Engine(db) as engine:
            yield engine
    except LegatoError as exc:
        _fail(str(exc))


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(to_json(value), ensure_ascii=False, indent=2))


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


@versions_app.command("list")
def list_versions(
    process_id: ProcessArgument, db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False
) -> None:
    """The versions of a process: tag, state, rollout share, instances, cycle times."""
    with _engine(db) as engine:
        found = engine.process_versions(process_id)
        rollout = engine.rollout(process_id)
    if as_json:
        _print_json({"versions": found, "rollout": rollout})
        return
    table = Table(
        "version",
        "tag",
        "state",
        "share",
        "active",
        "completed",
        "terminated",
        "incidents",
        "cycle time (mean)",
        "deployed",
    )
    for v in found:
        table.add_row(*_row(v))
    console.print(table)
    console.print(Text(f"rollout: {rollout.description if rollout else 'none (latest version)'}"))


def _row(v: VersionInfo) -> list[Text]:
    share = "-" if v.rollout_percent is None else f"{v.rollout_percent}%"
    cells = (
        f"v{v.version}",
        v.version_tag or "-",
        "suspended" if v.suspended else "active",
        share,
        v.active_instances,
        v.completed_instances,
        v.terminated_instances,
        v.open_incidents,
        _seconds(v.cycle_time_mean),
        v.deployed_at.isoformat(timespec="seconds"),
    )
    return [Text(str(c)) for c in cells]


@versions_app.command("diff")
def diff_versions(
    process_id: ProcessArgument,
    older: VersionArgument,
    newer: VersionArgument,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """What changed from version OLDER to version NEWER: elements added, removed, changed."""
    with _engine(db) as engine:
        diff = engine.diff_versions(process_id, older, newer)
    if as_json:
        _print_json(diff)
        return
    typer.echo(f"{process_id}: v{older} -> v{newer}")
    for line in diff.lines():
        typer.echo(line)


@versions_app.command("suspend")
def suspend_version(
    process_id: ProcessArgument, version: VersionArgument, db: DbOption = DEFAULT_DATABASE
) -> None:
    """Start no new instance on a version (its running instances go on)."""
    with _engine(db) as engine:
        engine.suspend_version(process_id, version)
    typer.echo(f"version {version} of {process_id} suspended: no new instances start on it")


@versions_app.command("resume")
def resume_version(
    process_id: ProcessArgument, version: VersionArgument, db: DbOption = DEFAULT_DATABASE
) -> None:
    """Let new instances start on a suspended version again."""
    with _engine(db) as engine:
        engine.resume_version(process_id, version)
    typer.echo(f"version {version} of {process_id} resumed")


@versions_app.command("tag")
def tag_version(
    process_id: ProcessArgument,
    version: VersionArgument,
    tag: Annotated[str | None, typer.Argument(help="The tag (omit with --remove).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Take the tag away.")] = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Give a version a tag that starts can name (``legato start --version-tag``)."""
    if (tag is None) != remove:
        _fail("give a TAG, or --remove")
    with _engine(db) as engine:
        engine.tag_version(process_id, version, tag)
    typer.echo(f"version {version} of {process_id} " + (f"tagged {tag}" if tag else "untagged"))


def _print_rollout(process_id: str, rollout: Rollout | None, as_json: bool) -> None:
    if as_json:
        _print_json(rollout)
    elif rollout is None:
        typer.echo(f"{process_id}: no rollout rule; new instances get the latest version")
    else:
        by = f" by {rollout.updated_by}" if rollout.updated_by else ""
        at = rollout.updated_at.isoformat(timespec="seconds") if rollout.updated_at else "?"
        typer.echo(f"{process_id}: {rollout.description} (revision {rollout.revision}, {at}{by})")


@rollout_app.command("show")
def show_rollout(
    process_id: ProcessArgument, db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False
) -> None:
    """The process's rollout rule."""
    with _engine(db) as engine:
        rollout = engine.rollout(process_id)
    _print_rollout(process_id, rollout, as_json)


@rollout_app.command("set")
def set_rollout(
    process_id: ProcessArgument,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="VERSION=PERCENT, repeated; the shares add up to 100."),
    ] = None,
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help="A FEEL rule over the start variables and businessKey giving a version"
            " number or tag.",
        ),
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Choose the version of new instances that name none (a split or a rule); setting the
    previous rule again is the rollback."""
    shares = _split(split) if split else None
    with _engine(db) as engine:
        rollout = engine.set_rollout(process_id, shares, rule=rule, by=_operator())
    _print_rollout(process_id, rollout, as_json)


@rollout_app.command("clear")
def clear_rollout(process_id: ProcessArgument, db: DbOption = DEFAULT_DATABASE) -> None:
    """Remove the rollout rule: new instances get the latest version."""
    with _engine(db) as engine:
        removed = engine.clear_rollout(process_id)
    typer.echo(
        f"{process_id}: rollout rule removed" if removed else f"{process_id}: had no rollout rule"
    )


def _split(items: list[str]) -> dict[int, int]:
    shares: dict[int, int] = {}
    for item in items:
        version, sep, percent = item.partition("=")
        if not sep or not version.strip().isdigit() or not percent.strip().isdigit():
            _fail(f"--split {item!r}: write VERSION=PERCENT, e.g. 2=10")
        shares[int(version)] = int(percent)
    return shares


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name to be found (a bare container)
        return None
