"""Helpers of the accounts tests (security and command line): a virtual clock and a cheap
argon2id hasher that counts its checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher

from legato.security.accounts import Accounts

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class VirtualClock:
    """A clock that moves only when told (no test waits for real time)."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


class CountingHasher(PasswordHasher):
    """argon2id at the lowest cost (the tests are about logic), counting its checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


class AccountsFactory(Protocol):
    """Makes :class:`Accounts` on a test's store (each call: another node)."""

    def __call__(self, **options: Any) -> Accounts: ...
