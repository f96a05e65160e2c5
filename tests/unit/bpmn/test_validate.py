"""Unit tests of the static BPMN checker, on small inline documents."""

from __future__ import annotations

import pytest

from legato.bpmn.validate import validate_document
from legato.errors import ValidationIssue
from legato.safexml import parse_xml

HEADER = (
    '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:tns="urn:test" xmlns:other="urn:other" targetNamespace="urn:test">'
)


def check(body: str, top: str = "") -> list[ValidationIssue]:
    """Validate a process (``body``) plus optional top-level elements."""
    xml = f'{HEADER}{top}<process id="p" isExecutable="true">{body}</process></definitions>'
    return validate_document(parse_xml(xml.encode(), "inline.bpmn"), "inline.bpmn")


def rules(body: str, top: str = "") -> set[str]:
    return {issue.rule for issue in check(body, top)}


def flow(flow_id: str, source: str, target: str, inner: str = "") -> str:
    ends = f'sourceRef="{source}" targetRef="{target}"'
    return f'<sequenceFlow id="{flow_id}" {ends}>{inner}</sequenceFlow>'


LINE = (
    '<startEvent id="s"/><task id="t"/><endEvent id="e"/>'
    + flow("f1", "s", "t")
    + flow("f2", "t", "e")
)
COND = '<conditionExpression xsi:type="tFormalExpression">${ok}</conditionExpression>'


def test_a_valid_process_has_no_issues() -> None:
    assert check(LINE) == []


def test_issue_locates_file_line_and_element() -> None:
    issue = check(LINE + flow("f3", "e", "t"))[0]

    assert issue.rule == "EXT104"
    assert issue.location.file == "inline.bpmn"
    assert issue.location.line == 1
    assert issue.location.element_id == "f3"


def test_start_event_must_not_have_incoming_flow() -> None:
    assert "EXT096" in rules(LINE + flow("f3", "t", "s"))


def test_end_event_must_not_have_outgoing_flow() -> None:
    assert "EXT104" in rules(LINE + flow("f3", "e", "t"))


def test_boundary_event_must_not_have_incoming_flow() -> None:
    body = LINE + (
        '<boundaryEvent id="b" attachedToRef="t"><timerEventDefinition>'
        '<timeDuration xsi:type="tFormalExpression">PT1M</timeDuration>'
        "</timerEventDefinition></boundaryEvent>"
    )

    assert check(body + flow("f3", "b", "e")) == []
    assert "EXT112" in rules(body + flow("f3", "b", "e") + flow("f4", "s", "b"))


def test_boundary_event_needs_outgoing_flow_and_a_trigger() -> None:
    assert "EXT113" in rules(
        LINE + '<boundaryEvent id="b" attachedToRef="t"><signalEventDefinition/></boundaryEvent>'
    )
    assert "EXT110" in rules(
        LINE + '<boundaryEvent id="b" attachedToRef="t"/>' + flow("f3", "b", "e")
    )


def test_error_boundary_event_must_interrupt() -> None:
    body = LINE + (
        '<boundaryEvent id="b" attachedToRef="t" cancelActivity="false">'
        "<errorEventDefinition/></boundaryEvent>" + flow("f3", "b", "e")
    )

    assert "EXT110" in rules(body)


def test_sequence_flow_must_connect_flow_nodes_of_the_same_scope() -> None:
    body = '<startEvent id="s"/><subProcess id="sp"><task id="inner"/></subProcess>' + flow(
        "f1", "s", "inner"
    )

    assert "EXT152" in rules(body)


def test_sequence_flow_cannot_start_at_an_artifact() -> None:
    body = LINE + '<textAnnotation id="a"><text>x</text></textAnnotation>' + flow("f3", "a", "t")

    assert "EXT007" in rules(body)


def test_event_sub_process_cannot_be_connected() -> None:
    body = LINE + (
        '<subProcess id="esp" triggeredByEvent="true"><startEvent id="es">'
        '<signalEventDefinition signalRef="sig"/></startEvent></subProcess>'
        + flow("f3", "esp", "e")
    )

    assert "EXT021" in rules(body, '<signal id="sig"/>')


def test_default_flow_must_leave_the_gateway_and_have_no_condition() -> None:
    def gateway(default: str) -> str:
        return (
            f'<startEvent id="s"/><exclusiveGateway id="g" default="{default}"/>'
            '<task id="a"/><task id="b"/><endEvent id="e"/>'
            + flow("f0", "s", "g")
            + flow("fa", "g", "a", COND)
            + flow("ae", "a", "e")
            + flow("be", "b", "e")
        )

    fine = gateway("fb") + flow("fb", "g", "b")
    foreign = gateway("fx") + flow("fb", "g", "b") + flow("fx", "a", "b")
    conditional = gateway("fb") + flow("fb", "g", "b", COND)

    assert check(fine) == []
    assert "EXT026" in rules(foreign)
    assert "default-condition" in rules(conditional)


def test_single_conditional_flow_from_an_activity() -> None:
    assert "EXT025" in rules(
        '<startEvent id="s"/><task id="t"/><endEvent id="e"/>'
        + flow("f1", "s", "t")
        + flow("f2", "t", "e", COND)
    )


def test_diverging_gateway_with_several_incoming_flows() -> None:
    body = (
        '<startEvent id="s"/><task id="a"/><parallelGateway id="g" gatewayDirection="Diverging"/>'
        '<endEvent id="e"/>' + flow("f1", "s", "g") + flow("f2", "a", "g") + flow("f3", "g", "e")
    )

    assert "EXT018" in rules(body)


def test_gateway_that_neither_splits_nor_joins() -> None:
    body = '<startEvent id="s"/><parallelGateway id="g"/><endEvent id="e"/>'

    assert "EXT135" in rules(body + flow("f1", "s", "g") + flow("f2", "g", "e"))


def test_event_based_gateway_targets() -> None:
    body = (
        '<startEvent id="s"/><eventBasedGateway id="g"/><task id="a"/>'
        '<intermediateCatchEvent id="c"><messageEventDefinition messageRef="m"/>'
        '</intermediateCatchEvent><receiveTask id="r" messageRef="m"/>'
        + flow("f1", "s", "g")
        + flow("f2", "g", "a")
        + flow("f3", "g", "c")
        + flow("f4", "g", "r")
    )

    found = rules(body, '<message id="m"/>')

    assert {"EXT138", "EXT139"} <= found


def test_duplicate_ids() -> None:
    assert "EXT001" in rules(LINE + '<task id="t"/>')


def test_flow_node_needs_an_id() -> None:
    assert "EXT003" in rules(LINE + "<task/>")


@pytest.mark.parametrize(
    ("definition", "top"),
    [
        ('<messageEventDefinition messageRef="nope"/>', ""),
        ('<signalEventDefinition signalRef="nope"/>', ""),
        ('<signalEventDefinition signalRef="m"/>', '<message id="m"/>'),
    ],
)
def test_references_to_undefined_or_wrong_elements(definition: str, top: str) -> None:
    body = LINE + f'<intermediateCatchEvent id="c">{definition}</intermediateCatchEvent>'

    assert "EXT002" in rules(body + flow("f3", "c", "e"), top)


def test_error_and_escalation_references() -> None:
    end = '<endEvent id="x"><errorEventDefinition errorRef="nope"/></endEvent>'
    esc = '<endEvent id="y"><escalationEventDefinition escalationRef="tns:esc"/></endEvent>'

    assert "EXT002" in rules(LINE + end)
    assert "EXT002" not in rules(LINE + esc, '<escalation id="esc"/>')


def test_reference_into_an_imported_namespace_is_not_checked() -> None:
    body = LINE + (
        '<intermediateThrowEvent id="c"><signalEventDefinition signalRef="other:sig"/>'
        "</intermediateThrowEvent>"
    )

    assert "EXT002" not in rules(body + flow("f3", "c", "e"))


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        ('<startEvent id="x"><errorEventDefinition/></startEvent>', "EXT098"),
        ('<startEvent id="x"><compensateEventDefinition/></startEvent>', "EXT098"),
        ('<endEvent id="x"><timerEventDefinition/></endEvent>', "EXT146"),
        (
            '<intermediateCatchEvent id="x"><errorEventDefinition/></intermediateCatchEvent>',
            "EXT148",
        ),
        (
            '<intermediateThrowEvent id="x"><timerEventDefinition/></intermediateThrowEvent>',
            "EXT149",
        ),
    ],
)
def test_event_definitions_allowed_per_event_kind(event: str, rule: str) -> None:
    assert rule in rules(LINE + event)


def test_event_sub_process_start_event_needs_a_trigger() -> None:
    body = LINE + (
        '<subProcess id="esp" triggeredByEvent="true"><startEvent id="es"/><endEvent id="ee"/>'
        + flow("x1", "es", "ee")
        + "</subProcess>"
    )

    assert "EXT059" in rules(body)


def test_event_sub_process_may_start_on_an_error() -> None:
    body = LINE + (
        '<subProcess id="esp" triggeredByEvent="true"><startEvent id="es">'
        '<errorEventDefinition errorRef="err"/></startEvent><endEvent id="ee"/>'
        + flow("x1", "es", "ee")
        + "</subProcess>"
    )

    assert check(body, '<error id="err" errorCode="E1"/>') == []


def test_both_loop_markers() -> None:
    task = (
        '<task id="t"><standardLoopCharacteristics/>'
        '<multiInstanceLoopCharacteristics><loopCardinality xsi:type="tFormalExpression">3'
        "</loopCardinality></multiInstanceLoopCharacteristics></task>"
    )

    assert "EXT041" in rules(LINE.replace('<task id="t"/>', task))


def test_multi_instance_needs_cardinality_or_collection() -> None:
    task = '<task id="t"><multiInstanceLoopCharacteristics/></task>'

    assert "EXT067" in rules(LINE.replace('<task id="t"/>', task))


def test_negative_quantities() -> None:
    assert "EXT037" in rules(LINE.replace('<task id="t"/>', '<task id="t" startQuantity="0"/>'))


def test_every_node_needs_incoming_flow_when_there_is_a_start_event() -> None:
    assert "EXT150" in rules(LINE + '<task id="orphan"/>' + flow("f3", "orphan", "e"))


def test_incoming_and_outgoing_lists_must_match_the_flows() -> None:
    listed = (
        '<startEvent id="s"><outgoing>f1</outgoing></startEvent>'
        '<endEvent id="e"><incoming>nope</incoming></endEvent>' + flow("f1", "s", "e")
    )

    assert "EXT023" in rules(listed)


@pytest.mark.parametrize(
    ("kind", "value", "valid"),
    [
        ("timeDuration", "PT5M", True),
        ("timeCycle", "R3/PT1H", True),
        ("timeDate", "2025-01-01T10:00:00Z", True),
        ("timeDuration", "${delay}", True),
        ("timeDuration", "INVALID", False),
        ("timeCycle", "R2/XYZ", False),
    ],
)
def test_timer_values(kind: str, value: str, valid: bool) -> None:
    timer = (
        f'<intermediateCatchEvent id="c"><timerEventDefinition><{kind} '
        f'xsi:type="tFormalExpression">{value}</{kind}></timerEventDefinition>'
        "</intermediateCatchEvent>"
    )
    body = LINE.replace(flow("f2", "t", "e"), flow("f2", "t", "c") + flow("f3", "c", "e"))

    assert (check(body + timer) == []) is valid


def test_link_catch_event_needs_a_throwing_partner() -> None:
    catch = (
        '<intermediateCatchEvent id="c"><linkEventDefinition name="L"/></intermediateCatchEvent>'
    )
    throw = (
        '<intermediateThrowEvent id="w"><linkEventDefinition name="L"/></intermediateThrowEvent>'
    )

    assert "EXT124" in rules(LINE + catch + flow("f3", "c", "e"))
    assert "EXT124" not in rules(LINE + catch + throw + flow("f3", "c", "e") + flow("f4", "t", "w"))


def test_message_flow_between_nodes_of_one_pool() -> None:
    top = (
        '<collaboration id="c"><participant id="pa" processRef="p"/>'
        '<messageFlow id="m" sourceRef="pa" targetRef="t"/></collaboration>'
    )

    assert "EXT031" in rules(LINE, top)


def test_data_input_of_another_item_kind_than_its_item_definition() -> None:
    top = '<itemDefinition id="list" isCollection="true"/>'
    task = (
        '<task id="t"><ioSpecification><dataInput id="di" itemSubjectRef="list"/>'
        "<inputSet><dataInputRefs>di</dataInputRefs></inputSet><outputSet/></ioSpecification></task>"
    )

    assert "EXT020" in rules(LINE.replace('<task id="t"/>', task), top)


def test_data_input_outside_any_input_set() -> None:
    spec = '<ioSpecification><dataInput id="di"/><inputSet/><outputSet/></ioSpecification>'
    task = f'<task id="t">{spec}</task>'

    assert "EXT084" in rules(LINE.replace('<task id="t"/>', task))


def test_informal_prose_condition_in_an_executable_process() -> None:
    body = (
        '<startEvent id="s"/><exclusiveGateway id="g" default="fb"/><task id="a"/><task id="b"/>'
        '<endEvent id="e"/>'
        + flow("ae", "a", "e")
        + flow("be", "b", "e")
        + flow("f0", "s", "g")
        + flow("fa", "g", "a", "<conditionExpression>when it rains</conditionExpression>")
        + flow("fb", "g", "b")
    )
    code = body.replace("when it rains", "x &lt; 2")

    assert {"EXT012", "natural-language"} <= rules(body)
    assert rules(code) == {"EXT012"}  # code, only unmarked (a warning when compatible)
