"""Users, API keys, server secrets and failed sign-ins.

The port (:class:`Accounts`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from legato.store.records import ApiKeyRecord, SignInFailureRecord, UserRecord


class Accounts(Protocol):
    """Users, API keys and server secrets."""

    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (then nothing changes and the answer is
        False). Race-free: of two transactions inserting one name, exactly one succeeds."""

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row (by name); False if there is no such user."""

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""

    def count_users(self) -> int:
        """How many users there are (disabled ones included)."""

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key.

        Raises:
            ConflictError: if the key id is taken.
        """

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row (by key id); False if there is no such key."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id (revoked ones too)."""

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key (revoked ones too), oldest first."""

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """The server secret ``name``: stored with ``value`` if there was none, and returned
        as stored. Race-free: nodes that ask together all get the one value that won."""

    def get_sign_in_failures(self, subject: str) -> SignInFailureRecord | None:
        """The failed sign-ins of an account or address (``subject``), if any are kept."""

    def put_sign_in_failures(self, record: SignInFailureRecord) -> None:
        """Store the failed sign-ins of ``record.subject`` (replacing what was kept)."""

    def delete_sign_in_failures(self, subject: str) -> bool:
        """Forget the failed sign-ins (and lock-out) of ``subject``; False if none were kept."""
