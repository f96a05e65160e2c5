"""``legato encryption-keys …``: the key ring of encryption at rest.

``init`` writes a new key file; ``rotate`` adds a key (the new primary) and encrypts every
stored value again with it, in the background of running engines, in chunks with progress,
resumable after a crash (``rotate --resume``); ``status`` shows per key how much data uses
it; ``retire ID`` removes a key from the file, and refuses while data still uses it. Rotation
and retirement are recorded in the audit trail. The same four commands are also
``legato keys init|rotate|status|retire``, next to the API-key commands of that group.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from legato.cli.audit import record_command
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE
from legato.runtime.rekey import Rekey
from legato.security.audit import Resource
from legato.security.keyring import ENV_VARIABLE, load_key_file, new_key, write_key_file
from legato.store.records import BatchOperationRecord
from legato.store.sql import SqlStore

encryption_app = typer.Typer(
    help="Encryption at rest: the key ring (init, rotate, status, retire).",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
FileOption = Annotated[
    Path,
    typer.Option("--file", envvar=ENV_VARIABLE, help="The key file (LEGATO_KEYRING)."),
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who does it (for the audit trail).")]


def register(app: typer.Typer, keys_group: typer.Typer) -> None:
    """Add ``encryption-keys`` to the ``legato`` command, and its commands to ``keys_group``
    (``legato keys``): one implementation under both names."""
    for group in (encryption_app, keys_group):
        group.command("init")(init)
        group.command("rotate")(rotate)
        group.command("status")(status)
        group.command("retire")(retire)
    app.add_typer(encryption_app, name="encryption-keys")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _new_id(existing: list[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    while True:
        key_id = f"k{stamp}-{secrets.token_hex(3)}"
        if key_id not in existing:
            return key_id


@contextmanager
def _rekey(file: Path, db: str) -> Iterator[tuple[Rekey, SqlStore]]:
    try:
        ring = load_key_file(file)
        store = SqlStore(db)
    except LegatoError as exc:
        _fail(str(exc))
    try:
        yield Rekey(store, ring, lambda: datetime.now(UTC)), store
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        store.close()


def init(
    file: Annotated[Path, typer.Option("--file", help="The key file to write.")],
    key_id: Annotated[str | None, typer.Option("--id", help="The key's id.")] = None,
) -> None:
    """Encryption key ring: write a new key file with one random AES-256 key (owner-only)."""
    if file.exists():
        _fail(f"{file} exists: rotate its keys with 'legato keys rotate'")
    key_id = key_id or _new_id([])
    try:
        write_key_file(file, {key_id: new_key()})
    except LegatoError as exc:
        _fail(str(exc))
    typer.echo(f"wrote {file} with key {key_id}; set {ENV_VARIABLE}={file} to encrypt")


def _progress(record: BatchOperationRecord) -> None:
    typer.echo(f"rotation {record.batch_key}: {record.done}/{record.total} instances")


def rotate(
    file: FileOption,
    db: DbOption = DEFAULT_DATABASE,
    key_id: Annotated[str | None, typer.Option("--id", help="The new key's id.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish a rotation that stopped (adds no key).")
    ] = False,
    by: ByOption = None,
) -> None:
    """Encryption key ring: add a key (the new primary), encrypt every stored value with it.

    Running engines go on meanwhile: they read the key file again when they meet the new
    key. Interrupted, ``--resume`` goes on where it stopped.
    """
    with _rekey(file, db) as (rekey, store):
        running = rekey.running()
        if resume:
            if running is None:
                _fail("no key rotation is running")
        elif running is not None:
            _fail(
                f"rotation {running.batch_key} to key {running.spec.get('key_id')} is still "
                f"running ({running.done}/{running.total}): finish it with --resume"
            )
        else:
            keys = rekey.ring.keys()
            key_id = key_id or _new_id(list(keys))
            if key_id in keys:
                _fail(f"the key file already has a key {key_id!r}")
            keys[key_id] = new_key()
            write_key_file(file, keys)
            rekey.ring = load_key_file(file)
            running = rekey.start(created_by=by)
            record_command(
                store,
                "key.rotate",
                Resource("encryption_key", key_id),
                {"key_id": key_id, "batch_key": running.batch_key, "instances": running.total},
                by=by,
            )
            typer.echo(f"added key {key_id} (primary) to {file}")
        record = rekey.run(running.batch_key, _progress)
        typer.echo(
            f"rotation {record.batch_key} {record.status}: {record.done} instances "
            f"on key {rekey.ring.primary_key_id}"
        )


def status(file: FileOption, db: DbOption = DEFAULT_DATABASE) -> None:
    """Encryption key ring: per key, how many stored values it encrypts, in which rows."""
    with _rekey(file, db) as (rekey, _):
        primary = rekey.ring.primary_key_id
        for key_id, use in rekey.usage().items():
            marks = [m for m, on in (("primary", key_id == primary),) if on]
            if key_id not in rekey.ring.key_ids:
                marks.append("NOT IN THE KEY FILE")
            suffix = f" [{', '.join(marks)}]" if marks else ""
            typer.echo(f"{key_id}{suffix}: {use.describe()}")
        running = rekey.running()
        if running is not None:
            typer.echo(f"rotation {running.batch_key} running: {running.done}/{running.total}")


def retire(
    key_id: Annotated[str, typer.Argument(help="The id of the key to remove.")],
    file: FileOption,
    db: DbOption = DEFAULT_DATABASE,
    by: ByOption = None,
) -> None:
    """Encryption key ring: remove a key from the key file; refused while data still uses it."""
    with _rekey(file, db) as (rekey, store):
        keys = rekey.ring.keys()
        if key_id not in keys:
            _fail(f"the key file {file} has no key {key_id!r}")
        if key_id == rekey.ring.primary_key_id:
            _fail(f"key {key_id!r} is the primary key: rotate to a new key first")
        running = rekey.running()
        if running is not None:
            _fail(
                f"rotation {running.batch_key} is still running ({running.done}/"
                f"{running.total}): finish it with 'legato keys rotate --resume'"
            )
        use = rekey.usage().get(key_id)
        if use is not None and use.values:
            _fail(
                f"key {key_id!r} still encrypts {use.describe()}: finish the rotation "
                "('legato keys rotate --resume') first"
            )
        del keys[key_id]
        write_key_file(file, keys)
        record_command(
            store, "key.retire", Resource("encryption_key", key_id), {"key_id": key_id}, by=by
        )
        typer.echo(f"retired key {key_id}")
