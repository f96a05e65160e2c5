"""The in-memory adapter of :class:`~legato.store.user_tasks.UserTasks`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from legato.store._memory_base import MemoryTransactionBase
from legato.store._rules import utc, utc_or_none
from legato.store.records import UserTaskMove, UserTaskQuery, UserTaskRecord


def _task_matches(task: UserTaskRecord, query: UserTaskQuery) -> bool:
    for value, wanted in (
        (task.state, query.state),
        (task.assignee, query.assignee),
        (task.instance_key, query.instance_key),
        (task.process_id, query.process_id),
        (task.definition_key, query.definition_key),
        (task.element_id, query.element_id),
        (task.user_task_key, query.user_task_key),
    ):
        if wanted is not None and value != wanted:
            return False
    if query.candidate_user is not None and query.candidate_user not in task.candidate_users:
        return False
    if query.candidate_groups is not None and not set(query.candidate_groups).intersection(
        task.candidate_groups
    ):
        return False
    if query.candidate_group is not None and query.candidate_group not in task.candidate_groups:
        return False
    if query.unassigned_only and task.assignee is not None:
        return False
    if query.name_contains and query.name_contains.lower() not in (task.name or "").lower():
        return False
    if query.visible_to is not None:
        user, groups = query.visible_to
        return (
            task.assignee == user
            or user in task.candidate_users
            or bool(set(groups).intersection(task.candidate_groups))
            or (task.assignee is None and not task.candidate_users and not task.candidate_groups)
        )
    return True


class MemoryUserTasks(MemoryTransactionBase):
    """The user tasks part of an in-memory transaction."""

    def move_user_tasks(self, moves: Sequence[UserTaskMove]) -> None:
        """Replace the moved fields of each task."""
        self._check_open()
        for move in moves:
            task = self._user_tasks.get(move.user_task_key)
            if task is not None:
                self._user_tasks.put(
                    move.user_task_key,
                    replace(
                        task,
                        element_id=move.element_id,
                        name=move.name,
                        process_id=move.process_id,
                        definition_key=move.definition_key,
                        process_version=move.process_version,
                    ),
                )

    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""
        self._check_open()
        self._require_instance(record.instance_key)
        normal = replace(
            record,
            candidate_groups=tuple(record.candidate_groups),
            candidate_users=tuple(record.candidate_users),
            created_at=utc(record.created_at),
            due_at=utc_or_none(record.due_at),
            follow_up_at=utc_or_none(record.follow_up_at),
            completed_at=utc_or_none(record.completed_at),
            updated_at=utc_or_none(record.updated_at),
        )
        self._user_tasks.put(record.user_task_key, normal)

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""
        self._check_open()
        return self._user_tasks.get(user_task_key)

    def list_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_group: str | None = None,
        instance_key: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks, oldest first."""
        return self.find_user_tasks(
            UserTaskQuery(
                state=state,
                assignee=assignee,
                candidate_group=candidate_group,
                instance_key=instance_key,
            )
        )

    def find_user_tasks(self, query: UserTaskQuery) -> list[UserTaskRecord]:
        """The page of user tasks ``query`` asks for, in its order."""
        self._check_open()
        found = [t for t in self._user_tasks.values() if _task_matches(t, query)]
        found.sort(key=lambda t: t.user_task_key)
        for name, direction in reversed(query.sort):  # stable sorts, last key first
            present = [t for t in found if getattr(t, name) is not None]
            absent = [t for t in found if getattr(t, name) is None]
            present.sort(key=lambda t: getattr(t, name), reverse=direction == "desc")
            found = present + absent
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""
        self._check_open()
        return sum(1 for t in self._user_tasks.values() if _task_matches(t, query))
