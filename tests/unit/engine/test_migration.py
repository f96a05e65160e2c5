"""Migrating running instances to another process version: the plan, the check of each
instance against its real state, and the move (every store: see ``conftest.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import JobRequest, MigrationError, NotFoundError
from legato.testing import TestEngine

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

REVIEW = '<bpmn:userTask id="review" name="Review application"/>'
V1 = process(
    '<bpmn:startEvent id="s"/>' + REVIEW + '<bpmn:endEvent id="e"/>' + chain("s", "review", "e")
)
REMINDED = process(
    '<bpmn:startEvent id="s"/>'
    + REVIEW
    + '<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
    "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    + service("nudge", "nudge")
    + '<bpmn:endEvent id="e"/><bpmn:endEvent id="nudged"/>'
    + chain("s", "review", "e")
    + flow("f_remind", "remind", "nudge")
    + flow("f_nudge", "nudge", "nudged")
)
RENAMED = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="approve" name="Approve"/>'
    '<bpmn:endEvent id="e"/>' + chain("s", "approve", "e")
)
AUTOMATED = process(
    '<bpmn:startEvent id="s"/>' + service("review", "score") + '<bpmn:endEvent id="e"/>'
    + chain("s", "review", "e")
)  # fmt: skip


def _charge(job_type: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/>' + service("charge", job_type) + '<bpmn:endEvent id="e"/>'
        + chain("s", "charge", "e")
    )  # fmt: skip


def _timer(duration: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait">'
        f"<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration>"
        '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
        + chain("s", "wait", "e")
    )


def _message(correlation: str, end: str = "e") -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="paid">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>'
        f'<bpmn:endEvent id="{end}"/>' + chain("s", "paid", end),
        extra='<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
        f'<zeebe:subscription correlationKey="{correlation}"/></bpmn:extensionElements>'
        "</bpmn:message>",
    )


def _join(second_flow: str) -> str:
    """A fork whose branches meet at the join ``j``: ``a`` by ``f_a_j``, ``b`` by
    ``second_flow``."""
    return process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        + service("a", "a")
        + service("b", "b")
        + '<bpmn:parallelGateway id="j"/><bpmn:endEvent id="e"/>'
        + chain("s", "fork")
        + flow("f_fork_a", "fork", "a")
        + flow("f_fork_b", "fork", "b")
        + flow("f_a_j", "a", "j")
        + flow(second_flow, "b", "j")
        + chain("j", "e")
    )


def _deployed(*models: str) -> TestEngine:
    engine = TestEngine()
    for model in models:
        engine.deploy(model)
    return engine


def _user_task(engine: TestEngine, instance_key: int) -> int:
    [task] = engine.user_tasks(instance_key=instance_key)
    return task.user_task_key


def _events(engine: TestEngine, key: int, event_type: str) -> list[dict[str, object]]:
    return [e.details for e in engine.history(key) if e.event_type == event_type]


def test_a_waiting_user_task_moves_with_its_claim_and_gains_the_new_reminder() -> None:
    engine = _deployed(V1, REMINDED)
    instance = engine.start("p", version=1)
    task_key = _user_task(engine, instance.key)
    engine.claim_user_task(task_key, "ann")
    plan = engine.migration_plan("p", 1, 2)
    [check] = engine.check_migration(plan, [instance.key])
    assert check.ok and check.reason is None
    assert "the token at 'review' stays at 'review'" in check.changes
    assert any("timer 'remind'" in change for change in check.changes)
    assert engine.instance(instance.key).version == 1  # a check changes nothing
    assert engine.migrate(plan, [instance.key], by="olga") == [instance.key]
    assert engine.instance(instance.key).version == 2
    task = engine.user_task(task_key)
    assert (task.assignee, task.process_version, task.name) == ("ann", 2, "Review application")
    [migrated] = _events(engine, instance.key, "InstanceMigrated")
    assert (migrated["version"], migrated["by"]) == (2, "olga")
    engine.clock.advance(HOUR)
    engine.fire_due_timers()
    [job] = engine.fetch_jobs([JobRequest("nudge", MINUTE)], worker="w", max_jobs=5)
    assert job.instance_key == instance.key
    engine.complete_job(job.key, worker="w")
    engine.complete_user_task(task_key, {}, user="ann")
    engine.assert_that(instance).is_completed().has_passed("remind", "nudge", "review")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_job_keeps_its_key_and_takes_the_new_type() -> None:
    engine = _deployed(_charge("charge"), _charge("charge-v2"))
    instance = engine.start("p", version=1)
    [before] = engine.jobs(instance_key=instance.key)
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    [after] = engine.jobs(instance_key=instance.key)
    assert (after.job_key, after.job_type) == (before.job_key, "charge-v2")
    assert engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w", max_jobs=5) == []
    [job] = engine.fetch_jobs([JobRequest("charge-v2", MINUTE)], worker="w", max_jobs=5)
    assert job.key == before.job_key  # the idempotency key handlers saw stays the same
    engine.complete_job(job.key, worker="w")
    engine.assert_that(instance).is_completed()
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_an_element_with_no_counterpart_is_refused_until_it_is_mapped() -> None:
    engine = _deployed(V1, RENAMED)
    instance = engine.start("p", version=1)
    task_key = _user_task(engine, instance.key)
    plan = engine.migration_plan("p", 1, 2)
    [check] = engine.check_migration(plan, [instance.key])
    assert not check.ok
    assert check.reason is not None
    assert "'Review application' (review) has no counterpart in version 2" in check.reason
    with pytest.raises(MigrationError) as refused:
        engine.migrate(plan, [instance.key])
    assert refused.value.problems == {instance.key: check.reason}
    assert engine.instance(instance.key).version == 1
    mapped = engine.migration_plan("p", 1, 2, {"review": "approve"})
    engine.migrate(mapped, [instance.key])
    assert engine.user_task(task_key).element_id == "approve"
    engine.complete_user_task(task_key, {})
    engine.assert_that(instance).is_completed().has_passed("approve")


def test_one_instance_that_does_not_fit_moves_none() -> None:
    engine = _deployed(V1, RENAMED)
    waiting = engine.start("p", version=1)
    done = engine.start("p", version=1)
    engine.complete_user_task(_user_task(engine, done.key), {})
    plan = engine.migration_plan("p", 1, 2, {"review": "approve"})
    checks = engine.check_migration(plan, [waiting.key, done.key, 999])
    assert [c.ok for c in checks] == [True, False, False]
    assert checks[1].reason == f"instance {done.key} is completed"
    assert checks[2].reason is not None and "999" in checks[2].reason
    with pytest.raises(MigrationError, match="nothing was migrated"):
        engine.migrate(plan, [waiting.key, done.key])
    assert engine.instance(waiting.key).version == 1


def test_an_element_cannot_change_its_kind() -> None:
    engine = _deployed(V1, AUTOMATED)
    instance = engine.start("p", version=1)
    [check] = engine.check_migration(engine.migration_plan("p", 1, 2), [instance.key])
    assert check.reason is not None
    assert "is a userTask" in check.reason and "a serviceTask" in check.reason


def test_a_plan_naming_unknown_elements_or_versions_is_refused() -> None:
    engine = _deployed(V1, RENAMED)
    with pytest.raises(MigrationError, match="source element 'nope'"):
        engine.migration_plan("p", 1, 2, {"nope": "approve"})
    with pytest.raises(MigrationError, match="target element 'nope'"):
        engine.migration_plan("p", 1, 2, {"review": "nope"})
    with pytest.raises(NotFoundError, match="no version 3"):
        engine.migration_plan("p", 1, 3)
    with pytest.raises(MigrationError, match="variable 'x'"):
        engine.migration_plan("p", 1, 2, {"review": "approve"}, variables={"x": "1 +"})


def test_a_join_that_would_wait_for_ever_is_refused() -> None:
    engine = _deployed(_join("f_b_j"), _join("f_b_j2"))
    instance = engine.start("p", version=1)
    [job_a] = engine.fetch_jobs([JobRequest("a", MINUTE)], worker="w", max_jobs=5)
    engine.complete_job(job_a.key, worker="w")  # a token waits at the join, by f_a_j
    plan = engine.migration_plan("p", 1, 2)
    assert engine.check_migration(plan, [instance.key])[0].ok  # f_a_j leads to j in v2 too
    engine2 = _deployed(_join("f_b_j"), _join("f_b_j").replace('"f_a_j"', '"f_a_j2"'))
    other = engine2.start("p", version=1)
    [job] = engine2.fetch_jobs([JobRequest("a", MINUTE)], worker="w", max_jobs=5)
    engine2.complete_job(job.key, worker="w")
    [check] = engine2.check_migration(engine2.migration_plan("p", 1, 2), [other.key])
    assert check.reason is not None and "would wait for ever" in check.reason
    assert "'f_a_j'" in check.reason
    engine.migrate(plan, [instance.key])
    [job_b] = engine.fetch_jobs([JobRequest("b", MINUTE)], worker="w", max_jobs=5)
    engine.complete_job(job_b.key, worker="w")
    engine.assert_that(instance).is_completed()


def test_a_message_wait_whose_correlation_key_changes_is_refused() -> None:
    engine = _deployed(_message("=order"), _message("=customer"))
    instance = engine.start("p", version=1, variables={"order": "o-1", "customer": "c-1"})
    [check] = engine.check_migration(engine.migration_plan("p", 1, 2), [instance.key])
    assert check.reason is not None
    assert "computes it as '=customer'" in check.reason


def test_a_message_wait_moves_and_is_still_correlated() -> None:
    engine = _deployed(_message("=order"), _message("=order", end="done"))
    instance = engine.start("p", version=1, variables={"order": "o-1"})
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    engine.publish_message("paid", correlation_key="o-1")
    engine.assert_that(instance).is_completed().has_passed("done")


def test_a_timer_keeps_its_due_time_unless_the_plan_renews_it() -> None:
    engine = _deployed(_timer("PT2H"), _timer("PT5H"))
    kept = engine.start("p", version=1)
    renewed = engine.start("p", version=1)
    engine.clock.advance(HOUR)
    engine.migrate(engine.migration_plan("p", 1, 2), [kept.key])
    engine.migrate(engine.migration_plan("p", 1, 2, recreate_timers=True), [renewed.key])
    engine.clock.advance(HOUR)
    engine.fire_due_timers()
    engine.assert_that(kept).is_completed()
    engine.assert_that(renewed).is_waiting_at("wait")
    engine.clock.advance(4 * HOUR)
    engine.fire_due_timers()
    engine.assert_that(renewed).is_completed()
    assert engine.replay(kept.key) == engine.state(kept.key)


def test_a_boundary_timer_the_target_drops_stops_waiting() -> None:
    engine = _deployed(REMINDED, V1)
    instance = engine.start("p", version=1)
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    assert engine.state(instance.key).timers == {}
    engine.clock.advance(2 * HOUR)
    assert engine.fire_due_timers() == 0
    engine.complete_user_task(_user_task(engine, instance.key), {})
    engine.assert_that(instance).is_completed().has_not_passed("remind")


def test_the_plan_sets_variables_from_feel() -> None:
    engine = _deployed(V1, REMINDED)
    instance = engine.start("p", version=1, variables={"amount": 40})
    plan = engine.migration_plan("p", 1, 2, variables={"fee": "amount * 2"})
    engine.migrate(plan, [instance.key])
    engine.assert_that(instance).has_variables(amount=40, fee=80)


def test_an_instance_of_another_version_is_not_migrated() -> None:
    engine = _deployed(V1, REMINDED)
    instance = engine.start("p", version=2)
    [check] = engine.check_migration(engine.migration_plan("p", 1, 2), [instance.key])
    assert check.reason is not None and "runs version 2" in check.reason


def _counts(engine: TestEngine, version: int) -> dict[str, tuple[int, int, int, int]]:
    """The element counts of a version (an element whose counts are all 0 is left out)."""
    counts = {
        s.element_id: (s.active, s.completed, s.terminated, s.incidents)
        for s in engine.element_statistics("p", version)
    }
    return {element: row for element, row in counts.items() if any(row)}


def test_the_cockpit_counts_and_an_open_incident_move_with_the_instance() -> None:
    engine = _deployed(_charge("charge"), _charge("charge") + "<!-- version 2 -->")
    instance = engine.start("p", version=1)
    [job] = engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w", max_jobs=5)
    engine.fail_job(job.key, "card declined", worker="w", retries=0)
    [incident] = engine.incidents(instance_key=instance.key)
    assert _counts(engine, 1)["charge"] == (1, 0, 0, 1)
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    assert "charge" not in _counts(engine, 1)
    assert _counts(engine, 2)["charge"] == (1, 0, 0, 1)
    versions = {v.version: v.active_instances for v in engine.process_definitions()}
    assert versions == {1: 0, 2: 1}
    engine.retry(incident.incident_key)
    assert _counts(engine, 2)["charge"] == (1, 0, 0, 0)
    before = (_counts(engine, 1), _counts(engine, 2))
    engine.rebuild_derived()  # the counts derived from the history again say the same
    assert (_counts(engine, 1), _counts(engine, 2)) == before
    [job] = engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w", max_jobs=5)
    engine.complete_job(job.key, worker="w")
    engine.assert_that(instance).is_completed()
    assert incident.element_id == "charge"
