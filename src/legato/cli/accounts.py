"""``legato users …`` and ``legato keys …``: the accounts of a server, from the command line.

The commands work on the database directly (``--db`` or ``LEGATO_DB``), like the other
commands, so they also serve to let the first people in before any server runs. Passwords
are never echoed: they are prompted for (twice), read from standard input with
``--password-stdin`` (for scripts), or, least safely (the process list shows them), given
with ``--password``. An API key's secret is printed once, when the key is made.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer

from legato.cli.audit import record_command
from legato.cli.values import to_json
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE
from legato.security import ROLES
from legato.security.accounts import Accounts, ApiKey, User
from legato.security.audit import Resource
from legato.security.lockout import SignInGuard
from legato.store.sql import SqlStore

users_app = typer.Typer(help="Users who sign in with a name and a password.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys: the credentials of workers and scripts (create, list, processes, revoke); "
    "and the encryption key ring (init, rotate, status, retire: as 'legato encryption-keys').",
    no_args_is_help=True,
)

ADMIN_PASSWORD_VARIABLE = "LEGATO_ADMIN_PASSWORD"
"""The environment variable that gives the first admin's password (see :func:`first_admin`)."""

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
_ROLE_HELP = f"A role ({', '.join(ROLES)}); repeat the option for several."
RolesOption = Annotated[list[str], typer.Option("--role", "-r", help=_ROLE_HELP)]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="The password (visible to other users of the machine: prefer the prompt or "
        "--password-stdin).",
    ),
]
ProcessesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--process",
        "-p",
        help="A process id (BPMN) it may see and act on, or a prefix ending '*' "
        "(billing-*); repeat. Every process when omitted.",
    ),
]
AllProcessesOption = Annotated[bool, typer.Option("--all", help="Lift the limit: every process.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def register(app: typer.Typer) -> None:
    """Add ``users`` and ``keys`` to the ``legato`` command."""
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")


def first_admin(
    accounts: Accounts, echo: Callable[[str], None], environ: Mapping[str, str] | None = None
) -> None:
    """At a server's start: make the user ``admin`` in a database without users, with the
    password of ``LEGATO_ADMIN_PASSWORD`` or a generated one, which ``echo`` shows once.

    Args:
        accounts: the server's accounts.
        echo: prints a line for the operator (the generated password is in it).
        environ: where ``LEGATO_ADMIN_PASSWORD`` is looked up (``os.environ`` when None).
    """
    given = (environ if environ is not None else os.environ).get(ADMIN_PASSWORD_VARIABLE)
    password = accounts.ensure_admin(given or None)
    if password is None:
        return
    if given:
        echo(f"created the user 'admin' with the password of {ADMIN_PASSWORD_VARIABLE}")
    else:
        echo(f"created the user 'admin' with the password {password} (shown only now)")


@contextmanager
def _accounts(db: str) -> Iterator[Accounts]:
    """Accounts on the database, with one clear line instead of a traceback on an error."""
    try:
        store = SqlStore(db)
    except LegatoError as exc:
        _fail(str(exc))
    try:
        yield Accounts(store)
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        store.close()


class _Recorder:
    """Records the change a command made in the audit trail, as the command's user."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @property
    def store(self) -> SqlStore:
        """The database the command changes."""
        return self._store

    def __call__(self, action: str, resource: Resource, **details: Any) -> None:
        record_command(self._store, action, resource, details)


@contextmanager
def _changing(db: str) -> Iterator[tuple[Accounts, _Recorder]]:
    """Like :func:`_accounts`, with a recorder of the change for the audit trail."""
    try:
        store = SqlStore(db)
    except LegatoError as exc:
        _fail(str(exc))
    try:
        yield Accounts(store), _Recorder(store)
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        store.close()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _read_password(given: str | None, from_stdin: bool, *, new: bool = True) -> str:
    if given is not None and from_stdin:
        raise typer.BadParameter("give --password or --password-stdin, not both")
    if given is not None:
        return given
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt(
        "New password" if new else "Password", hide_input=True, confirmation_prompt=True
    )
    return password


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(to_json(value), ensure_ascii=False, indent=2))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell (nothing cut, whatever the terminal's width)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, *rows):
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def _when(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


# -- users ------------------------------------------------------------------------------------


@users_app.command("add")
def add_user(
    name: str,
    roles: RolesOption,
    groups: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="A group (user tasks' candidate groups); repeat."),
    ] = None,
    processes: ProcessesOption = None,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Add a user with roles (and groups, and the processes it is limited to)."""
    secret = _read_password(password, password_stdin)
    with _changing(db) as (accounts, record):
        user = accounts.create_user(name, secret, roles, groups or (), processes or None)
        record(
            "user.create",
            Resource("user", name),
            roles=list(user.roles),
            processes=_listed(user.processes),
        )
    limited = "" if user.processes is None else f"; processes: {_scope(user.processes)}"
    typer.echo(f"added user {user.name} (roles: {', '.join(user.roles)}{limited})")


@users_app.command("list")
def list_users(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List the users with their roles and groups."""
    with _accounts(db) as accounts:
        users = accounts.users()
    if as_json:
        _print_json(users)
        return
    _print_table(
        ("name", "roles", "groups", "status", "created", "processes"),
        [_user_row(u) for u in users],
    )


def _scope(processes: tuple[str, ...] | None) -> str:
    return "all" if processes is None else ",".join(processes)


def _listed(processes: tuple[str, ...] | None) -> list[str] | None:
    return None if processes is None else list(processes)


def _limit(processes: list[str] | None, every: bool) -> list[str] | None:
    """The limit the ``--process`` and ``--all`` options of a change ask for."""
    if every == bool(processes):
        raise typer.BadParameter("give --process (repeat it for several) or --all, not both")
    return None if every else processes


def _user_row(user: User) -> list[str]:
    return [
        user.name,
        ",".join(user.roles),
        ",".join(user.groups) or "-",
        "disabled" if user.disabled else "enabled",
        _when(user.created_at),
        _scope(user.processes),
    ]


@users_app.command("passwd")
def change_password(
    name: str,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Give a user a new password (servers refuse the old one within a minute)."""
    secret = _read_password(password, password_stdin)
    with _changing(db) as (accounts, record):
        accounts.set_password(name, secret)
        record("user.change", Resource("user", name), password="(changed)")
    typer.echo(f"changed the password of {name}")


@users_app.command("roles")
def change_roles(name: str, roles: RolesOption, db: DbOption = DEFAULT_DATABASE) -> None:
    """Replace a user's roles."""
    with _changing(db) as (accounts, record):
        accounts.set_roles(name, roles)
        user = accounts.user(name)
        record("user.change", Resource("user", name), roles=list(user.roles))
    typer.echo(f"{name} now has the roles {', '.join(user.roles)}")


@users_app.command("groups")
def change_groups(
    name: str,
    groups: Annotated[list[str], typer.Option("--group", "-g", help="A group; repeat.")],
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Replace a user's groups."""
    with _changing(db) as (accounts, record):
        accounts.set_groups(name, groups)
        record("user.change", Resource("user", name), groups=sorted(set(groups)))
    typer.echo(f"{name} now is in the groups {', '.join(sorted(set(groups)))}")


@users_app.command("processes")
def change_user_processes(
    name: str,
    processes: ProcessesOption = None,
    every: AllProcessesOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Limit a user to some processes (or, with --all, lift the limit)."""
    limit = _limit(processes, every)
    with _changing(db) as (accounts, record):
        accounts.set_user_processes(name, limit)
        user = accounts.user(name)
        record("user.change", Resource("user", name), processes=_listed(user.processes))
    typer.echo(f"{name} now may see and act on the processes: {_scope(user.processes)}")


@users_app.command("disable")
def disable_user(name: str, db: DbOption = DEFAULT_DATABASE) -> None:
    """Stop a user from signing in (kept for the record; enable undoes it)."""
    with _changing(db) as (accounts, record):
        accounts.disable_user(name)
        record("user.change", Resource("user", name), disabled=True)
    typer.echo(f"disabled user {name}")


@users_app.command("enable")
def enable_user(name: str, db: DbOption = DEFAULT_DATABASE) -> None:
    """Let a disabled user sign in again."""
    with _changing(db) as (accounts, record):
        accounts.enable_user(name)
        record("user.change", Resource("user", name), disabled=False)
    typer.echo(f"enabled user {name}")


@users_app.command("unlock")
def unlock(
    name: Annotated[
        str | None, typer.Argument(help="The user name or API key id to unlock.")
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="A client address to unlock.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Lift the lock-out that failed sign-ins put on an account or a client address (and
    forget its failures) before it ends by itself."""
    if not name and not address:
        _fail("name the user (or API key id) to unlock, or give --address")
    with _changing(db) as (_accounts, record):
        guard = SignInGuard(record.store, now=lambda: datetime.now(UTC))
        lifted = guard.unlock(account=name, address=address)
        what = f"user {name}" if name else f"address {address}"
        if name and address:
            what += f" and address {address}"
        if lifted:
            resource = Resource("user", name) if name else Resource("address", address)
            record("user.unlock", resource, address=address)
    typer.echo(f"unlocked {what}" if lifted else f"{what} was not locked")


@users_app.command("remove")
def remove_user(name: str, db: DbOption = DEFAULT_DATABASE) -> None:
    """Remove a user."""
    with _changing(db) as (accounts, record):
        accounts.delete_user(name)
        record("user.delete", Resource("user", name))
    typer.echo(f"removed user {name}")


# -- API keys ---------------------------------------------------------------------------------


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="A label: whose key it is, what it runs.")],
    roles: RolesOption,
    job_types: Annotated[
        list[str] | None,
        typer.Option(
            "--job-type",
            "-t",
            help="A job type (Camunda 7 topic) the key may work on; repeat. Every type when "
            "omitted.",
        ),
    ] = None,
    processes: ProcessesOption = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Make an API key and print its secret, once."""
    with _changing(db) as (accounts, record):
        key_id, secret = accounts.create_api_key(name, roles, job_types or None, processes or None)
        [made] = [k for k in accounts.api_keys() if k.key_id == key_id]
        record(
            "api_key.create",
            Resource("api_key", key_id),
            name=name,
            roles=sorted(set(roles)),
            processes=_listed(made.processes),
        )
    credentials = f"{key_id}:{secret}"
    if as_json:
        _print_json(
            {
                "key_id": key_id,
                "secret": secret,
                "name": name,
                "roles": sorted(set(roles)),
                "job_types": None if not job_types else sorted(set(job_types)),
                "processes": _listed(made.processes),
                "basic": credentials,
                "authorization": f"Bearer {credentials}",
            }
        )
        return
    scope = ", ".join(sorted(set(job_types))) if job_types else "all"
    for line in (
        f"created API key {key_id} ({name}; roles: {', '.join(sorted(set(roles)))}; "
        f"job types: {scope}; processes: {_scope(made.processes)})",
        "The secret is shown only now: keep it somewhere safe.",
        "",
        f"  key id:    {key_id}",
        f"  secret:    {secret}",
        "",
        "Basic credentials (user name : password), for every client:",
        f"  {credentials}",
        "HTTP header:",
        f"  Authorization: Bearer {credentials}",
        "OAuth2 client credentials (POST /oauth/token):",
        f"  client_id={key_id}  client_secret={secret}",
    ):
        typer.echo(line)


@keys_app.command("list")
def list_keys(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List the API keys (never their secrets), revoked ones too."""
    with _accounts(db) as accounts:
        keys = accounts.api_keys()
    if as_json:
        _print_json(keys)
        return
    _print_table(
        ("key id", "name", "roles", "job types", "status", "created", "last used", "processes"),
        [_key_row(k) for k in keys],
    )


def _key_row(key: ApiKey) -> list[str]:
    return [
        key.key_id,
        key.name,
        ",".join(key.roles),
        "all" if key.job_types is None else ",".join(key.job_types),
        "valid" if key.revoked_at is None else f"revoked {_when(key.revoked_at)}",
        _when(key.created_at),
        _when(key.last_used_at),
        _scope(key.processes),
    ]


@keys_app.command("processes")
def change_key_processes(
    key_id: str,
    processes: ProcessesOption = None,
    every: AllProcessesOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Limit an API key to some processes (or, with --all, lift the limit)."""
    limit = _limit(processes, every)
    with _changing(db) as (accounts, record):
        accounts.set_key_processes(key_id, limit)
        [key] = [k for k in accounts.api_keys() if k.key_id == key_id]
        record("api_key.change", Resource("api_key", key_id), processes=_listed(key.processes))
    typer.echo(f"{key_id} now may see and act on the processes: {_scope(key.processes)}")


@keys_app.command("revoke")
def revoke_key(key_id: str, db: DbOption = DEFAULT_DATABASE) -> None:
    """Revoke an API key for good (servers refuse it within a minute)."""
    with _changing(db) as (accounts, record):
        accounts.revoke_api_key(key_id)
        record("api_key.revoke", Resource("api_key", key_id))
    typer.echo(f"revoked API key {key_id}")
