"""The user task methods of :class:`~legato.runtime.engine.Engine`: queries, assignment,
delegation and completion (checked against the task's Camunda form), and forms.

Assignment and completion are engine commands: each change is an event in the instance's
history (``UserTaskAssigned`` with its action, ``UserTaskCompleted``), and the checks that
depend on who holds the task are made by the engine core against the instance state, under
the same lock as the change, so two users claiming one task at once cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from legato.engine import commands as cmd
from legato.errors import (
    FieldError,
    FormValidationError,
    InvalidCommandError,
    NotFoundError,
    TaskConflictError,
)
from legato.forms import parse_form, validate_submission
from legato.runtime.arguments import check_one_of, checked_arguments
from legato.security.sensitive import Viewer
from legato.store.records import (
    USER_TASK_SORT_FIELDS,
    USER_TASK_STATES,
    FormRecord,
    UserTaskQuery,
    UserTaskRecord,
)

if TYPE_CHECKING:
    from legato.engine.state import InstanceState
    from legato.runtime.clock import Clock
    from legato.runtime.definitions import DefinitionRegistry
    from legato.runtime.executor import Outcome
    from legato.runtime.keys import KeyAllocator
    from legato.store.ports import Store

DEFAULT_TASK_SORT: tuple[tuple[str, str], ...] = (("created_at", "asc"),)
"""Oldest first."""


@checked_arguments
class UserTaskMethods:
    """User tasks and forms (mixed into the engine)."""

    store: Store
    clock: Clock
    _definitions: DefinitionRegistry
    _keys: KeyAllocator

    def _submit(self, command: cmd.Command, request_token: str | None = None) -> Outcome:
        raise NotImplementedError  # the engine's

    def state(self, instance_key: int, *, viewer: Viewer | None = None) -> InstanceState:
        raise NotImplementedError  # the engine's

    # -- queries -------------------------------------------------------------------------------

    def user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_user: str | None = None,
        candidate_group: str | None = None,
        candidate_groups: Sequence[str] | None = None,
        visible_to: tuple[str, Sequence[str]] | None = None,
        instance_key: int | None = None,
        process_id: str | None = None,
        definition_key: int | None = None,
        element_id: str | None = None,
        user_task_key: int | None = None,
        name_contains: str | None = None,
        include_assigned: bool = True,
        unassigned_only: bool = False,
        sort: Sequence[tuple[str, str]] = DEFAULT_TASK_SORT,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks (open ones by default), oldest first unless ``sort`` says otherwise.

        Every filter given must hold. ``candidate_groups`` keeps tasks with any of the groups
        as a candidate group; ``visible_to=(user, groups)`` keeps what that user may see:
        tasks assigned to them, naming them or one of their groups as candidates, or with no
        assignee and no candidates at all. ``include_assigned=False`` leaves out assigned
        tasks when a candidate filter is given (Camunda 7's ``includeAssignedTasks``);
        ``unassigned_only`` leaves them out always. ``name_contains`` keeps tasks whose name
        contains the text, whatever its case.

        Args:
            sort: ``(field, "asc" | "desc")`` pairs; fields are ``created_at``, ``due_at``,
                ``follow_up_at``, ``priority`` and ``name``. Ties go by task key; tasks
                without a value sort last.
            offset: how many tasks of the sorted result to skip.
            limit: the most tasks to return (all when None).

        Raises:
            InvalidCommandError: an unknown ``state`` or sort field or order, a negative
                ``offset`` or ``limit``.
        """
        query = self._task_query(
            state=state,
            assignee=assignee,
            candidate_user=candidate_user,
            candidate_group=candidate_group,
            candidate_groups=candidate_groups,
            visible_to=visible_to,
            instance_key=instance_key,
            process_id=process_id,
            definition_key=definition_key,
            element_id=element_id,
            user_task_key=user_task_key,
            name_contains=name_contains,
            include_assigned=include_assigned,
            unassigned_only=unassigned_only,
            sort=sort,
            offset=offset,
            limit=limit,
        )
        with self.store.transaction() as tx:
            return tx.find_user_tasks(query)

    def count_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_user: str | None = None,
        candidate_group: str | None = None,
        candidate_groups: Sequence[str] | None = None,
        visible_to: tuple[str, Sequence[str]] | None = None,
        instance_key: int | None = None,
        process_id: str | None = None,
        definition_key: int | None = None,
        element_id: str | None = None,
        user_task_key: int | None = None,
        name_contains: str | None = None,
        include_assigned: bool = True,
        unassigned_only: bool = False,
    ) -> int:
        """How many user tasks :meth:`user_tasks` finds with these filters (no paging)."""
        query = self._task_query(
            state=state,
            assignee=assignee,
            candidate_user=candidate_user,
            candidate_group=candidate_group,
            candidate_groups=candidate_groups,
            visible_to=visible_to,
            instance_key=instance_key,
            process_id=process_id,
            definition_key=definition_key,
            element_id=element_id,
            user_task_key=user_task_key,
            name_contains=name_contains,
            include_assigned=include_assigned,
            unassigned_only=unassigned_only,
        )
        with self.store.transaction() as tx:
            return tx.count_user_tasks(query)

    @staticmethod
    def _task_query(
        *,
        state: str | None,
        candidate_group: str | None,
        candidate_groups: Sequence[str] | None,
        visible_to: tuple[str, Sequence[str]] | None,
        include_assigned: bool,
        unassigned_only: bool,
        sort: Sequence[tuple[str, str]] = DEFAULT_TASK_SORT,
        offset: int = 0,
        limit: int | None = None,
        **filters: Any,
    ) -> UserTaskQuery:
        check_one_of("state", state, USER_TASK_STATES)
        for field, order in sort:
            check_one_of("sort", field, USER_TASK_SORT_FIELDS)
            check_one_of("sort", order, ("asc", "desc"))
        if offset < 0:
            raise InvalidCommandError(f"offset must be 0 or more, got {offset}")
        if limit is not None and limit < 0:
            raise InvalidCommandError(f"limit must be 0 or more, got {limit}")
        if isinstance(candidate_groups, str):
            raise InvalidCommandError("candidate_groups must be a sequence of group names")
        candidate_filter = (
            filters["candidate_user"] is not None
            or candidate_group is not None
            or candidate_groups is not None
        )
        return UserTaskQuery(
            state=state,
            candidate_group=candidate_group,
            candidate_groups=tuple(candidate_groups) if candidate_groups is not None else None,
            visible_to=(visible_to[0], tuple(visible_to[1])) if visible_to is not None else None,
            unassigned_only=unassigned_only or (not include_assigned and candidate_filter),
            sort=tuple((field, order) for field, order in sort),
            offset=offset,
            limit=limit,
            **filters,
        )

    def user_task(self, user_task_key: int) -> UserTaskRecord:
        """One user task, open or finished.

        Raises:
            NotFoundError: no task has this key.
        """
        with self.store.transaction() as tx:
            task = tx.get_user_task(user_task_key)
        if task is None:
            raise NotFoundError(f"no user task with key {user_task_key}")
        return task

    def _open_task(self, user_task_key: int) -> UserTaskRecord:
        task = self.user_task(user_task_key)
        if task.state != "created":
            raise TaskConflictError(f"user task {user_task_key} is already {task.state}")
        return task

    # -- assignment ----------------------------------------------------------------------------

    def assign_user_task(
        self,
        user_task_key: int,
        assignee: str | None,
        *,
        allow_override: bool = True,
        by: str | None = None,
    ) -> None:
        """Assign a user task to ``assignee`` (None: unassign it).

        Args:
            allow_override: False refuses a task assigned to someone else (assigning it to
                its current assignee again is fine).
            by: who asks, for the history.

        Raises:
            NotFoundError: no such task.
            TaskConflictError: the task is completed or canceled, or (without override)
                assigned to someone else.
        """
        action = "assign" if assignee is not None else "unclaim"
        self._change_task(user_task_key, action, assignee, allow_override=allow_override, by=by)

    def claim_user_task(self, user_task_key: int, user: str, *, by: str | None = None) -> None:
        """Claim a user task for ``user`` (Camunda 7's claim: refused when another holds it).

        Raises:
            NotFoundError: no such task. TaskConflictError: the task is completed or
                canceled, or assigned to someone else.
        """
        self._change_task(user_task_key, "claim", user, allow_override=False, by=by or user)

    def unclaim_user_task(self, user_task_key: int, *, by: str | None = None) -> None:
        """Take the assignee off a user task.

        Raises:
            NotFoundError: no such task. TaskConflictError: it is completed or canceled.
        """
        self._change_task(user_task_key, "unclaim", None, by=by)

    def delegate_user_task(self, user_task_key: int, user: str, *, by: str | None = None) -> None:
        """Delegate a user task to ``user``: its assignee becomes its owner, and the
        delegation is ``PENDING`` until :meth:`resolve_user_task` (Camunda 7).

        Raises:
            NotFoundError: no such task. TaskConflictError: it is completed or canceled.
        """
        self._change_task(user_task_key, "delegate", user, by=by)

    def resolve_user_task(
        self,
        user_task_key: int,
        variables: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
    ) -> None:
        """Hand a delegated user task back to its owner (delegation ``RESOLVED``), setting
        ``variables`` as a completion would; the task stays open.

        Raises:
            NotFoundError: no such task. TaskConflictError: it is completed or canceled, or
                not delegated.
        """
        self._change_task(user_task_key, "resolve", None, by=by, variables=variables)

    def _change_task(
        self,
        user_task_key: int,
        action: str,
        assignee: str | None,
        *,
        allow_override: bool = True,
        by: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        task = self._open_task(user_task_key)
        self._submit(
            cmd.AssignUserTask(
                instance_key=task.instance_key,
                user_task_key=user_task_key,
                action=action,
                assignee=assignee,
                allow_override=allow_override,
                by=by,
                variables=dict(variables or {}),
            )
        )

    # -- completion ----------------------------------------------------------------------------

    def complete_user_task(
        self,
        user_task_key: int,
        variables: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
    ) -> None:
        """Complete a user task; the instance moves on at once.

        The variables are checked against the task's form first (a linked Camunda form at
        the version bound when the task was created, or the form embedded in the process).

        Args:
            user: who completes it; a task assigned to someone else is refused. None
                completes it whoever holds it (an operator).

        Raises:
            NotFoundError: no such task.
            TaskConflictError: the task is completed or canceled, assigned to another user,
                or delegated (resolve it first).
            FormValidationError: the variables break the form (``.errors`` names each field).
        """
        task = self._open_task(user_task_key)
        if user is not None and task.assignee is not None and task.assignee != user:
            raise TaskConflictError(f"user task {user_task_key} is assigned to {task.assignee!r}")
        if task.delegation_state == "PENDING":
            raise TaskConflictError(
                f"user task {user_task_key} is delegated to {task.assignee!r}: "
                "it must be resolved, not completed"
            )
        submitted = dict(variables or {})
        self._check_form(task, submitted)
        self._submit(
            cmd.CompleteUserTask(
                instance_key=task.instance_key,
                user_task_key=user_task_key,
                variables=submitted,
                completed_by=user,
            )
        )

    def _check_form(self, task: UserTaskRecord, variables: dict[str, Any]) -> None:
        """Refuse variables the task's form does not accept (see :mod:`legato.forms`)."""
        record = self._task_form(task)
        if record is None:
            return
        form = parse_form(json.dumps(record.schema), record.resource_name)
        errors: list[FieldError] = validate_submission(form, variables)
        if errors:
            raise FormValidationError(
                f"the variables do not fit form '{record.form_id}' of user task "
                f"{task.user_task_key}",
                errors,
            )

    def user_task_variables(
        self, user_task_key: int, *, local: bool = False, viewer: Viewer | None = None
    ) -> dict[str, Any]:
        """The variables a user task sees: its own scope's and those of the scopes around it
        (an inner scope's variable hides an outer one's of the same name), or with ``local``
        only its own scope's; with a ``viewer``, masked as :meth:`Engine.instance` masks.

        Raises:
            NotFoundError: no such task, or its instance is gone.
        """
        task = self.user_task(user_task_key)
        state = self.state(task.instance_key, viewer=viewer)
        if local:
            return dict(state.variables.get(task.element_instance_key, {}))
        chain: list[int] = []
        key: int | None = task.element_instance_key
        while key is not None and key not in chain:
            chain.append(key)
            element = state.elements.get(key)
            key = element.parent_key if element is not None else None
        if state.instance_key not in chain:
            chain.append(state.instance_key)
        seen: dict[str, Any] = {}
        for scope in reversed(chain):
            seen.update(state.variables.get(scope, {}))
        return seen

    def user_task_inputs(self, user_task_key: int) -> list[str]:
        """The variables a completion of the task should give, as its output mappings name
        them: for each mapping, the variable its source reads when the source is a plain name
        (``=decision``), else the variable it writes (its target); in the model's order,
        without repeats. Empty when the task has no output mappings (or its process version
        is unknown).

        Raises:
            NotFoundError: no such task.
        """
        task = self.user_task(user_task_key)
        try:
            deployed = self._definitions.get(task.definition_key)
        except KeyError:
            return []
        element = deployed.process.elements.get(task.element_id)
        names: list[str] = []
        for mapping in element.output_mappings if element is not None else ():
            source = mapping.source.source.strip().removeprefix("=").strip()
            plain = source.isidentifier() and source not in ("true", "false", "null")
            name = source if plain else mapping.target.split(".")[0]
            if name not in names:
                names.append(name)
        return names

    # -- forms ---------------------------------------------------------------------------------

    def form(
        self,
        form_id: str | None = None,
        *,
        form_key: int | None = None,
        version: int | None = None,
    ) -> FormRecord:
        """A deployed Camunda form: by key, or by id (the latest version, or ``version``).

        Raises:
            InvalidCommandError: neither ``form_id`` nor ``form_key`` is given.
            NotFoundError: no such form (version).
        """
        if form_id is None and form_key is None:
            raise InvalidCommandError("give form_id or form_key")
        with self.store.transaction() as tx:
            found = tx.find_form(form_id, form_key=form_key, version=version)
        if found is None:
            wanted = f"key {form_key}" if form_key is not None else f"id {form_id!r}"
            if version is not None:
                wanted += f" version {version}"
            raise NotFoundError(f"no form with {wanted}")
        return found

    def user_task_form(self, user_task_key: int) -> FormRecord | None:
        """The form of a user task: the linked form at the version bound when the task was
        created, or the form embedded in the process; None when it has no Camunda form.

        Raises:
            NotFoundError: no such task.
        """
        return self._task_form(self.user_task(user_task_key))

    def _task_form(self, task: UserTaskRecord) -> FormRecord | None:
        if task.linked_form_key is not None:
            return self.form(form_key=task.linked_form_key)
        embedded = self._embedded_form(task)
        if embedded is not None:
            return embedded
        return None

    def _embedded_form(self, task: UserTaskRecord) -> FormRecord | None:
        if task.form_id is None or not task.definition_key:
            return None
        try:
            deployed = self._definitions.get(task.definition_key)
        except KeyError:
            return None
        element = deployed.process.elements.get(task.element_id)
        text = getattr(element, "embedded_form", None)
        if text is None:
            return None
        try:
            schema = json.loads(text)
        except ValueError:
            return None
        if not isinstance(schema, dict):
            return None
        return FormRecord(
            form_key=0,
            form_id=task.form_id,
            version=deployed.version,
            resource_name=f"{deployed.process_id}.bpmn#{task.form_id}",
            schema=schema,
            deployed_at=task.created_at,
        )
