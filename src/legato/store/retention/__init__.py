"""Removing ended instances with every row that belongs to them.

The port (:class:`Retention`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class Retention(Protocol):
    """Removing ended instances with every row that belongs to them."""

    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        """Keys of up to ``limit`` instances that may be removed, ascending.

        Such an instance ended (``completed`` or ``terminated``) before ``ended_before``, and
        its parent instance, if it has one that still exists, has ended too (a running parent
        may still look at its children).
        """

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        """Delete these ended instances with every row that belongs to them: history, jobs,
        user tasks, incidents, timers, subscriptions, start requests, derived rows and
        analytics facts (the analytics rollups are aggregates: they keep counting them).

        Keys of instances that do not exist or have not ended are skipped. Returns how many
        instances were deleted.
        """
