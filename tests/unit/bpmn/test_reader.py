"""Reading BPMN 2.0 XML into the executable model."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from legato.bpmn import load_for_deployment, read_bpmn
from legato.errors import BpmnParseError, BpmnValidationError
from legato.model import (
    AdHocSubProcess,
    BoundaryEvent,
    BusinessRuleTask,
    CallActivity,
    CancelEventDefinition,
    CompensateEventDefinition,
    ComplexGateway,
    ConditionalEventDefinition,
    EndEvent,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventBasedGateway,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    LinkEventDefinition,
    ManualTask,
    MessageEventDefinition,
    MultiInstanceLoop,
    ParallelGateway,
    ProcessDefinition,
    ReceiveTask,
    RetryPolicy,
    ScriptTask,
    SendTask,
    ServiceTask,
    SignalEventDefinition,
    StandardLoop,
    StartEvent,
    SubProcess,
    Task,
    TerminateEventDefinition,
    TimerEventDefinition,
    Transaction,
    UserTask,
)

_DEFAULT_ROOT = Path(__file__).resolve().parents[3].parent / "shared"
SHARED = Path(os.environ["LEGATO_CORPORA"]).parent if "LEGATO_CORPORA" in os.environ else None
ONBOARDING = (SHARED or _DEFAULT_ROOT) / "bench" / "onboarding.bpmn"

needs_onboarding = pytest.mark.skipif(
    not ONBOARDING.is_file(), reason=f"benchmark model not found at {ONBOARDING}"
)

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:legato="https://legato.dev/schema/bpmn/1.0"'
)


def document(body: str, roots: str = "", process_attributes: str = "") -> str:
    """A BPMN file with one process ``p`` holding ``body``, and root elements ``roots``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES} id="defs" '
        f'targetNamespace="http://example.org">\n{roots}\n'
        f'<bpmn:process id="p" isExecutable="true" {process_attributes}>\n{body}\n'
        "</bpmn:process>\n</bpmn:definitions>\n"
    )


def read_process(body: str, roots: str = "") -> ProcessDefinition:
    definitions = read_bpmn(document(body, roots))
    assert len(definitions.processes) == 1
    return definitions.processes[0]


def rules(process: ProcessDefinition) -> list[tuple[str, str | None]]:
    return [(issue.rule, issue.location.element_id) for issue in process.problems]


# ---------------------------------------------------------------------------------------------
# Documents, namespaces and errors


@needs_onboarding
def test_the_onboarding_benchmark_reads_into_its_structure() -> None:
    definitions = read_bpmn(ONBOARDING)

    process = definitions.process("onboarding")

    assert definitions.definitions_id == "Definitions_onboarding"
    assert process.name == "Onboarding benchmark" and process.problems == ()
    assert len(process.elements) == 12 and len(process.flows) == 13
    assert [e.element_id for e in process.elements.values() if isinstance(e, ServiceTask)] == [
        "A", "B", "C", "D", "E", "F"
    ]  # fmt: skip
    task = process.element("A")
    assert isinstance(task, ServiceTask) and task.job_type is not None
    assert task.job_type.evaluate({}) == "noop"
    gateway = process.element("gw_score")
    assert isinstance(gateway, ExclusiveGateway)
    assert gateway.default_flow == "f_gw_C" and gateway.outgoing == ("f_gw_B", "f_gw_C")
    condition = process.flow("f_gw_B").condition
    assert condition is not None
    assert condition.evaluate_boolean({"score": 800}) is True
    assert condition.evaluate_boolean({"score": 600}) is False
    assert isinstance(process.element("fork"), ParallelGateway)
    assert process.element("join").incoming == ("f_D_join", "f_E_join")
    assert process.element("start").line == 15 and process.flow("f_start_A").line == 83
    assert process.source_file == str(ONBOARDING)


@needs_onboarding
def test_the_onboarding_benchmark_can_be_deployed() -> None:
    definitions = load_for_deployment(ONBOARDING)

    assert [p.process_id for p in definitions.executable_processes] == ["onboarding"]


@pytest.mark.parametrize(
    "prefix", ["bpmn", "bpmn2", "semantic", "model", "b"], ids=lambda prefix: prefix
)
def test_any_prefix_of_the_bpmn_namespace_is_read(prefix: str) -> None:
    xml = (
        f'<{prefix}:definitions xmlns:{prefix}="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        f'<{prefix}:process id="p"><{prefix}:startEvent id="s"/><{prefix}:task id="t"/>'
        f'<{prefix}:sequenceFlow id="f" sourceRef="s" targetRef="t"/></{prefix}:process>'
        f"</{prefix}:definitions>"
    )

    process = read_bpmn(xml).process("p")

    assert isinstance(process.element("s"), StartEvent) and isinstance(process.element("t"), Task)
    assert process.element("t").incoming == ("f",)
    assert process.is_executable  # not marked at all


def test_a_default_namespace_file_is_read() -> None:
    xml = (
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
        '<process id="p" isExecutable="false"><userTask id="u"/></process></definitions>'
    )

    process = read_bpmn(xml.encode()).process("p")

    assert isinstance(process.element("u"), UserTask) and not process.is_executable


def test_elements_of_another_namespace_with_bpmn_names_are_not_bpmn() -> None:
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:other="http://example.org/not-bpmn"><bpmn:process id="p">'
        '<other:task id="x"/><bpmn:task id="t"/></bpmn:process></bpmn:definitions>'
    )

    process = read_bpmn(xml).process("p")

    assert list(process.elements) == ["t"] and process.problems == ()


def test_a_root_that_is_not_bpmn_definitions_is_refused() -> None:
    xml = (
        '<?xml version="1.0"?>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>'
    )

    with pytest.raises(BpmnParseError, match=r"not BPMN 2\.0 definitions") as caught:
        read_bpmn(xml)

    assert caught.value.location.line == 2


def test_malformed_xml_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.bpmn"
    path.write_text(document('<bpmn:task id="t">\n</bpmn:process>'))

    with pytest.raises(BpmnParseError, match="malformed XML") as caught:
        read_bpmn(path)

    assert caught.value.location.file == str(path)
    assert caught.value.location.line == 6
    assert f"{path}:6" in str(caught.value)


def test_entity_expansion_is_refused() -> None:
    billion_laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        "<bpmn:documentation>&lol2;</bpmn:documentation></bpmn:definitions>"
    )

    with pytest.raises(BpmnParseError, match="DOCTYPE") as caught:
        read_bpmn(billion_laughs)

    assert caught.value.location.line == 2


def test_a_file_of_25_megabytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.bpmn"
    padding = "<!-- " + "x" * (25 * 1024 * 1024) + " -->"
    path.write_text(document("", roots=padding))

    with pytest.raises(BpmnParseError, match="more than the limit"):
        read_bpmn(path)


def test_a_missing_file_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(BpmnParseError, match="cannot read"):
        read_bpmn(tmp_path / "nowhere.bpmn")


def test_every_process_of_a_collaboration_is_read_and_named_after_its_pool() -> None:
    roots = (
        '<bpmn:collaboration id="c"><bpmn:participant id="a" name="Pool A" processRef="p"/>'
        '<bpmn:participant id="b" name="Pool B" processRef="q"/>'
        '<bpmn:messageFlow id="m" sourceRef="a" targetRef="b"/></bpmn:collaboration>'
        '<bpmn:process id="q" name="Own name"><bpmn:task id="t2"/></bpmn:process>'
    )

    definitions = read_bpmn(document('<bpmn:task id="t1"/>', roots))

    assert [p.process_id for p in definitions.processes] == ["q", "p"]
    assert definitions.process("p").name == "Pool A"
    assert definitions.process("q").name == "Own name"


# ---------------------------------------------------------------------------------------------
# Structure: scopes, flows, boundary events, defaults


def test_sub_processes_are_scopes_at_every_depth() -> None:
    process = read_process(
        '<bpmn:subProcess id="outer"><bpmn:startEvent id="s1"/>'
        '<bpmn:subProcess id="inner"><bpmn:task id="deep"/></bpmn:subProcess>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s1" targetRef="inner"/></bpmn:subProcess>'
        '<bpmn:subProcess id="events" triggeredByEvent="true">'
        '<bpmn:startEvent id="es" isInterrupting="false"/></bpmn:subProcess>'
        '<bpmn:transaction id="tx"/>'
        '<bpmn:adHocSubProcess id="adhoc" ordering="Sequential">'
        "<bpmn:completionCondition>done</bpmn:completionCondition></bpmn:adHocSubProcess>"
    )

    assert process.element("outer").scope_id == "p"
    assert process.element("inner").scope_id == "outer"
    assert process.element("deep").scope_id == "inner"
    assert process.flow("f1").target_id == "inner"
    assert process.children["outer"] == ("s1", "inner")
    events = process.element("events")
    assert isinstance(events, SubProcess) and events.triggered_by_event
    start = process.element("es")
    assert isinstance(start, StartEvent) and not start.is_interrupting
    assert isinstance(process.element("tx"), Transaction)
    adhoc = process.element("adhoc")
    assert isinstance(adhoc, AdHocSubProcess) and adhoc.ordering == "Sequential"
    assert adhoc.completion_condition is not None
    assert adhoc.completion_condition.evaluate({"done": True}) is True


def test_boundary_events_are_attached_to_their_activity() -> None:
    process = read_process(
        '<bpmn:userTask id="work"/>'
        '<bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="false">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:boundaryEvent id="failed" attachedToRef="work">'
        "<bpmn:errorEventDefinition/></bpmn:boundaryEvent>"
    )

    late, failed = process.element("late"), process.element("failed")
    assert isinstance(late, BoundaryEvent) and isinstance(failed, BoundaryEvent)
    assert late.attached_to == "work" and not late.cancel_activity
    assert failed.cancel_activity
    assert process.element("work").boundary_events == ("late", "failed")  # type: ignore[attr-defined]
    assert failed.event_definitions == (ErrorEventDefinition(error_code=None),)


def test_a_boundary_event_on_no_activity_is_a_problem() -> None:
    process = read_process(
        '<bpmn:exclusiveGateway id="g"/>'
        '<bpmn:boundaryEvent id="b1" attachedToRef="g"/>'
        '<bpmn:boundaryEvent id="b2" attachedToRef="ghost"/>'
    )

    assert rules(process) == [("boundary-attachment", "b1"), ("boundary-attachment", "b2")]


def test_a_flow_to_a_missing_element_is_a_problem_naming_it() -> None:
    process = read_process(
        '<bpmn:startEvent id="s"/>\n<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="ghost"/>'
    )

    (issue,) = process.problems
    assert issue.rule == "flow-reference" and "ghost" in issue.message
    assert issue.location.element_id == "f" and issue.location.line == 6
    assert process.flows == {} and process.element("s").outgoing == ()


def test_a_flow_written_outside_its_scope_is_accepted_but_one_crossing_scopes_is_not() -> None:
    process = read_process(
        '<bpmn:subProcess id="sp"><bpmn:task id="a"/><bpmn:task id="b"/></bpmn:subProcess>'
        '<bpmn:task id="c"/>'
        '<bpmn:sequenceFlow id="inside" sourceRef="a" targetRef="b"/>'
        '<bpmn:sequenceFlow id="crossing" sourceRef="b" targetRef="c"/>'
    )

    assert list(process.flows) == ["inside"]
    assert rules(process) == [("flow-scope", "crossing")]


def test_default_flows_of_gateways_and_activities() -> None:
    process = read_process(
        '<bpmn:inclusiveGateway id="g" default="f2"/><bpmn:task id="t" default="f4"/>'
        '<bpmn:task id="x"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="t"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="x"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="x"/>'
    )

    assert isinstance(process.element("g"), InclusiveGateway)
    assert process.element("g").default_flow == "f2"
    assert process.element("t").default_flow is None
    assert rules(process) == [("default-flow", "t")]


def test_duplicate_ids_are_a_problem() -> None:
    process = read_process('<bpmn:task id="t"/><bpmn:manualTask id="t"/>')

    assert isinstance(process.element("t"), Task)
    assert rules(process) == [("duplicate-id", "t")]


def test_choreography_elements_make_a_process_non_executable() -> None:
    process = read_process('<bpmn:choreographyTask id="c"/><bpmn:task id="t"/>')

    assert rules(process) == [("unsupported-element", "c")]
    assert list(process.elements) == ["t"]


def test_artifacts_lanes_and_data_are_not_flow_elements() -> None:
    process = read_process(
        '<bpmn:laneSet id="ls"><bpmn:lane id="l"/></bpmn:laneSet>'
        '<bpmn:dataObject id="d"/><bpmn:textAnnotation id="a"/>'
        '<bpmn:property id="prop1" name="amount"/><bpmn:property id="prop2"/>'
    )

    assert process.elements == {} and process.problems == ()
    assert process.variables == ("amount", "prop2")


def test_every_element_kind_maps_to_its_model_class() -> None:
    process = read_process(
        '<bpmn:manualTask id="manual"/><bpmn:eventBasedGateway id="ebg"/>'
        '<bpmn:complexGateway id="cg"><bpmn:activationCondition>n &gt; 1'
        "</bpmn:activationCondition></bpmn:complexGateway>"
        '<bpmn:intermediateCatchEvent id="catch"><bpmn:signalEventDefinition signalRef="sig"/>'
        '</bpmn:intermediateCatchEvent><bpmn:intermediateThrowEvent id="none"/>'
        '<bpmn:endEvent id="end"><bpmn:terminateEventDefinition/></bpmn:endEvent>',
        roots='<bpmn:signal id="sig" name="alarm"/>',
    )

    assert isinstance(process.element("manual"), ManualTask)
    assert isinstance(process.element("ebg"), EventBasedGateway)
    complex_gateway = process.element("cg")
    assert isinstance(complex_gateway, ComplexGateway)
    assert complex_gateway.activation_condition is not None
    assert complex_gateway.activation_condition.evaluate({"n": 2}) is True
    catch = process.element("catch")
    assert isinstance(catch, IntermediateCatchEvent)
    assert catch.event_definitions == (SignalEventDefinition("alarm"),)
    assert isinstance(process.element("none"), IntermediateThrowEvent)
    end = process.element("end")
    assert isinstance(end, EndEvent)
    assert end.event_definitions == (TerminateEventDefinition(),)


def test_activity_attributes_and_loops() -> None:
    process = read_process(
        '<bpmn:task id="loop" startQuantity="2" completionQuantity="3" isForCompensation="true">'
        '<bpmn:standardLoopCharacteristics testBefore="true" loopMaximum="5">'
        "<bpmn:loopCondition>count &lt; 3</bpmn:loopCondition>"
        "</bpmn:standardLoopCharacteristics></bpmn:task>"
        '<bpmn:task id="mi"><bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
        "<bpmn:completionCondition>=nrOfCompletedInstances = 2</bpmn:completionCondition>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        '<bpmn:task id="bad" startQuantity="0"/>'
    )

    task = process.element("loop")
    assert isinstance(task, Task)
    assert (task.start_quantity, task.completion_quantity, task.is_for_compensation) == (2, 3, True)
    assert isinstance(task.loop, StandardLoop)
    assert task.loop.test_before and task.loop.loop_maximum == 5
    assert task.loop.loop_condition is not None
    assert task.loop.loop_condition.evaluate({"count": 1}) is True
    multi = process.element("mi")
    assert isinstance(multi, Task) and isinstance(multi.loop, MultiInstanceLoop)
    assert multi.loop.is_sequential
    assert multi.loop.loop_cardinality is not None
    assert multi.loop.loop_cardinality.evaluate({}) == 3
    assert multi.loop.completion_condition is not None
    assert multi.loop.completion_condition.evaluate({"nrOfCompletedInstances": 2}) is True
    assert rules(process) == [("quantity", "bad")]


def test_multi_instance_collections_of_zeebe_camunda_and_plain_bpmn() -> None:
    process = read_process(
        '<bpmn:task id="z"><bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>'
        '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
        'outputCollection="results" outputElement="=item * 2"/></bpmn:extensionElements>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        '<bpmn:task id="c"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${users}" '
        'camunda:elementVariable="user"/></bpmn:task>'
        '<bpmn:task id="b"><bpmn:multiInstanceLoopCharacteristics>'
        "<bpmn:loopDataInputRef>orders</bpmn:loopDataInputRef>"
        '<bpmn:inputDataItem id="order"/></bpmn:multiInstanceLoopCharacteristics></bpmn:task>'
        '<bpmn:task id="none"><bpmn:multiInstanceLoopCharacteristics/></bpmn:task>'
    )

    zeebe = process.element("z").loop  # type: ignore[attr-defined]
    assert isinstance(zeebe, MultiInstanceLoop) and zeebe.input_collection is not None
    assert zeebe.input_collection.evaluate({"items": [1, 2]}) == [1, 2]
    assert (zeebe.input_element, zeebe.output_collection) == ("item", "results")
    assert zeebe.output_element is not None and zeebe.output_element.evaluate({"item": 2}) == 4
    camunda = process.element("c").loop  # type: ignore[attr-defined]
    assert camunda.input_element == "user"
    assert camunda.input_collection.evaluate({"users": ["a"]}) == ["a"]
    plain = process.element("b").loop  # type: ignore[attr-defined]
    assert plain.input_element == "order"
    assert plain.input_collection.evaluate({"orders": [1]}) == [1]
    assert rules(process) == [("multi-instance", "none")]


# ---------------------------------------------------------------------------------------------
# Conditions and expressions


def test_conditions_in_cdata_with_or_without_equals_sign() -> None:
    process = read_process(
        '<bpmn:exclusiveGateway id="g"/><bpmn:task id="a"/><bpmn:task id="b"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="a">'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"><![CDATA[\n'
        "   amount < 100  ]]></bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="b">'
        "<bpmn:conditionExpression>= amount &gt;= 100</bpmn:conditionExpression>"
        "</bpmn:sequenceFlow>"
    )

    first, second = process.flow("f1").condition, process.flow("f2").condition
    assert first is not None and second is not None
    assert first.evaluate_boolean({"amount": 50}) and not second.evaluate_boolean({"amount": 50})
    assert second.evaluate_boolean({"amount": 100})


def test_juel_conditions_are_translated_to_feel() -> None:
    process = read_process(
        '<bpmn:exclusiveGateway id="g"/><bpmn:task id="a"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="g" targetRef="a"><bpmn:conditionExpression>'
        "${amount gt 1000 &amp;&amp; !approved || name == 'vip'}"
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )

    condition = process.flow("f").condition
    assert condition is not None
    assert condition.evaluate_boolean({"amount": 2000, "approved": False, "name": "x"})
    assert not condition.evaluate_boolean({"amount": 2000, "approved": True, "name": "x"})
    assert condition.evaluate_boolean({"amount": 1, "approved": True, "name": "vip"})


def test_conditions_that_do_not_compile_are_problems_naming_the_flow() -> None:
    process = read_process(
        '<bpmn:exclusiveGateway id="g"/><bpmn:task id="a"/><bpmn:task id="b"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="a">'
        "<bpmn:conditionExpression>a &gt;&gt; (</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="b">'
        "<bpmn:conditionExpression>${bean.call(x)}</bpmn:conditionExpression>"
        "</bpmn:sequenceFlow>"
    )

    assert rules(process) == [("expression", "f1"), ("juel-expression", "f2")]
    assert process.flow("f1").condition is None and "f1" in process.problems[0].message


def test_conditions_in_a_scripting_language_are_problems() -> None:
    process = read_process(
        '<bpmn:exclusiveGateway id="g"/><bpmn:task id="a"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="g" targetRef="a">'
        '<bpmn:conditionExpression language="javascript">a === 1</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
    )

    assert rules(process) == [("expression-language", "f")]


# ---------------------------------------------------------------------------------------------
# Event definitions


ROOTS = (
    '<bpmn:message id="msg" name="order placed"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
    '<bpmn:error id="err" name="Payment failed" errorCode="PAYMENT"/>'
    '<bpmn:escalation id="esc" name="Late" escalationCode="LATE"/>'
    '<bpmn:signal id="sig" name="shutdown"/>'
    '<bpmn:timerEventDefinition id="shared"><bpmn:timeCycle>R3/PT1M</bpmn:timeCycle>'
    "</bpmn:timerEventDefinition>"
)


def test_event_definitions_resolve_their_references() -> None:
    process = read_process(
        '<bpmn:startEvent id="m"><bpmn:messageEventDefinition messageRef="tns:msg"/>'
        '</bpmn:startEvent><bpmn:endEvent id="e"><bpmn:errorEventDefinition errorRef="err"/>'
        '</bpmn:endEvent><bpmn:endEvent id="x">'
        '<bpmn:escalationEventDefinition escalationRef="esc"/>'
        '</bpmn:endEvent><bpmn:intermediateThrowEvent id="s">'
        '<bpmn:signalEventDefinition signalRef="sig"/></bpmn:intermediateThrowEvent>'
        '<bpmn:intermediateCatchEvent id="t"><bpmn:eventDefinitionRef>shared'
        "</bpmn:eventDefinitionRef></bpmn:intermediateCatchEvent>",
        roots=ROOTS,
    )

    (message,) = process.element("m").event_definitions  # type: ignore[attr-defined]
    assert isinstance(message, MessageEventDefinition)
    assert message.message_name == "order placed" and message.correlation_key is not None
    assert message.correlation_key.evaluate({"orderId": 7}) == 7
    assert process.element("e").event_definitions == (  # type: ignore[attr-defined]
        ErrorEventDefinition("PAYMENT", "Payment failed"),
    )
    assert process.element("x").event_definitions == (  # type: ignore[attr-defined]
        EscalationEventDefinition("LATE", "Late"),
    )
    assert process.element("s").event_definitions == (SignalEventDefinition("shutdown"),)  # type: ignore[attr-defined]
    (timer,) = process.element("t").event_definitions  # type: ignore[attr-defined]
    assert isinstance(timer, TimerEventDefinition) and timer.time_cycle is not None
    assert timer.time_cycle.evaluate({}) == "R3/PT1M" and timer.time_duration is None
    assert process.problems == ()


def test_timers_hold_their_date_duration_or_cycle_as_expressions() -> None:
    process = read_process(
        '<bpmn:intermediateCatchEvent id="date"><bpmn:timerEventDefinition>'
        "<bpmn:timeDate>2030-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:intermediateCatchEvent id="dur">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>=wait</bpmn:timeDuration>"
        '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:startEvent id="none">'
        "<bpmn:timerEventDefinition/></bpmn:startEvent>"
    )

    (date,) = process.element("date").event_definitions  # type: ignore[attr-defined]
    assert date.time_date.is_static and date.time_date.evaluate({}) == "2030-01-01T00:00:00Z"
    (duration,) = process.element("dur").event_definitions  # type: ignore[attr-defined]
    assert duration.time_duration.evaluate({"wait": "PT5M"}) == "PT5M"
    assert rules(process) == [("timer-definition", "none")]


def test_the_other_event_definitions() -> None:
    process = read_process(
        '<bpmn:endEvent id="cancel"><bpmn:cancelEventDefinition/></bpmn:endEvent>'
        '<bpmn:intermediateThrowEvent id="comp"><bpmn:compensateEventDefinition '
        'activityRef="book" waitForCompletion="false"/></bpmn:intermediateThrowEvent>'
        '<bpmn:intermediateCatchEvent id="cond"><bpmn:conditionalEventDefinition>'
        "<bpmn:condition>temperature &gt; 30</bpmn:condition></bpmn:conditionalEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:intermediateThrowEvent id="link" name="to B">'
        '<bpmn:linkEventDefinition/></bpmn:intermediateThrowEvent><bpmn:startEvent id="multi" '
        'parallelMultiple="true"><bpmn:signalEventDefinition signalRef="sig"/>'
        '<bpmn:messageEventDefinition messageRef="msg"/></bpmn:startEvent>',
        roots=ROOTS,
    )

    assert process.element("cancel").event_definitions == (CancelEventDefinition(),)  # type: ignore[attr-defined]
    assert process.element("comp").event_definitions == (  # type: ignore[attr-defined]
        CompensateEventDefinition("book", wait_for_completion=False),
    )
    (conditional,) = process.element("cond").event_definitions  # type: ignore[attr-defined]
    assert isinstance(conditional, ConditionalEventDefinition) and conditional.condition
    assert conditional.condition.evaluate({"temperature": 31}) is True
    assert process.element("link").event_definitions == (LinkEventDefinition("to B"),)  # type: ignore[attr-defined]
    multi = process.element("multi")
    assert isinstance(multi, StartEvent) and multi.parallel_multiple
    assert [type(d) for d in multi.event_definitions] == [
        SignalEventDefinition,
        MessageEventDefinition,
    ]


def test_a_catching_message_event_without_a_message_is_a_problem() -> None:
    process = read_process(
        '<bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition/>'
        '</bpmn:intermediateCatchEvent><bpmn:receiveTask id="r"/>'
        '<bpmn:endEvent id="e"><bpmn:messageEventDefinition/></bpmn:endEvent>'
    )

    assert sorted(rules(process)) == [
        ("message-name", "c"),
        ("message-name", "e"),
        ("message-name", "r"),
    ]
    end = process.element("e")
    assert isinstance(end, EndEvent) and end.job_type is None


# ---------------------------------------------------------------------------------------------
# Tasks and their extensions


def test_zeebe_service_task() -> None:
    process = read_process(
        '<bpmn:serviceTask id="t"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="=&quot;pay-&quot; + region" retries="5"/>'
        '<zeebe:taskHeaders><zeebe:header key="method" value="POST"/></zeebe:taskHeaders>'
        '<zeebe:ioMapping><zeebe:input source="=order.total" target="amount"/>'
        '<zeebe:output source="=receipt" target="order.receipt"/></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )

    task = process.element("t")
    assert isinstance(task, ServiceTask) and task.job_type and task.retries
    assert task.job_type.evaluate({"region": "eu"}) == "pay-eu"
    assert task.retries.evaluate({}) == "5"
    assert task.headers == (("method", "POST"),)
    (mapping,) = task.input_mappings
    assert mapping.target == "amount" and mapping.source.evaluate({"order": {"total": 3}}) == 3
    assert task.output_mappings[0].target == "order.receipt"


def test_a_task_definition_without_a_type_is_a_problem() -> None:
    process = read_process(
        '<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition/>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
        '<bpmn:serviceTask id="x" camunda:type="external"/>'
    )

    assert rules(process) == [("job-type", "t"), ("job-type", "x")]


@pytest.mark.parametrize(
    ("attributes", "job_type"),
    [
        ('camunda:type="external" camunda:topic="invoices"', "invoices"),
        ('camunda:class="org.acme.Pay"', "org.acme.Pay"),
        ('camunda:delegateExpression="${payer}"', "payer"),
        ('camunda:delegateExpression="#{ paymentDelegate }"', "paymentDelegate"),
        ('camunda:delegateExpression="${beans.payer}"', "beans.payer"),
        ('camunda:expression="${payer.pay()}"', "payer.pay"),
        ('camunda:expression="${payment.charge(execution, amount)}"', "payment.charge"),
        ('camunda:expression="${true}"', "true"),
        ('camunda:expression="payer"', "payer"),
        ('implementation="pay-worker"', "pay-worker"),
        ('implementation="##WebService"', "t"),
        ('implementation="http://example.org/pay"', "t"),
        ("", "t"),
    ],
)
def test_job_types_of_camunda_and_plain_service_tasks(attributes: str, job_type: str) -> None:
    process = read_process(f'<bpmn:serviceTask id="t" {attributes}/>')

    task = process.element("t")
    assert isinstance(task, ServiceTask) and task.job_type is not None
    assert task.job_type.evaluate({}) == job_type
    assert process.problems == ()


def test_retry_policies_and_timeouts() -> None:
    process = read_process(
        '<bpmn:serviceTask id="l"><bpmn:extensionElements><legato:retry maxAttempts="5" '
        'initialInterval="PT1S" backoffCoefficient="3" maximumInterval="PT10M" jitter="0.2"/>'
        '<legato:timeout duration="PT30S"/></bpmn:extensionElements></bpmn:serviceTask>'
        '<bpmn:serviceTask id="c"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle>'
        "R3/PT10M</camunda:failedJobRetryTimeCycle></bpmn:extensionElements></bpmn:serviceTask>"
        '<bpmn:serviceTask id="bad"><bpmn:extensionElements>'
        '<legato:timeout duration="soon"/></bpmn:extensionElements></bpmn:serviceTask>'
    )

    legato = process.element("l")
    assert isinstance(legato, ServiceTask)
    assert legato.retry_policy == RetryPolicy(
        max_attempts=5,
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=3.0,
        maximum_interval=timedelta(minutes=10),
        jitter=0.2,
    )
    assert legato.timeout == timedelta(seconds=30)
    camunda = process.element("c")
    assert isinstance(camunda, ServiceTask) and camunda.retry_policy is not None
    assert camunda.retry_policy.max_attempts == 3
    assert camunda.retry_policy.initial_interval == timedelta(minutes=10)
    assert camunda.retry_policy.backoff_coefficient == 1.0
    assert rules(process) == [("duration", "bad")]


def test_camunda_input_output_parameters() -> None:
    process = read_process(
        '<bpmn:task id="t"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="greeting">hello</camunda:inputParameter>'
        '<camunda:inputParameter name="total">${price * quantity}</camunda:inputParameter>'
        '<camunda:inputParameter name="doubled"><camunda:script scriptFormat="feel">'
        "price * 2</camunda:script></camunda:inputParameter>"
        '<camunda:inputParameter name="items"><camunda:list><camunda:value>a</camunda:value>'
        "<camunda:value>${price}</camunda:value></camunda:list></camunda:inputParameter>"
        '<camunda:inputParameter name="headers"><camunda:map><camunda:entry key="k">v'
        "</camunda:entry></camunda:map></camunda:inputParameter>"
        '<camunda:inputParameter name="empty"/>'
        '<camunda:outputParameter name="result">${response}</camunda:outputParameter>'
        '<camunda:outputParameter name="js"><camunda:script scriptFormat="javascript">1'
        "</camunda:script></camunda:outputParameter>"
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:task>"
    )

    task = process.element("t")
    variables = {"price": 2, "quantity": 3, "response": "ok"}
    values = {m.target: m.source.evaluate(variables) for m in task.input_mappings}
    assert values == {
        "greeting": "hello",
        "total": 6,
        "doubled": 4,
        "items": ["a", 2],
        "headers": {"k": "v"},
        "empty": None,
    }
    assert [(m.target, m.source.evaluate(variables)) for m in task.output_mappings] == [
        ("result", "ok")
    ]
    assert rules(process) == [("script-format", "t")]


def test_zeebe_user_task() -> None:
    process = read_process(
        '<bpmn:userTask id="u"><bpmn:extensionElements><zeebe:userTask/>'
        '<zeebe:assignmentDefinition assignee="=owner" candidateGroups="sales, support" '
        'candidateUsers="=[&quot;ann&quot;]"/><zeebe:formDefinition formId="order-form"/>'
        '<zeebe:taskSchedule dueDate="=now() + duration(&quot;P1D&quot;)" '
        'followUpDate="2030-01-01T00:00:00Z"/><zeebe:priorityDefinition priority="80"/>'
        "</bpmn:extensionElements></bpmn:userTask>"
    )

    task = process.element("u")
    assert isinstance(task, UserTask)
    assert task.assignee is not None and task.assignee.evaluate({"owner": "bob"}) == "bob"
    assert task.candidate_groups is not None
    assert task.candidate_groups.evaluate({}) == "sales, support"
    assert task.candidate_users is not None and task.candidate_users.evaluate({}) == ["ann"]
    assert task.form_key == "order-form"
    assert task.due_date is not None and not task.due_date.is_static
    assert task.follow_up_date is not None and task.follow_up_date.is_static
    assert task.priority is not None and task.priority.evaluate({}) == "80"


def test_camunda_user_task() -> None:
    process = read_process(
        '<bpmn:userTask id="u" camunda:assignee="${approver}" camunda:candidateUsers="ann,bob" '
        'camunda:candidateGroups="accounting" camunda:formKey="embedded:app:forms/a.html" '
        'camunda:dueDate="${dueDate}"/>'
    )

    task = process.element("u")
    assert isinstance(task, UserTask)
    assert task.assignee is not None and task.assignee.evaluate({"approver": "eve"}) == "eve"
    assert task.candidate_users is not None and task.candidate_users.evaluate({}) == "ann,bob"
    assert task.candidate_groups is not None
    assert task.form_key == "embedded:app:forms/a.html"
    assert task.due_date is not None and task.due_date.evaluate({"dueDate": "x"}) == "x"


def test_call_activities() -> None:
    process = read_process(
        '<bpmn:callActivity id="z"><bpmn:extensionElements><zeebe:calledElement '
        'processId="=child" propagateAllChildVariables="false"/></bpmn:extensionElements>'
        '</bpmn:callActivity><bpmn:callActivity id="c" calledElement="billing">'
        '<bpmn:extensionElements><camunda:in source="order" target="input"/>'
        '<camunda:out variables="all"/></bpmn:extensionElements></bpmn:callActivity>'
        '<bpmn:callActivity id="plain" calledElement="shipping"/>'
        '<bpmn:callActivity id="missing"/>'
    )

    zeebe = process.element("z")
    assert isinstance(zeebe, CallActivity) and zeebe.called_element is not None
    assert zeebe.called_element.evaluate({"child": "sub"}) == "sub"
    assert not zeebe.propagate_all_child_variables and zeebe.propagate_all_parent_variables
    camunda = process.element("c")
    assert isinstance(camunda, CallActivity) and camunda.called_element is not None
    assert camunda.called_element.evaluate({}) == "billing"
    assert not camunda.propagate_all_parent_variables and camunda.propagate_all_child_variables
    (mapping,) = camunda.input_mappings
    assert mapping.target == "input" and mapping.source.evaluate({"order": 1}) == 1
    plain = process.element("plain")
    assert isinstance(plain, CallActivity) and plain.propagate_all_parent_variables
    assert rules(process) == [("called-element", "missing")]


def test_business_rule_tasks() -> None:
    definitions = read_bpmn(
        document(
            '<bpmn:businessRuleTask id="z"><bpmn:extensionElements><zeebe:calledDecision '
            'decisionId="discount" resultVariable="rate"/></bpmn:extensionElements>'
            '</bpmn:businessRuleTask><bpmn:businessRuleTask id="c" camunda:decisionRef="risk" '
            'camunda:resultVariable="level"/><bpmn:businessRuleTask id="job">'
            '<bpmn:extensionElements><zeebe:taskDefinition type="rules"/>'
            "</bpmn:extensionElements></bpmn:businessRuleTask>"
        )
    )

    process = definitions.process("p")
    zeebe, camunda, job = (process.element(i) for i in ("z", "c", "job"))
    assert isinstance(zeebe, BusinessRuleTask) and isinstance(camunda, BusinessRuleTask)
    assert (zeebe.decision_id, zeebe.result_variable, zeebe.job_type) == ("discount", "rate", None)
    assert (camunda.decision_id, camunda.result_variable) == ("risk", "level")
    assert isinstance(job, BusinessRuleTask) and job.decision_id is None
    assert job.job_type is not None and job.job_type.evaluate({}) == "rules"
    assert definitions.decisions == ("discount", "risk")


def test_script_tasks() -> None:
    process = read_process(
        '<bpmn:scriptTask id="feel" scriptFormat="FEEL" camunda:resultVariable="sum">'
        "<bpmn:script>a + b</bpmn:script></bpmn:scriptTask>"
        '<bpmn:scriptTask id="zeebe"><bpmn:extensionElements><zeebe:script '
        'expression="=a * b" resultVariable="product"/></bpmn:extensionElements>'
        '</bpmn:scriptTask><bpmn:scriptTask id="groovy" scriptFormat="groovy">'
        "<bpmn:script><![CDATA[println 'hi']]></bpmn:script></bpmn:scriptTask>"
        '<bpmn:scriptTask id="empty" scriptFormat="feel"/>'
    )

    feel_task = process.element("feel")
    assert isinstance(feel_task, ScriptTask) and feel_task.script is not None
    assert feel_task.script.evaluate({"a": 1, "b": 2}) == 3
    assert feel_task.result_variable == "sum" and feel_task.job_type is None
    zeebe = process.element("zeebe")
    assert isinstance(zeebe, ScriptTask) and zeebe.script is not None
    assert zeebe.script.evaluate({"a": 2, "b": 3}) == 6 and zeebe.result_variable == "product"
    groovy = process.element("groovy")
    assert isinstance(groovy, ScriptTask) and groovy.script is None
    assert groovy.script_text == "println 'hi'" and groovy.script_format == "groovy"
    assert groovy.job_type is not None and groovy.job_type.evaluate({}) == "script:groovy"
    assert groovy.headers == (("scriptFormat", "groovy"), ("script", "println 'hi'"))
    assert rules(process) == [("script", "empty")]


def test_send_and_receive_tasks_name_their_messages() -> None:
    process = read_process(
        '<bpmn:sendTask id="s" messageRef="msg"/><bpmn:receiveTask id="r" messageRef="msg"/>'
        '<bpmn:intermediateThrowEvent id="t"><bpmn:extensionElements><zeebe:taskDefinition '
        'type="notify"/></bpmn:extensionElements><bpmn:messageEventDefinition messageRef="msg"/>'
        "</bpmn:intermediateThrowEvent>",
        roots=ROOTS,
    )

    send, receive, throw = (process.element(i) for i in ("s", "r", "t"))
    assert isinstance(send, SendTask) and send.message_name == "order placed"
    assert send.job_type is None  # no job definition: the engine publishes the message
    assert send.correlation_key is not None
    assert isinstance(receive, ReceiveTask) and receive.message is not None
    assert receive.message.message_name == "order placed"
    assert receive.message.correlation_key is not None
    assert isinstance(throw, IntermediateThrowEvent) and throw.job_type is not None
    assert throw.job_type.evaluate({}) == "notify"


# ---------------------------------------------------------------------------------------------
# Deployment


def test_deployment_refuses_a_process_with_problems_naming_file_line_and_element(
    tmp_path: Path,
) -> None:
    path = tmp_path / "order.bpmn"
    path.write_text(
        document(
            '<bpmn:startEvent id="start"/>\n'
            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="ghost"/>\n'
            '<bpmn:callActivity id="call"/>'
        )
    )

    with pytest.raises(BpmnValidationError) as caught:
        load_for_deployment(path)

    found = {(i.rule, i.location.element_id, i.location.line) for i in caught.value.issues}
    assert {("flow-reference", "f", 6), ("called-element", "call", 7)} <= found
    assert f"{path}:6, element 'f'" in str(caught.value)


def test_deployment_ignores_problems_of_processes_not_marked_executable() -> None:
    xml = document(
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>',
        roots='<bpmn:process id="sketch" isExecutable="false"><bpmn:callActivity id="c"/>'
        "</bpmn:process>",
    )

    definitions = load_for_deployment(xml)

    assert [p.process_id for p in definitions.executable_processes] == ["p"]
    assert definitions.process("sketch").problems != ()


def test_deployment_refuses_a_file_without_an_executable_process() -> None:
    xml = document("").replace('isExecutable="true"', 'isExecutable="false"')

    with pytest.raises(BpmnValidationError, match="no executable process"):
        load_for_deployment(xml)
