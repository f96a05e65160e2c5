"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.accounts.Accounts`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.store._sql_base import SqlTransactionBase
from legato.store.records import ApiKeyRecord, SignInFailureRecord, UserRecord
from legato.store.schema import api_keys, server_secrets, sign_in_failures, users


def _user_params(record: UserRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "password_hash": record.password_hash,
        "roles": list(record.roles),
        "groups": list(record.groups),
        "created_at": record.created_at,
        "disabled": record.disabled,
        "processes": None if record.processes is None else list(record.processes),
    }


def _user_record(row: sa.RowMapping) -> UserRecord:
    return UserRecord(
        name=row["name"],
        password_hash=row["password_hash"],
        roles=tuple(row["roles"]),
        groups=tuple(row["groups"]),
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
        processes=_names_or_none(row["processes"]),
    )


def _api_key_params(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "secret_hash": record.secret_hash,
        "roles": list(record.roles),
        "job_types": None if record.job_types is None else list(record.job_types),
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
        "processes": None if record.processes is None else list(record.processes),
    }


def _api_key_record(row: sa.RowMapping) -> ApiKeyRecord:
    job_types = row["job_types"]
    return ApiKeyRecord(
        key_id=row["key_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        roles=tuple(row["roles"]),
        job_types=None if job_types is None else tuple(job_types),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        processes=_names_or_none(row["processes"]),
    )


def _names_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


class SqlAccounts(SqlTransactionBase):
    """The accounts part of a SQL transaction."""

    # Not on any hot path (the accounts layer caches what it reads), so plain Core statements.
    def _changed_any(self, statement: sa.Executable) -> bool:
        """Whether a statement with RETURNING changed a row (the driver's ``rowcount`` is
        not reliable here on PostgreSQL: the store's psycopg cursor reports -1)."""
        return self._execute(statement).first() is not None

    def _insert_if_absent(self, table: sa.Table, values: Mapping[str, Any]) -> bool:
        """INSERT … ON CONFLICT (primary key) DO NOTHING: on PostgreSQL a concurrent insert
        of the same key waits for the other transaction and then does nothing, so exactly
        one wins and no transaction is aborted by a unique violation."""
        statement = self._sql.insert(table).values(**values).on_conflict_do_nothing()
        return self._changed_any(statement.returning(*table.primary_key.columns))

    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (False then)."""
        return self._insert_if_absent(users, _user_params(record))

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row; False if there is no such user."""
        params = _user_params(record)
        del params["name"]
        statement = sa.update(users).where(users.c.name == record.name).values(**params)
        return self._changed_any(statement.returning(users.c.name))

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        statement = sa.delete(users).where(users.c.name == name).returning(users.c.name)
        return self._changed_any(statement)

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""
        row = self._execute(sa.select(users).where(users.c.name == name)).first()
        return None if row is None else _user_record(row._mapping)

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        found = self._execute(sa.select(users).order_by(users.c.name))
        return [_user_record(row._mapping) for row in found]

    def count_users(self) -> int:
        """How many users there are."""
        return int(self._execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key (a taken key id is a :class:`ConflictError`)."""
        self._execute(sa.insert(api_keys).values(**_api_key_params(record)))

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row; False if there is no such key."""
        params = _api_key_params(record)
        del params["key_id"]
        statement = sa.update(api_keys).where(api_keys.c.key_id == record.key_id).values(**params)
        return self._changed_any(statement.returning(api_keys.c.key_id))

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id."""
        row = self._execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return None if row is None else _api_key_record(row._mapping)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key, oldest first."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        return [_api_key_record(row._mapping) for row in self._execute(query)]

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """Insert the secret if absent, then read what is stored (the winner's value: on
        PostgreSQL the read is a new statement, which sees the other node's commit)."""
        self._insert_if_absent(server_secrets, {"name": name, "value": value, "created_at": at})
        query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        return str(self._execute(query).scalar_one())

    def get_sign_in_failures(self, subject: str) -> SignInFailureRecord | None:
        """The failed sign-ins of ``subject``, if any are kept."""
        query = sa.select(sign_in_failures).where(sign_in_failures.c.subject == subject)
        row = self._execute(query).first()
        if row is None:
            return None
        found = row._mapping
        return SignInFailureRecord(
            subject=found["subject"],
            failures=found["failures"],
            since=found["since"],
            locked_until=found["locked_until"],
        )

    def put_sign_in_failures(self, record: SignInFailureRecord) -> None:
        """Store the failed sign-ins of ``record.subject`` (an upsert: two nodes counting the
        same subject at once both land, the later one's count kept)."""
        values = {
            "subject": record.subject,
            "failures": record.failures,
            "since": record.since,
            "locked_until": record.locked_until,
        }
        statement = self._sql.insert(sign_in_failures).values(**values)
        changes = {k: v for k, v in values.items() if k != "subject"}
        self._execute(statement.on_conflict_do_update(index_elements=["subject"], set_=changes))

    def delete_sign_in_failures(self, subject: str) -> bool:
        """Forget the failed sign-ins of ``subject``."""
        statement = sa.delete(sign_in_failures).where(sign_in_failures.c.subject == subject)
        return self._changed_any(statement.returning(sign_in_failures.c.subject))
