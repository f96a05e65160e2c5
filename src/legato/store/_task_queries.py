"""User task queries in SQL: the filters, the order and the page of a :class:`UserTaskQuery`.

Candidate users and groups are JSON lists in TEXT columns; membership is tested exactly with
the database's JSON functions (``jsonb ?|`` on PostgreSQL, ``json_each`` on SQLite), so
filtering, counting and paging all happen in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from legato.store.records import UserTaskQuery

if TYPE_CHECKING:
    from legato.store._sql_base import SqlDialect
from legato.store.schema import user_tasks

_T = user_tasks.c
_EMPTY_LIST = "[]"


def _has_any(column: sa.ColumnElement[Any], names: Sequence[str], dialect: SqlDialect) -> Any:
    """The JSON list in ``column`` holds any of ``names``."""
    if not names:
        return sa.false()
    return dialect.json_list_has_any(column, names)


def _escaped_like(text: str) -> str:
    """``text`` matched literally by LIKE (its wildcards and the escape character escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def task_conditions(query: UserTaskQuery, dialect: SqlDialect) -> list[Any]:
    """The WHERE conditions of ``query``."""
    conditions: list[Any] = []
    for column, value in (
        (_T.state, query.state),
        (_T.assignee, query.assignee),
        (_T.instance_key, query.instance_key),
        (_T.process_id, query.process_id),
        (_T.definition_key, query.definition_key),
        (_T.element_id, query.element_id),
        (_T.user_task_key, query.user_task_key),
    ):
        if value is not None:
            conditions.append(column == value)
    if query.candidate_user is not None:
        conditions.append(_has_any(_T.candidate_users, [query.candidate_user], dialect))
    if query.candidate_group is not None:
        conditions.append(_has_any(_T.candidate_groups, [query.candidate_group], dialect))
    if query.candidate_groups is not None:
        conditions.append(_has_any(_T.candidate_groups, query.candidate_groups, dialect))
    if query.name_contains:
        pattern = "%" + _escaped_like(query.name_contains.lower()) + "%"
        conditions.append(sa.func.lower(_T.name).like(pattern, escape="\\"))
    if query.unassigned_only:
        conditions.append(_T.assignee.is_(None))
    if query.visible_to is not None:
        user, groups = query.visible_to
        conditions.append(
            sa.or_(
                _T.assignee == user,
                _has_any(_T.candidate_users, [user], dialect),
                _has_any(_T.candidate_groups, groups, dialect),
                sa.and_(
                    _T.assignee.is_(None),
                    _T.candidate_users == _EMPTY_LIST,
                    _T.candidate_groups == _EMPTY_LIST,
                ),
            )
        )
    return conditions


def task_order(query: UserTaskQuery) -> list[Any]:
    """The ORDER BY of ``query``: its fields (empty values last), then the task key."""
    order: list[Any] = []
    for name, direction in query.sort:
        column = _T[name]
        if column.nullable:  # false (0) before true: empty values last
            order.append(column.is_(None))
        order.append(column.desc() if direction == "desc" else column.asc())
    order.append(_T.user_task_key.asc())
    return order


def tasks_select(query: UserTaskQuery, dialect: SqlDialect) -> sa.Select[Any]:
    """The page of tasks ``query`` asks for."""
    statement = sa.select(user_tasks).where(*task_conditions(query, dialect))
    statement = statement.order_by(*task_order(query)).offset(query.offset or None)
    return statement.limit(query.limit) if query.limit is not None else statement


def tasks_count(query: UserTaskQuery, dialect: SqlDialect) -> sa.Select[Any]:
    """How many tasks ``query``'s filters find (paging ignored)."""
    return (
        sa.select(sa.func.count()).select_from(user_tasks).where(*task_conditions(query, dialect))
    )
