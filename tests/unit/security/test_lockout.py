"""The sign-in guard on each store: failures count within the window only, a lock ends by
itself, a success forgets an account's failures, and unlocking lifts a lock at once."""

from __future__ import annotations

from datetime import timedelta

from accounts_support import VirtualClock
from legato.security.lockout import SignInGuard
from legato.store.ports import Store


def test_failures_older_than_the_window_do_not_count(store: Store, clock: VirtualClock) -> None:
    guard = SignInGuard(store, now=clock, account_failures=3, window=timedelta(minutes=10))
    assert guard.failed("ann", None) is None
    assert guard.failed("ann", None) is None
    clock.advance(timedelta(minutes=10))
    assert guard.failed("ann", None) is None  # a new window: one failure
    assert guard.failed("ann", None) is None
    lockout = guard.failed("ann", None)
    assert lockout is not None
    assert (lockout.kind, lockout.name) == ("account", "ann")
    assert guard.locked("ann", "10.0.0.1") == lockout


def test_a_lock_ends_by_itself_and_an_unlock_ends_it_at_once(
    store: Store, clock: VirtualClock
) -> None:
    guard = SignInGuard(store, now=clock, account_failures=1, lock_time=timedelta(minutes=5))
    guard.failed("ann", None)
    clock.advance(timedelta(minutes=5))
    assert guard.locked("ann", None) is None
    guard.failed("ann", None)
    assert guard.locked("ann", None) is not None
    assert guard.unlock(account="ann") is True
    assert guard.locked("ann", None) is None
    assert guard.unlock(account="ann") is False


def test_an_address_is_locked_whatever_names_it_tries(store: Store, clock: VirtualClock) -> None:
    guard = SignInGuard(store, now=clock, address_failures=3)
    for name in ("a", "b", "c"):
        guard.failed(name, "10.0.0.9")
    lockout = guard.locked("d", "10.0.0.9")
    assert lockout is not None and lockout.kind == "address"
    assert "the address 10.0.0.9: try again after" in lockout.message
    assert guard.locked("d", "10.0.0.10") is None
    guard.succeeded("d")  # a success forgets the account's failures, not the address's
    assert guard.locked("d", "10.0.0.9") is not None
    assert guard.unlock(address="10.0.0.9") is True
    assert guard.locked("d", "10.0.0.9") is None


def test_a_success_forgets_the_failures_of_the_account(store: Store, clock: VirtualClock) -> None:
    guard = SignInGuard(store, now=clock, account_failures=2)
    guard.failed("ann", None)
    guard.succeeded("ann")
    assert guard.failed("ann", None) is None
    assert guard.locked("ann", None) is None
