"""Token semantics: sequences, gateways, sub-processes, end events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bpmn_helpers import chain, flow, process, service
from legato.testing import TestEngine


def _engine(xml: str) -> TestEngine:
    engine = TestEngine()
    engine.deploy(xml)
    return engine


def test_sequence_of_tasks_completes_in_order() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:task id="a"/><bpmn:manualTask id="b"/>'
            '<bpmn:endEvent id="e"/>' + chain("s", "a", "b", "e")
        )
    )
    instance = engine.start("p")
    engine.assert_that(instance).is_completed()
    assert engine.path(instance) == ["s", "a", "b", "e"]


EXCLUSIVE = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:exclusiveGateway id="gw" default="f_default"/>'
    '<bpmn:task id="high"/><bpmn:task id="mid"/><bpmn:task id="low"/><bpmn:endEvent id="e"/>'
    + flow("f0", "s", "gw")
    + flow("f_high", "gw", "high", "score > 700")
    + flow("f_mid", "gw", "mid", "score > 500")
    + flow("f_default", "gw", "low")
    + chain("high", "e", prefix="h")
    + chain("mid", "e", prefix="m")
    + chain("low", "e", prefix="l")
)


@pytest.mark.parametrize(
    ("score", "taken", "not_taken"),
    [(800, "high", ["mid", "low"]), (600, "mid", ["high", "low"]), (100, "low", ["high", "mid"])],
)
def test_exclusive_gateway_takes_first_true_condition_else_default(
    score: int, taken: str, not_taken: list[str]
) -> None:
    engine = _engine(EXCLUSIVE)
    instance = engine.start("p", {"score": score})
    engine.assert_that(instance).is_completed().has_passed(taken).has_not_passed(*not_taken)


def test_exclusive_gateway_without_match_or_default_raises_incident_that_retry_fixes() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw"/>'
        '<bpmn:task id="a"/><bpmn:task id="b"/><bpmn:endEvent id="e"/>'
        + flow("f0", "s", "gw")
        + flow("f1", "gw", "a", "x > 1")
        + flow("f2", "gw", "b", "x < -1")
        + chain("a", "e")
        + chain("b", "e", prefix="g")
    )
    engine = _engine(xml)
    instance = engine.start("p", {"x": 0})
    engine.assert_that(instance).is_active().has_incident("gw")
    [incident] = engine.incidents()
    assert incident.error_type == "condition"
    assert "gw" in incident.message
    engine.retry(incident.incident_key, variables={"x": 5})
    engine.assert_that(instance).is_completed().has_passed("a")
    assert engine.incidents() == []
    assert engine.incidents(state="resolved")[0].incident_key == incident.incident_key


def test_condition_on_missing_variable_is_an_incident_naming_the_flow() -> None:
    engine = _engine(EXCLUSIVE)
    instance = engine.start("p", {})
    [incident] = engine.incidents(instance_key=instance.key)
    assert "f_high" in incident.message
    assert "score" in incident.message


def test_parallel_gateway_forks_and_joins_once() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        + service("a", "work")
        + service("b", "work")
        + '<bpmn:parallelGateway id="join"/><bpmn:task id="after"/><bpmn:endEvent id="e"/>'
        + chain("s", "fork")
        + flow("fa", "fork", "a")
        + flow("fb", "fork", "b")
        + flow("aj", "a", "join")
        + flow("bj", "b", "join")
        + chain("join", "after", "e")
    )
    engine = _engine(xml)
    engine.register("work", lambda job: {job.element_id: True})
    instance = engine.start("p")
    engine.assert_that(instance).is_active().is_waiting_at("a", "b")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(a=True, b=True)
    assert engine.path(instance).count("after") == 1
    assert engine.path(instance).count("join") == 1


def test_parallel_gateway_ignores_conditions_on_outgoing_flows() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        '<bpmn:task id="a"/><bpmn:task id="b"/>'
        + chain("s", "fork")
        + flow("fa", "fork", "a", "false")
        + flow("fb", "fork", "b")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed("a", "b")


INCLUSIVE = process(
    '<bpmn:startEvent id="s"/><bpmn:inclusiveGateway id="split" default="fd"/>'
    + service("a", "work")
    + service("b", "work")
    + '<bpmn:task id="d"/>'
    '<bpmn:inclusiveGateway id="merge"/><bpmn:task id="after"/><bpmn:endEvent id="e"/>'
    + chain("s", "split")
    + flow("fa", "split", "a", 'contains(test, "a")')
    + flow("fb", "split", "b", 'contains(test, "b")')
    + flow("fd", "split", "d")
    + flow("am", "a", "merge")
    + flow("bm", "b", "merge")
    + flow("dm", "d", "merge")
    + chain("merge", "after", "e")
)


@pytest.mark.parametrize(
    ("test", "branches"), [("a", {"a"}), ("b", {"b"}), ("ab", {"a", "b"}), ("c", {"d"})]
)
def test_inclusive_gateway_joins_exactly_the_branches_started(
    test: str, branches: set[str]
) -> None:
    engine = _engine(INCLUSIVE)
    engine.register("work", lambda job: None)
    instance = engine.start("p", {"test": test})
    if branches & {"a", "b"}:
        engine.assert_that(instance).is_active()
        assert "after" not in engine.path(instance)
    engine.run_until_idle()
    engine.assert_that(instance).is_completed()
    path = engine.path(instance)
    assert {e for e in ("a", "b", "d") if e in path} == branches
    assert path.count("after") == 1


def test_inclusive_join_waits_for_a_branch_still_running_behind_another_task() -> None:
    engine = _engine(INCLUSIVE)
    done: list[str] = []
    engine.register("work", lambda job: done.append(job.element_id))
    instance = engine.start("p", {"test": "ab"})
    engine.run_once()
    assert sorted(done) == ["a", "b"]
    engine.assert_that(instance).is_completed()
    assert engine.path(instance).count("merge") == 1


def test_uncontrolled_merge_runs_the_following_task_per_token() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        '<bpmn:task id="a"/><bpmn:task id="b"/><bpmn:task id="c"/><bpmn:endEvent id="e"/>'
        + chain("s", "fork")
        + flow("fa", "fork", "a")
        + flow("fb", "fork", "b")
        + flow("ac", "a", "c")
        + flow("bc", "b", "c")
        + chain("c", "e")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed()
    assert engine.path(instance).count("c") == 2
    assert engine.path(instance).count("e") == 2


def test_embedded_sub_process_runs_its_own_scope_and_variables() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:subProcess id="sub"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="=10" target="local"/></zeebe:ioMapping></bpmn:extensionElements>'
        '<bpmn:startEvent id="sub_s"/>'
        '<bpmn:scriptTask id="calc"><bpmn:extensionElements>'
        '<zeebe:script expression="=local * 2" resultVariable="doubled"/></bpmn:extensionElements>'
        "</bpmn:scriptTask>"
        '<bpmn:endEvent id="sub_e"/>'
        + chain("sub_s", "calc", "sub_e", prefix="i")
        + "</bpmn:subProcess>"
        '<bpmn:endEvent id="e"/>' + chain("s", "sub", "e")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed_in_order(
        "sub_s", "calc", "sub_e", "sub", "e"
    )
    info = engine.instance(instance.key)
    assert info.variables == {"doubled": Decimal(20)}
    assert "local" not in info.variables


def test_terminate_end_event_ends_the_other_branches() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        + service("slow", "slow")
        + '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>'
        + chain("s", "fork")
        + flow("f1", "fork", "slow")
        + flow("f2", "fork", "stop")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_not_passed("slow")
    assert engine.jobs() == []
    assert any(h.event_type == "JobCanceled" for h in engine.history(instance.key))


def test_script_task_result_variable_and_manual_task() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:scriptTask id="sc" scriptFormat="feel"><bpmn:script>'
        'upper case(name) + "!"</bpmn:script></bpmn:scriptTask>'
        '<bpmn:endEvent id="e"/>' + chain("s", "sc", "e")
    )
    engine = _engine(
        xml.replace(
            'scriptFormat="feel"',
            'scriptFormat="feel"'
            ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
            ' camunda:resultVariable="shout"',
        )
    )
    instance = engine.start("p", {"name": "ada"})
    engine.assert_that(instance).is_completed().has_variables(shout="ADA!")


def test_link_events_jump_within_the_scope() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:intermediateThrowEvent id="go"><bpmn:linkEventDefinition name="L"/>'
        "</bpmn:intermediateThrowEvent>"
        '<bpmn:intermediateCatchEvent id="land"><bpmn:linkEventDefinition name="L"/>'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:task id="t"/><bpmn:endEvent id="e"/>' + chain("s", "go") + chain("land", "t", "e")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed_in_order("go", "land", "t", "e")
