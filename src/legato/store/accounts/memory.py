"""The in-memory adapter of :class:`~legato.store.accounts.Accounts`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from legato.errors import ConflictError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import utc, utc_or_none
from legato.store.records import ApiKeyRecord, SignInFailureRecord, UserRecord


def _normal_api_key(record: ApiKeyRecord) -> ApiKeyRecord:
    return replace(
        record,
        created_at=utc(record.created_at),
        last_used_at=utc_or_none(record.last_used_at),
        revoked_at=utc_or_none(record.revoked_at),
    )


class MemoryAccounts(MemoryTransactionBase):
    """The accounts part of an in-memory transaction."""

    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (False then)."""
        self._check_open()
        if self._users.get(record.name) is not None:
            return False
        self._users.put(record.name, replace(record, created_at=utc(record.created_at)))
        return True

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row; False if there is no such user."""
        self._check_open()
        if self._users.get(record.name) is None:
            return False
        self._users.put(record.name, replace(record, created_at=utc(record.created_at)))
        return True

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        self._check_open()
        if self._users.get(name) is None:
            return False
        self._users.delete(name)
        return True

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""
        self._check_open()
        return self._users.get(name)

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        self._check_open()
        return _ordered(self._users.values(), lambda u: u.name)

    def count_users(self) -> int:
        """How many users there are."""
        self._check_open()
        return sum(1 for _ in self._users.values())

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key (a taken key id is a :class:`ConflictError`, as in SQL)."""
        self._check_open()
        if self._api_keys.get(record.key_id) is not None:
            raise ConflictError(f"concurrent change: API key {record.key_id} exists")
        self._api_keys.put(record.key_id, _normal_api_key(record))

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row; False if there is no such key."""
        self._check_open()
        if self._api_keys.get(record.key_id) is None:
            return False
        self._api_keys.put(record.key_id, _normal_api_key(record))
        return True

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id."""
        self._check_open()
        return self._api_keys.get(key_id)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key, oldest first."""
        self._check_open()
        return _ordered(self._api_keys.values(), lambda k: (k.created_at, k.key_id))

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """The stored secret ``name``, stored with ``value`` first if there was none."""
        self._check_open()
        utc(at)  # the same check of the instant as the SQL column
        stored = self._server_secrets.get(name)
        if stored is None:
            self._server_secrets.put(name, value)
            stored = value
        return stored

    def get_sign_in_failures(self, subject: str) -> SignInFailureRecord | None:
        """The failed sign-ins of ``subject``, if any are kept."""
        self._check_open()
        return self._sign_in_failures.get(subject)

    def put_sign_in_failures(self, record: SignInFailureRecord) -> None:
        """Store the failed sign-ins of ``record.subject``."""
        self._check_open()
        normal = replace(
            record, since=utc(record.since), locked_until=utc_or_none(record.locked_until)
        )
        self._sign_in_failures.put(record.subject, normal)

    def delete_sign_in_failures(self, subject: str) -> bool:
        """Forget the failed sign-ins of ``subject``."""
        self._check_open()
        if self._sign_in_failures.get(subject) is None:
            return False
        self._sign_in_failures.delete(subject)
        return True
