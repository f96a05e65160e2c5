"""Human tasks: reading the assignment, schedule, priority and form extensions; assignment,
claims and delegation as engine commands with history; completion checks; task queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bpmn_helpers import HEADER, chain, process
from legato import NotFoundError, TaskConflictError
from legato.testing import TestEngine

CAMUNDA_HEADER = HEADER.replace(
    "<bpmn:definitions ", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
)


def user_task(element_id: str = "t", extensions: str = "", attrs: str = "") -> str:
    return (
        f'<bpmn:userTask id="{element_id}" name="Task {element_id}" {attrs}>'
        f"<bpmn:extensionElements>{extensions}</bpmn:extensionElements></bpmn:userTask>"
    )


def one_task(extensions: str = "", attrs: str = "", process_id: str = "p") -> str:
    body = (
        '<bpmn:startEvent id="s"/>'
        + user_task("t", extensions, attrs)
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "t", "e")
    )
    return process(body, process_id).replace(HEADER, CAMUNDA_HEADER)


def started(xml: str, variables: dict[str, object] | None = None) -> tuple[TestEngine, int]:
    engine = TestEngine()
    engine.deploy(xml)
    engine.start("p", variables or {})
    [task] = engine.user_tasks()
    return engine, task.user_task_key


def events_of(engine: TestEngine, event_type: str) -> list[dict[str, object]]:
    [instance] = engine.instances()
    return [e.details for e in engine.history(instance.key) if e.event_type == event_type]


# -- reading the model -------------------------------------------------------------------------


def test_zeebe_assignment_schedule_priority_and_form_are_read() -> None:
    xml = one_task(
        '<zeebe:assignmentDefinition assignee="ada" candidateUsers="bob, carl"'
        ' candidateGroups="sales,risk"/>'
        '<zeebe:taskSchedule dueDate="2027-01-02T10:00:00Z" followUpDate="2027-01-01T09:00:00Z"/>'
        '<zeebe:priorityDefinition priority="80"/>'
        '<zeebe:formDefinition externalReference="https://forms.example/approve"/>'
    )
    engine, key = started(xml)
    task = engine.user_task(key)
    assert (task.assignee, task.candidate_users, task.candidate_groups) == (
        "ada",
        ("bob", "carl"),
        ("sales", "risk"),
    )
    assert task.due_at == datetime(2027, 1, 2, 10, tzinfo=UTC)
    assert task.follow_up_at == datetime(2027, 1, 1, 9, tzinfo=UTC)
    assert task.priority == 80
    assert task.external_form_reference == "https://forms.example/approve"
    assert (task.process_id, task.element_id, task.name) == ("p", "t", "Task t")
    assert task.definition_key == engine.state(task.instance_key).definition_key
    assert task.updated_at == task.created_at


def test_feel_expressions_give_assignee_candidates_due_date_and_priority() -> None:
    xml = one_task(
        '<zeebe:assignmentDefinition assignee="=owner" candidateUsers="=reviewers"'
        ' candidateGroups="=[region, &quot;hq&quot;]"/>'
        '<zeebe:taskSchedule dueDate="=due"/>'
        '<zeebe:priorityDefinition priority="=urgency * 10"/>'
    )
    engine, key = started(
        xml,
        {
            "owner": "ada",
            "reviewers": ["bob"],
            "region": "north",
            "due": "2027-03-01T12:00:00+00:00",
            "urgency": 9,
        },
    )
    task = engine.user_task(key)
    assert (task.assignee, task.candidate_users, task.candidate_groups) == (
        "ada",
        ("bob",),
        ("north", "hq"),
    )
    assert task.due_at == datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert task.priority == 90


def test_due_dates_without_a_zone_are_utc_and_dates_are_their_midnight() -> None:
    xml = one_task('<zeebe:taskSchedule dueDate="=due" followUpDate="=date(2027, 1, 5)"/>')
    engine, key = started(xml, {"due": "2027-01-06T08:00:00"})
    task = engine.user_task(key)
    assert task.due_at == datetime(2027, 1, 6, 8, tzinfo=UTC)
    assert task.follow_up_at == datetime(2027, 1, 5, tzinfo=UTC)


def test_a_priority_out_of_range_is_an_incident() -> None:
    engine = TestEngine()
    engine.deploy(one_task('<zeebe:priorityDefinition priority="=101"/>'))
    instance = engine.start("p")
    [incident] = engine.incidents()
    assert incident.instance_key == instance.key
    assert "priority must be from 0 to 100, got 101" in incident.message


def test_priority_defaults_to_50() -> None:
    engine, key = started(one_task())
    assert engine.user_task(key).priority == 50


def test_camunda_7_attributes_are_read_with_juel() -> None:
    xml = one_task(
        attrs='camunda:assignee="${starter}" camunda:candidateUsers="bob,carl"'
        ' camunda:candidateGroups="sales" camunda:dueDate="2027-01-02T10:00:00Z"'
        ' camunda:followUpDate="${follow}" camunda:priority="70"'
        ' camunda:formKey="embedded:app:forms/approve.html"'
    )
    engine, key = started(xml, {"starter": "ada", "follow": "2027-01-01T08:00:00+00:00"})
    task = engine.user_task(key)
    assert (task.assignee, task.candidate_users, task.candidate_groups) == (
        "ada",
        ("bob", "carl"),
        ("sales",),
    )
    assert task.due_at == datetime(2027, 1, 2, 10, tzinfo=UTC)
    assert task.follow_up_at == datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert task.priority == 70
    assert task.form_key == "embedded:app:forms/approve.html"


def test_camunda_7_form_ref_names_a_linked_form() -> None:
    xml = one_task(attrs='camunda:formRef="approve" camunda:formRefBinding="latest"')
    engine, key = started(xml)
    assert engine.user_task(key).form_id == "approve"


def test_zeebe_form_id_names_a_linked_form() -> None:
    engine, key = started(one_task('<zeebe:formDefinition formId="approve"/>'))
    task = engine.user_task(key)
    assert (task.form_id, task.form_key, task.linked_form_key) == ("approve", "approve", None)


# -- assignment --------------------------------------------------------------------------------


def test_assign_reassign_and_unassign_are_recorded() -> None:
    engine, key = started(one_task())
    created = engine.user_task(key).updated_at
    engine.clock.advance(timedelta(seconds=5))
    engine.assign_user_task(key, "ada", by="admin")
    assert engine.user_task(key).assignee == "ada"
    assert engine.user_task(key).updated_at == created + timedelta(seconds=5)  # type: ignore[operator]
    engine.assign_user_task(key, "bob")
    assert engine.user_task(key).assignee == "bob"
    engine.assign_user_task(key, None)
    assert engine.user_task(key).assignee is None
    assigned = events_of(engine, "UserTaskAssigned")
    assert [(e["action"], e["assignee"], e["by"]) for e in assigned] == [
        ("assign", "ada", "admin"),
        ("assign", "bob", None),
        ("unclaim", None, None),
    ]


def test_assign_without_override_refuses_a_task_held_by_another() -> None:
    engine, key = started(one_task())
    engine.assign_user_task(key, "ada", allow_override=False)
    engine.assign_user_task(key, "ada", allow_override=False)  # the same assignee: fine
    with pytest.raises(TaskConflictError, match="already assigned to 'ada'"):
        engine.assign_user_task(key, "bob", allow_override=False)
    assert engine.user_task(key).assignee == "ada"


def test_claim_conflicts_and_unclaim() -> None:
    engine, key = started(one_task())
    engine.claim_user_task(key, "ada")
    with pytest.raises(TaskConflictError, match="already assigned to 'ada'"):
        engine.claim_user_task(key, "bob")
    engine.unclaim_user_task(key, by="ada")
    engine.claim_user_task(key, "bob")
    task = engine.user_task(key)
    assert task.assignee == "bob"
    actions = [e["action"] for e in events_of(engine, "UserTaskAssigned")]
    assert actions == ["claim", "unclaim", "claim"]
    [instance] = engine.instances()
    entries = [e for e in engine.history(instance.key) if e.event_type == "UserTaskAssigned"]
    assert {e.element_id for e in entries} == {"t"}


def test_delegate_and_resolve() -> None:
    engine, key = started(one_task())
    engine.claim_user_task(key, "ada")
    engine.delegate_user_task(key, "bob", by="ada")
    task = engine.user_task(key)
    assert (task.assignee, task.owner, task.delegation_state) == ("bob", "ada", "PENDING")
    with pytest.raises(TaskConflictError, match="delegated to 'bob': it must be resolved"):
        engine.complete_user_task(key, user="bob")
    engine.resolve_user_task(key, {"checked": True}, by="bob")
    task = engine.user_task(key)
    assert (task.assignee, task.owner, task.delegation_state) == ("ada", "ada", "RESOLVED")
    assert task.state == "created"
    with pytest.raises(TaskConflictError, match="not delegated"):
        engine.resolve_user_task(key)
    engine.complete_user_task(key, user="ada")
    [instance] = engine.instances(status=None)
    engine.assert_that(instance.key).is_completed().has_variables(checked=True)


def test_unknown_and_finished_tasks_are_refused() -> None:
    engine, key = started(one_task())
    with pytest.raises(NotFoundError, match="no user task with key 999999"):
        engine.assign_user_task(999999, "ada")
    with pytest.raises(NotFoundError):
        engine.complete_user_task(999999)
    engine.complete_user_task(key)
    for change in (
        lambda: engine.assign_user_task(key, "ada"),
        lambda: engine.claim_user_task(key, "ada"),
        lambda: engine.unclaim_user_task(key),
        lambda: engine.delegate_user_task(key, "ada"),
    ):
        with pytest.raises(TaskConflictError, match=f"user task {key} is already completed"):
            change()


# -- completion --------------------------------------------------------------------------------


def test_completing_twice_is_refused_and_changes_nothing() -> None:
    engine, key = started(one_task())
    engine.complete_user_task(key, {"n": 1})
    with pytest.raises(TaskConflictError, match=f"user task {key} is already completed"):
        engine.complete_user_task(key, {"n": 2})
    [instance] = engine.instances(status=None)
    engine.assert_that(instance.key).is_completed().has_variables(n=1)
    assert len(events_of(engine, "UserTaskCompleted")) == 1


def test_a_task_assigned_to_another_user_is_not_completed_by_this_one() -> None:
    engine, key = started(one_task('<zeebe:assignmentDefinition assignee="bob"/>'))
    with pytest.raises(TaskConflictError, match=f"user task {key} is assigned to 'bob'"):
        engine.complete_user_task(key, {"n": 1}, user="ada")
    assert engine.user_task(key).state == "created"
    assert events_of(engine, "UserTaskCompleted") == []
    engine.complete_user_task(key, {"n": 1}, user="bob")
    assert engine.user_task(key).completed_by == "bob"


def test_an_unassigned_task_is_completed_by_anyone() -> None:
    engine, key = started(one_task())
    engine.complete_user_task(key, user="ada")
    assert engine.user_task(key).state == "completed"


def test_a_cancelled_instance_cancels_its_task() -> None:
    engine, key = started(one_task())
    [instance] = engine.instances()
    engine.cancel(instance.key)
    with pytest.raises(TaskConflictError, match="already canceled"):
        engine.complete_user_task(key)


def test_the_replayed_state_equals_the_stored_one_after_assignments() -> None:
    engine, key = started(one_task())
    engine.claim_user_task(key, "ada")
    engine.delegate_user_task(key, "bob")
    [instance] = engine.instances()
    assert engine.replay(instance.key).to_json() == engine.state(instance.key).to_json()
    assert engine.state(instance.key).task_people[key].owner == "ada"


# -- queries -----------------------------------------------------------------------------------


def several_tasks(url: str | None = None) -> tuple[TestEngine, dict[str, int]]:
    """Five tasks of two processes, created a minute apart."""
    body = (
        '<bpmn:startEvent id="s"/>'
        + user_task(
            "t",
            '<zeebe:assignmentDefinition assignee="=assignee" candidateUsers="=users"'
            ' candidateGroups="=groups"/>'
            '<zeebe:taskSchedule dueDate="=due"/><zeebe:priorityDefinition priority="=prio"/>',
        )
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "t", "e")
    )
    engine = TestEngine(url)
    engine.deploy(process(body, "p"))
    engine.deploy(process(body.replace('name="Task t"', 'name="Other"'), "q"))
    rows = {
        # name: process, assignee, candidate users, groups, due, priority
        "a": ("p", "ada", [], [], "2027-01-03T00:00:00Z", 10),
        "b": ("p", None, ["ada"], [], None, 90),
        "c": ("q", None, [], ["sales"], "2027-01-01T00:00:00Z", 50),
        "d": ("q", "bob", ["carl"], ["risk"], "2027-01-02T00:00:00Z", 50),
        "e": ("p", None, [], [], None, 20),
    }
    keys: dict[str, int] = {}
    for label, (process_id, assignee, users, groups, due, prio) in rows.items():
        engine.clock.advance(timedelta(minutes=1))
        variables = {"assignee": assignee, "users": users, "groups": groups, "prio": prio}
        instance = engine.start(process_id, {**variables, "due": due})
        [task] = engine.user_tasks(instance_key=instance.key)
        keys[label] = task.user_task_key
    return engine, keys


def labels(keys: dict[str, int], tasks: list[object]) -> list[str]:
    by_key = {v: k for k, v in keys.items()}
    return [by_key[t.user_task_key] for t in tasks]  # type: ignore[attr-defined]


def test_filters() -> None:
    engine, keys = several_tasks()
    assert labels(keys, engine.user_tasks()) == ["a", "b", "c", "d", "e"]
    assert labels(keys, engine.user_tasks(assignee="ada")) == ["a"]
    assert labels(keys, engine.user_tasks(candidate_user="ada")) == ["b"]
    assert labels(keys, engine.user_tasks(candidate_group="sales")) == ["c"]
    assert labels(keys, engine.user_tasks(candidate_groups=["risk", "sales"])) == ["c", "d"]
    assert labels(keys, engine.user_tasks(candidate_groups=["risk"], include_assigned=False)) == []
    assert labels(keys, engine.user_tasks(unassigned_only=True)) == ["b", "c", "e"]
    assert labels(keys, engine.user_tasks(process_id="q")) == ["c", "d"]
    assert labels(keys, engine.user_tasks(element_id="t", user_task_key=keys["d"])) == ["d"]
    definition_key = engine.user_task(keys["a"]).definition_key
    assert labels(keys, engine.user_tasks(definition_key=definition_key)) == ["a", "b", "e"]
    assert engine.count_user_tasks() == 5
    assert engine.count_user_tasks(process_id="q") == 2
    assert engine.count_user_tasks(candidate_groups=[]) == 0


@pytest.mark.parametrize("store", ["memory", "sql"])
def test_name_contains_matches_any_case_and_wildcards_literally(store: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}" if store == "sql" else None
    engine, keys = several_tasks(url)
    assert labels(keys, engine.user_tasks(name_contains="oTHe")) == ["c", "d"]
    assert labels(keys, engine.user_tasks(name_contains="task T")) == ["a", "b", "e"]
    assert engine.user_tasks(name_contains="%") == []
    assert engine.user_tasks(name_contains="_") == []
    assert engine.count_user_tasks(name_contains="other", visible_to=("zoe", ["sales"])) == 1


def test_visible_to_a_user_and_their_groups() -> None:
    engine, keys = several_tasks()
    # a: assigned to ada; b: ada is a candidate; e: nobody is named
    assert labels(keys, engine.user_tasks(visible_to=("ada", []))) == ["a", "b", "e"]
    # c: sales is a candidate group; d: risk is one (although assigned to bob)
    assert labels(keys, engine.user_tasks(visible_to=("zoe", ["sales", "risk"]))) == ["c", "d", "e"]
    assert labels(keys, engine.user_tasks(visible_to=("carl", ()))) == ["d", "e"]
    assert engine.count_user_tasks(visible_to=("ada", ["sales"])) == 4


def test_sorting_and_paging() -> None:
    engine, keys = several_tasks()
    by_due = engine.user_tasks(sort=[("due_at", "asc")])
    assert labels(keys, by_due) == ["c", "d", "a", "b", "e"]  # no due date: last
    by_due_desc = engine.user_tasks(sort=[("due_at", "desc")])
    assert labels(keys, by_due_desc) == ["a", "d", "c", "b", "e"]
    by_priority = engine.user_tasks(sort=[("priority", "desc"), ("created_at", "desc")])
    assert labels(keys, by_priority) == ["b", "d", "c", "e", "a"]
    by_name = engine.user_tasks(sort=[("name", "asc"), ("created_at", "desc")])
    assert labels(keys, by_name) == ["d", "c", "e", "b", "a"]
    page = engine.user_tasks(sort=[("created_at", "desc")], offset=1, limit=2)
    assert labels(keys, page) == ["d", "c"]
    assert engine.user_tasks(offset=5) == []
    assert engine.user_tasks(limit=0) == []


def test_wrong_query_arguments_are_refused() -> None:
    engine = TestEngine()
    with pytest.raises(legato_invalid(), match="sort must be one of created_at"):
        engine.user_tasks(sort=[("assignee", "asc")])
    with pytest.raises(legato_invalid(), match="sort must be one of asc, desc"):
        engine.user_tasks(sort=[("name", "up")])
    with pytest.raises(legato_invalid(), match="offset must be 0 or more"):
        engine.user_tasks(offset=-1)
    with pytest.raises(legato_invalid(), match="state must be one of"):
        engine.count_user_tasks(state="open")


def legato_invalid() -> type[Exception]:
    from legato import InvalidCommandError

    return InvalidCommandError


def test_completed_tasks_are_found_by_state() -> None:
    engine, keys = several_tasks()
    engine.complete_user_task(keys["b"], user="ada")
    assert labels(keys, engine.user_tasks(state="completed")) == ["b"]
    assert engine.count_user_tasks(state=None) == 5
    assert engine.count_user_tasks() == 4


def test_the_engine_core_refuses_a_claim_that_lost_a_race() -> None:
    # Two claims checked against the same stale row: the second command meets the first
    # one's assignee in the instance state, under the instance's lock, and is refused there.
    from legato.engine import commands as cmd

    engine, key = started(one_task())
    task = engine.user_task(key)
    engine.claim_user_task(key, "ada")
    late_claim = cmd.AssignUserTask(
        instance_key=task.instance_key, user_task_key=key, action="claim", assignee="bob"
    )
    with pytest.raises(TaskConflictError, match="already assigned to 'ada'"):
        engine._submit(late_claim)
    late_completion = cmd.CompleteUserTask(
        instance_key=task.instance_key, user_task_key=key, completed_by="bob"
    )
    with pytest.raises(TaskConflictError, match="is assigned to 'ada', not to 'bob'"):
        engine._submit(late_completion)
    assert engine.user_task(key).assignee == "ada"


def test_user_task_inputs_are_what_its_output_mappings_read() -> None:
    mappings = (
        '<zeebe:ioMapping><zeebe:output source="=decision" target="approved"/>'
        '<zeebe:output source="=amount * 2" target="total.doubled"/>'
        '<zeebe:output source="=true" target="seen"/>'
        '<zeebe:output source="=decision" target="again"/></zeebe:ioMapping>'
    )
    engine, task_key = started(one_task(mappings))
    assert engine.user_task_inputs(task_key) == ["decision", "total", "seen"]
    plain, bare_key = started(one_task())
    assert plain.user_task_inputs(bare_key) == []
    with pytest.raises(NotFoundError):
        plain.user_task_inputs(123456789)


def test_user_task_variables_are_those_its_scope_sees() -> None:
    mappings = (
        '<zeebe:ioMapping><zeebe:input source="=amount * 2" target="doubled"/></zeebe:ioMapping>'
    )
    engine, task_key = started(one_task(mappings), {"amount": 5, "who": "ada"})
    assert engine.user_task_variables(task_key) == {"amount": 5, "who": "ada", "doubled": 10}
    assert engine.user_task_variables(task_key, local=True) == {"doubled": 10}
    with pytest.raises(NotFoundError):
        engine.user_task_variables(123456789)
