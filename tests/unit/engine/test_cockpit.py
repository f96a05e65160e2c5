"""The cockpit's queries: instance search and paging, element statistics, instance detail,
incident groups, decision evaluations, process versions, and the tables behind them rebuilt
from the history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bpmn_helpers import CREDIT_DMN, chain, process, service
from legato import InvalidCommandError, NotFoundError
from legato.runtime.retention import sweep_ended_instances
from legato.testing import TestEngine

WORK = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge")
    + '<bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "charge", "review", "e")
)

CALLER = process(
    '<bpmn:startEvent id="s"/><bpmn:callActivity id="call"><bpmn:extensionElements>'
    '<zeebe:calledElement processId="p"/></bpmn:extensionElements></bpmn:callActivity>'
    '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"),
    process_id="caller",
)

DMN = CREDIT_DMN


DECIDE = process(
    '<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="decide"><bpmn:extensionElements>'
    '<zeebe:calledDecision decisionId="approval" resultVariable="route"/>'
    '</bpmn:extensionElements></bpmn:businessRuleTask><bpmn:endEvent id="e"/>'
    + chain("s", "decide", "e"),
    process_id="decider",
)


def _work_engine() -> TestEngine:
    engine = TestEngine()
    engine.deploy(WORK)
    return engine


def _finish_charge(engine: TestEngine, instance_key: int) -> None:
    [job] = engine.jobs(instance_key=instance_key)
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.complete_job(job.job_key)


def _fail_charge(engine: TestEngine, instance_key: int, message: str) -> None:
    [job] = engine.jobs(instance_key=instance_key)
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.fail_job(job.job_key, message, retries=0)


def _all_pages(engine: TestEngine, limit: int, **filters: object) -> list[int]:
    keys: list[int] = []
    after = None
    while True:
        page = engine.search_instances(after=after, limit=limit, **filters)  # type: ignore[arg-type]
        keys += [info.key for info in page.instances]
        if page.next_cursor is None:
            return keys
        after = page.next_cursor


def test_pages_cover_every_instance_once_newest_first() -> None:
    engine = _work_engine()
    keys = []
    for index in range(23):
        keys.append(engine.start("p", {"n": index}).key)
        if index % 5 == 0:
            engine.clock.advance(timedelta(seconds=1))  # ties on the start time, and not

    paged = _all_pages(engine, 4)

    newest_first = [
        i.key
        for i in sorted(
            (engine.instance(k) for k in keys), key=lambda i: (i.started_at, i.key), reverse=True
        )
    ]
    assert paged == newest_first
    first = engine.search_instances(limit=4, with_count=True)
    assert first.count is not None and (first.count.count, first.count.capped) == (23, False)
    assert first.count.label == "23"
    capped = engine.search_instances(limit=4, with_count=True, count_cap=10)
    assert capped.count is not None and capped.count.label == "10+"
    last = engine.search_instances(limit=23)
    assert last.next_cursor is None and len(last.instances) == 23


def test_filters_find_what_they_name() -> None:
    engine = _work_engine()
    engine.deploy(WORK.replace('id="review"', 'id="review" name="v2"'))
    done = engine.start("p", {"tier": "gold", "score": 800}, version=1, business_key="b-1")
    _finish_charge(engine, done.key)
    [task] = engine.user_tasks(instance_key=done.key)
    engine.clock.advance(timedelta(minutes=5))
    engine.complete_user_task(task.user_task_key)
    engine.clock.advance(timedelta(minutes=5))
    stuck = engine.start("p", {"tier": "gold", "score": 800.0, "big": "x" * 300})
    _fail_charge(engine, stuck.key, "card declined")
    waiting = engine.start("p", {"tier": "silver", "flag": True})
    cancelled = engine.start("p", {"tier": "gold"})
    engine.cancel(cancelled.key)

    def found(**filters: object) -> set[int]:
        return set(_all_pages(engine, 2, **filters))

    assert found(status="completed") == {done.key}
    assert found(status="terminated") == {cancelled.key}
    assert found(status="active") == {stuck.key, waiting.key}
    assert found(status="incident") == {stuck.key}
    assert found(version=1) == {done.key}
    assert found(process_id="p", version=2) == {stuck.key, waiting.key, cancelled.key}
    assert found(process_id="other") == set()
    assert found(business_key="b-1") == {done.key}
    assert found(variable=("tier", "gold")) == {done.key, stuck.key, cancelled.key}
    assert found(variable=("tier", "gold"), status="active") == {stuck.key}
    assert found(variable=("score", 800)) == {done.key, stuck.key}  # 800.0 is 800
    assert found(variable=("flag", True)) == {waiting.key}
    assert found(variable=("flag", 1)) == set()
    start = done.started_at
    assert found(started_from=start, started_before=start + timedelta(minutes=1)) == {done.key}
    assert found(started_from=start + timedelta(minutes=1)) == {
        stuck.key,
        waiting.key,
        cancelled.key,
    }
    ended = engine.instance(done.key).ended_at
    assert ended is not None
    assert found(ended_from=ended) == {done.key, cancelled.key}
    assert found(ended_before=ended + timedelta(seconds=1)) == {done.key}


def test_a_changed_variable_is_found_by_its_new_value_only() -> None:
    engine = _work_engine()
    instance = engine.start("p", {"tier": "gold"})
    engine.set_variables(instance.key, {"tier": "silver"})
    assert _all_pages(engine, 10, variable=("tier", "gold")) == []
    assert _all_pages(engine, 10, variable=("tier", "silver")) == [instance.key]
    engine.set_variables(instance.key, {"tier": {"level": 1}})  # not indexed any more
    assert _all_pages(engine, 10, variable=("tier", "silver")) == []


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (
            {"status": "bogus"},
            "status must be one of active, completed, terminated, suspended, incident",
        ),
        ({"after": "not-a-cursor"}, "after is not a cursor"),
        ({"after": "WzFd"}, "after is not a cursor"),
        ({"limit": 0}, "limit must be 1 to 500"),
        ({"limit": 501}, "limit must be 1 to 500"),
        ({"variable": ("tier", {"a": 1})}, "variable must be a name and a string"),
        ({"variable": ("tier", "x" * 300)}, "variable must be a name and a string"),
        ({"count_cap": 0}, "count_cap must be at least 1"),
        ({"started_from": datetime(2026, 1, 1)}, "started_from must be an aware datetime"),
        ({"version": "1"}, "version"),
    ],
)
def test_bad_search_arguments_are_refused_naming_the_argument(
    arguments: dict[str, object], named: str
) -> None:
    engine = _work_engine()
    with pytest.raises(InvalidCommandError, match=named):
        engine.search_instances(**arguments)  # type: ignore[arg-type]


def test_element_statistics_follow_completions_incidents_and_cancellation() -> None:
    engine = _work_engine()
    first, second, third = (engine.start("p").key for _ in range(3))
    _finish_charge(engine, first)
    _fail_charge(engine, second, "card declined")

    def stats() -> dict[str, tuple[int, int, int, int]]:
        return {
            s.element_id: (s.active, s.completed, s.terminated, s.incidents)
            for s in engine.element_statistics("p")
        }

    assert stats() == {
        "s": (0, 3, 0, 0),
        "charge": (2, 1, 0, 1),
        "review": (1, 0, 0, 0),
    }
    engine.cancel(second)
    engine.cancel(third)
    assert stats() == {
        "s": (0, 3, 0, 0),
        "charge": (0, 1, 2, 0),
        "review": (1, 0, 0, 0),
    }
    [task] = engine.user_tasks(instance_key=first)
    engine.complete_user_task(task.user_task_key)
    assert stats()["review"] == (0, 1, 0, 0)
    assert stats()["e"] == (0, 1, 0, 0)
    assert engine.element_statistics("p", 1) == engine.element_statistics("p")
    with pytest.raises(NotFoundError):
        engine.element_statistics("p", 2)
    with pytest.raises(NotFoundError):
        engine.element_statistics("nothing")


def test_process_versions_count_their_active_instances_and_open_incidents() -> None:
    engine = _work_engine()
    engine.deploy(WORK.replace('id="review"', 'id="review" name="v2"'))
    engine.start("p", version=1)
    stuck = engine.start("p").key
    engine.start("p")
    _fail_charge(engine, stuck, "card declined")
    engine.deploy(DMN)

    versions = engine.process_definitions()

    assert [(v.process_id, v.version, v.active_instances, v.open_incidents) for v in versions] == [
        ("p", 1, 1, 0),
        ("p", 2, 2, 1),
    ]


def test_the_detail_of_an_instance_shows_its_path_calls_and_incidents() -> None:
    engine = _work_engine()
    engine.deploy(CALLER)
    caller = engine.start("caller")
    [child] = engine.search_instances(parent_instance_key=caller.key).instances
    _fail_charge(engine, child.key, "card declined after 3 tries")

    detail = engine.instance_detail(child.key)
    path = engine.instance_path(child.key)

    assert detail.calling is not None and detail.calling.key == caller.key
    assert detail.path == path
    assert path.completed_elements == ("s",)
    assert path.active_elements == ("charge",)
    assert path.taken_flows == ("f_s_charge",)
    assert path.visits == {"s": 1, "charge": 1}
    [incident] = detail.incidents
    assert incident.message == "card declined after 3 tries" and incident.state == "open"
    parent = engine.instance_detail(caller.key)
    assert [c.key for c in parent.called] == [child.key] and parent.calling is None
    assert parent.path.active_elements == ("call",)
    with pytest.raises(NotFoundError):
        engine.instance_detail(999_999)


def test_incidents_are_grouped_by_cause_with_numbers_and_ids_alike() -> None:
    engine = _work_engine()
    keys = [engine.start("p").key for _ in range(5)]
    _fail_charge(
        engine, keys[0], "card 4242 declined (request 9f1c2e4a-1b2c-4d5e-8f90-aabbccddeeff)"
    )
    _fail_charge(
        engine, keys[1], "card 1111 declined (request 0a1b2c3d-1b2c-4d5e-8f90-aabbccddeeff)"
    )
    _fail_charge(engine, keys[2], "card 7 declined (request 11111111-2222-4333-8444-555555555555)")
    _fail_charge(engine, keys[3], "gateway timeout")

    groups = engine.incident_groups()

    assert [(g.message, g.count) for g in groups] == [
        ("card <n> declined (request <id>)", 3),
        ("gateway timeout", 1),
    ]
    assert {(g.process_id, g.element_id, g.error_type) for g in groups} == {
        ("p", "charge", "job_failed")
    }
    first = engine.group_incidents(groups[0].key, limit=2)
    assert first.next_cursor is not None
    rest = engine.group_incidents(groups[0].key, after=first.next_cursor, limit=2)
    assert rest.next_cursor is None
    paged = [i.instance_key for i in [*first.incidents, *rest.incidents]]
    assert sorted(paged) == sorted(keys[:3]) and len(set(paged)) == 3
    with pytest.raises(InvalidCommandError, match="group is not a cursor"):
        engine.group_incidents("nonsense")
    with pytest.raises(InvalidCommandError, match="limit must be 1 to 500"):
        engine.group_incidents(groups[0].key, limit=0)


def test_decision_evaluations_are_listed_newest_first_with_the_matched_rules() -> None:
    engine = TestEngine()
    engine.deploy(DMN)
    engine.deploy(DECIDE)
    keys = []
    for score in (800, 600, 750):
        keys.append(engine.start("decider", {"score": score}).key)
        engine.clock.advance(timedelta(seconds=1))

    first = engine.decision_evaluations("approval", limit=2)
    rest = engine.decision_evaluations("approval", after=first.next_cursor, limit=2)

    listed = [*first.evaluations, *rest.evaluations]
    assert [e.instance_key for e in listed] == keys[::-1]
    assert [e.matched_rules for e in listed] == [("auto",), ("manual",), ("auto",)]
    assert [e.result for e in listed] == ["approve", "manager", "approve"]
    assert {(e.decision_id, e.decision_version, e.element_id) for e in listed} == {
        ("approval", 1, "decide")
    }
    assert rest.next_cursor is None
    [version] = engine.decision_definitions()
    assert (version.decision_id, version.version, version.name) == ("approval", 1, "Approval")
    assert "decisionTable" in version.source
    assert engine.decision_evaluations("other").evaluations == []
    with pytest.raises(InvalidCommandError, match="after is not a cursor"):
        engine.decision_evaluations("approval", after="WzEsMl0")


def test_the_tables_rebuilt_from_history_equal_the_ones_kept_live() -> None:
    engine = _work_engine()
    engine.deploy(DMN)
    engine.deploy(DECIDE)
    keys = [
        engine.start("p", {"tier": "gold" if i % 2 else "silver", "n": i}).key for i in range(6)
    ]
    _finish_charge(engine, keys[0])
    _fail_charge(engine, keys[1], "card declined")
    engine.cancel(keys[2])
    engine.set_variables(keys[3], {"tier": "bronze"})
    engine.start("decider", {"score": 720})

    def snapshot() -> object:
        return (
            engine.element_statistics("p"),
            engine.element_statistics("decider"),
            engine.process_definitions(),
            [
                _all_pages(engine, 3, variable=("tier", tier))
                for tier in ("gold", "silver", "bronze")
            ],
            _all_pages(engine, 3, variable=("n", 4)),
            engine.decision_evaluations("approval"),
        )

    live = snapshot()
    assert engine.rebuild_derived() == 7
    assert snapshot() == live


def test_retention_removes_the_rows_derived_from_an_instance() -> None:
    engine = TestEngine()
    engine.deploy(DMN)
    engine.deploy(DECIDE)
    done = engine.start("decider", {"score": 720})
    assert len(engine.decision_evaluations("approval").evaluations) == 1
    engine.clock.advance(timedelta(days=2))

    report = sweep_ended_instances(engine.store, timedelta(days=1), now=engine.clock.now())

    assert report.deleted == 1
    assert engine.decision_evaluations("approval").evaluations == []
    assert engine.search_instances(variable=("score", 720)).instances == []
    with pytest.raises(NotFoundError):
        engine.instance(done.key)
