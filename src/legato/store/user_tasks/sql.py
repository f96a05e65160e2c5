"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.user_tasks.UserTasks`."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._sql_base import SqlTransactionBase, _by_key, upsert_statement
from legato.store._task_queries import tasks_count, tasks_select
from legato.store.records import UserTaskMove, UserTaskQuery, UserTaskRecord
from legato.store.schema import user_tasks

_USER_TASK_BY_KEY = _by_key(user_tasks, "user_task_key")


class SqlUserTasks(SqlTransactionBase):
    """The user tasks part of a SQL transaction."""

    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""
        statement = upsert_statement(self._sql, user_tasks)
        self._run(statement, rows.user_task_params(record))

    def move_user_tasks(self, moves: Sequence[UserTaskMove]) -> None:
        """One ``executemany`` UPDATE of the moved columns."""
        if moves:
            self._execute(
                _MOVE_USER_TASK,
                [{f"b_{k}": v for k, v in move._asdict().items()} for move in moves],
            )

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""
        found = self._fetch(_USER_TASK_BY_KEY, {"key": user_task_key})
        return rows.user_task_record(found[0]) if found else None

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
        statement = tasks_select(query, self._sql)
        return [rows.user_task_record(row) for row in self._execute(statement)]

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""
        return int(self._execute(tasks_count(query, self._sql)).scalar_one())


_MOVE_USER_TASK = (
    sa.update(user_tasks)
    .where(user_tasks.c.user_task_key == sa.bindparam("b_user_task_key"))
    .values(
        element_id=sa.bindparam("b_element_id"),
        name=sa.bindparam("b_name"),
        process_id=sa.bindparam("b_process_id"),
        definition_key=sa.bindparam("b_definition_key"),
        process_version=sa.bindparam("b_process_version"),
    )
)
