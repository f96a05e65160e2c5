"""Refusing password guessing: failed sign-ins are counted per account and per client
address, and too many in a short time lock the account (or the address) for a while.

Every way of signing in with a secret passes here: the web app's form, HTTP Basic on the
APIs, and the OAuth token endpoint. The counts live in the store (``sign_in_failures``), so
every node of a database sees the same lock-out. An account is locked after
:data:`ACCOUNT_FAILURES` failures within :data:`WINDOW` (a success in between starts the
count again); an address after :data:`ADDRESS_FAILURES` (whatever names it tried, so that
trying one password on many accounts is caught too). A lock lasts :data:`LOCK_TIME`; while it
lasts, even the right password is refused, with a message saying when to retry. An admin
lifts it early with ``legato users unlock NAME`` (or ``--address``).

Two nodes counting the same subject at the same moment may each miss the other's failure:
the limits are approximate by one or two under such a race, never by more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from legato.store.ports import Store
from legato.store.records import SignInFailureRecord

ACCOUNT_FAILURES = 5
"""Failed sign-ins of one account within :data:`WINDOW` that lock it."""
ADDRESS_FAILURES = 20
"""Failed sign-ins from one client address within :data:`WINDOW` that lock the address."""
WINDOW = timedelta(minutes=15)
"""How long a failure counts."""
LOCK_TIME = timedelta(minutes=15)
"""How long a lock-out lasts."""


def account_subject(name: str) -> str:
    """The ``sign_in_failures`` subject of an account (a user name or an API key id)."""
    return f"user:{name}"


def address_subject(address: str) -> str:
    """The ``sign_in_failures`` subject of a client address."""
    return f"address:{address}"


@dataclass(frozen=True, slots=True)
class Lockout:
    """A refused sign-in: whose, and until when."""

    kind: str
    """``account`` or ``address``."""
    name: str
    """The account's name (a user name or API key id) or the client address."""
    until: datetime

    @property
    def what(self) -> str:
        """``the account 'alice'`` or ``the address 10.0.0.7``."""
        return (
            f"the account '{self.name}'" if self.kind == "account" else f"the address {self.name}"
        )

    @property
    def message(self) -> str:
        """What the person signing in is told."""
        when = self.until.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"too many failed sign-ins for {self.what}: try again after {when}"

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock ends (for ``Retry-After``), at least 1."""
        return max(1, int((self.until - now).total_seconds()) + 1)


class SignInGuard:
    """Counts failed sign-ins in ``store`` and says whether one is locked out.

    ``now`` is the clock (tests pass a virtual one); the limits default to the module's.
    """

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime],
        account_failures: int = ACCOUNT_FAILURES,
        address_failures: int = ADDRESS_FAILURES,
        window: timedelta = WINDOW,
        lock_time: timedelta = LOCK_TIME,
    ) -> None:
        if min(account_failures, address_failures) < 1:
            raise ValueError("the failures that lock must be at least 1")
        self._store = store
        self._now = now
        self._limits = {"account": account_failures, "address": address_failures}
        self._window = window
        self._lock_time = lock_time

    @property
    def now(self) -> datetime:
        """The guard's clock."""
        return self._now()

    def locked(self, account: str | None, address: str | None) -> Lockout | None:
        """The lock-out that refuses a sign-in as ``account`` from ``address``, if any."""
        now = self._now()
        with self._store.transaction() as tx:
            for subject, kind, name in self._subjects(account, address):
                found = tx.get_sign_in_failures(subject)
                if found is not None and found.locked_until and found.locked_until > now:
                    return Lockout(kind, name, found.locked_until)
        return None

    def failed(self, account: str | None, address: str | None) -> Lockout | None:
        """Count a failed sign-in; the lock-out it causes (None if none yet)."""
        now = self._now()
        caused = None
        with self._store.transaction() as tx:
            for subject, kind, name in self._subjects(account, address):
                found = tx.get_sign_in_failures(subject)
                if found is None or found.since + self._window <= now:
                    found = SignInFailureRecord(subject, 0, now)
                count = found.failures + 1
                locked_until = found.locked_until
                if count >= self._limits[kind]:
                    locked_until = now + self._lock_time
                    caused = caused or Lockout(kind, name, locked_until)
                tx.put_sign_in_failures(
                    SignInFailureRecord(subject, count, found.since, locked_until)
                )
        return caused

    def succeeded(self, account: str) -> None:
        """Forget the account's failures (the address's stay counted)."""
        subject = account_subject(account)
        with self._store.transaction() as tx:
            if tx.get_sign_in_failures(subject) is not None:
                tx.delete_sign_in_failures(subject)

    def unlock(self, *, account: str | None = None, address: str | None = None) -> bool:
        """Lift the lock-out of an account or address and forget its failures; False if
        none were kept."""
        with self._store.transaction() as tx:
            return any(
                [
                    tx.delete_sign_in_failures(subject)
                    for subject, _, _ in self._subjects(account, address)
                ]
            )

    @staticmethod
    def _subjects(account: str | None, address: str | None) -> list[tuple[str, str, str]]:
        found = []
        if account:
            found.append((account_subject(account), "account", account))
        if address:
            found.append((address_subject(address), "address", address))
        return found
