"""Commands about user tasks: completing, assigning, claiming, delegating them."""

from __future__ import annotations

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.handle_jobs import take_result
from legato.engine.processing import Processing
from legato.engine.state import ElementInstance, TaskPeople
from legato.engine.values import checked_variables
from legato.errors import InvalidCommandError, TaskConflictError

_DELEGATED = "user task {key} is delegated to {holder!r}: it must be resolved, not completed"


def _open_user_task(p: Processing, user_task_key: int) -> ElementInstance:
    element_key = p.state.user_tasks.get(user_task_key)
    if element_key is None:
        raise TaskConflictError(f"user task {user_task_key} is not open (completed or canceled)")
    return p.state.elements[element_key]


def complete_user_task(p: Processing, command: cmd.CompleteUserTask) -> None:
    instance = _open_user_task(p, command.user_task_key)
    people = p.state.task_people.get(command.user_task_key)
    holder = people.assignee if people is not None else None
    if people is not None and people.delegation_state == "PENDING":
        raise TaskConflictError(_DELEGATED.format(key=command.user_task_key, holder=holder))
    if command.completed_by is not None and holder is not None and holder != command.completed_by:
        raise TaskConflictError(
            f"user task {command.user_task_key} is assigned to {holder!r}, "
            f"not to {command.completed_by!r}"
        )
    variables = checked_variables(command.variables)
    p.emit(
        ev.UserTaskCompleted(
            at=p.ctx.now,
            user_task_key=command.user_task_key,
            completed_by=command.completed_by,
            variables=variables,
        )
    )
    take_result(p, instance, variables)
    p.complete(instance)


def assign_user_task(p: Processing, command: cmd.AssignUserTask) -> None:
    instance = _open_user_task(p, command.user_task_key)
    key = command.user_task_key
    now = p.state.task_people.get(key) or TaskPeople()
    action, assignee = command.action, command.assignee
    if action in ("assign", "claim"):
        override = command.allow_override and action == "assign"
        if not override and now.assignee not in (None, assignee):
            raise TaskConflictError(f"user task {key} is already assigned to {now.assignee!r}")
        after = TaskPeople(assignee, now.owner, now.delegation_state)
    elif action == "unclaim":
        after = TaskPeople(None, now.owner, now.delegation_state)
    elif action == "delegate":
        if assignee is None:
            raise InvalidCommandError(f"user task {key} cannot be delegated to nobody")
        owner = now.owner if now.delegation_state == "PENDING" else now.assignee
        after = TaskPeople(assignee, owner or now.assignee, "PENDING")
    elif action == "resolve":
        if now.delegation_state != "PENDING":
            raise TaskConflictError(f"user task {key} is not delegated, so it cannot be resolved")
        after = TaskPeople(now.owner, now.owner, "RESOLVED")
    else:
        raise InvalidCommandError(f"unknown user task action {action!r}")
    p.emit(
        ev.UserTaskAssigned(
            at=p.ctx.now,
            user_task_key=key,
            action=action,
            element_id=instance.element_id,
            assignee=after.assignee,
            owner=after.owner,
            delegation_state=after.delegation_state,
            by=command.by,
        )
    )
    if command.variables:
        take_result(p, instance, checked_variables(command.variables))
