"""The narrow port between the runtime and a database.

A :class:`Store` hands out :class:`Transaction` objects; everything done through one
transaction commits together or not at all (a command, its state change, its history and the
jobs it creates). Adapters: :mod:`legato.store.memory` (tests) and :mod:`legato.store.sql`
(SQLite and PostgreSQL).

A transaction offers every part of the port, one small protocol per part, each in its own
package beside its two adapters: :mod:`legato.store.definitions`, :mod:`~legato.store.instances`,
:mod:`~legato.store.history` (and the event log read from it), :mod:`~legato.store.jobs`,
:mod:`~legato.store.timers`, :mod:`~legato.store.messages` (subscriptions and buffered messages),
:mod:`~legato.store.user_tasks`, :mod:`~legato.store.incidents`, :mod:`~legato.store.nodes`,
:mod:`~legato.store.cockpit` (the cockpit's reads and derived tables),
:mod:`~legato.store.analytics` (the analytics facts and the dashboard's reads),
:mod:`~legato.store.retention` and :mod:`~legato.store.accounts`; keys are reserved through
:class:`Keys`. Code that needs one part is typed against that part's protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from legato.store.accounts import Accounts
from legato.store.analytics import AnalyticsReads
from legato.store.cockpit import CockpitReads
from legato.store.definitions import Definitions
from legato.store.history import EventLogReads, History
from legato.store.incidents import Incidents
from legato.store.instances import Instances
from legato.store.jobs import Jobs
from legato.store.messages import Messages
from legato.store.nodes import Nodes
from legato.store.retention import Retention
from legato.store.timers import Timers
from legato.store.user_tasks import UserTasks


class Keys(Protocol):
    """Keys unique across the whole database."""

    def reserve_keys(self, count: int) -> range:
        """Reserve ``count`` fresh keys, unique across the whole database, for ever."""


class Transaction(
    Keys,
    Definitions,
    Instances,
    History,
    EventLogReads,
    Jobs,
    Timers,
    Messages,
    UserTasks,
    Incidents,
    Nodes,
    CockpitReads,
    AnalyticsReads,
    Retention,
    Accounts,
    Protocol,
):
    """Reads and writes inside one database transaction: every part of the port (code that
    needs one part only is typed against that part, e.g. :class:`~legato.store.jobs.Jobs`)."""


class Listener(Protocol):
    """A subscription to other processes' new work (see :meth:`Store.listen`)."""

    def close(self) -> None:
        """Stop listening."""


class Store(Protocol):
    """A database that Legato keeps its state in."""

    def listen(self, wake: Callable[[], None]) -> Listener | None:
        """Call ``wake`` (from another thread) when another process commits work that is
        due; None where the database cannot tell (the caller polls)."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception."""

    def close(self) -> None:
        """Release connections."""
