"""User tasks waiting for people.

The port (:class:`UserTasks`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from legato.store.records import UserTaskMove, UserTaskQuery, UserTaskRecord


class UserTasks(Protocol):
    """User tasks waiting for people."""

    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""

    def move_user_tasks(self, moves: Sequence[UserTaskMove]) -> None:
        """Give open user tasks the element, name and process version of a migrated
        instance (their assignee, claim and everything else stay)."""

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""

    def list_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_group: str | None = None,
        instance_key: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks, oldest first."""

    def find_user_tasks(self, query: UserTaskQuery) -> list[UserTaskRecord]:
        """The page of user tasks ``query`` asks for, in its order."""

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""
