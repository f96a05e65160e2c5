"""Each constraint of the catalogue, on a model built to break it and a close one that keeps it.

The broken model must yield an issue with the constraint's id located at the named element;
the close model must yield no issue at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpmn_rule_models import (
    COND,
    LINE,
    TASK,
    collaboration,
    document,
    event_sub_process,
    flow,
    gateway,
    items,
    line,
    message_flow,
    seq,
    spec,
)
from legato.bpmn.validate import validate_document
from legato.errors import ValidationIssue
from legato.safexml import parse_xml


@dataclass(frozen=True)
class Case:
    """A broken model and a close valid one, as process bodies plus top-level elements."""

    rule: str
    element: str
    bad: str
    good: str
    top: str = ""
    good_top: str | None = None
    attrs: str = 'isExecutable="true"'

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.element}"


def issues(body: str, top: str = "", attrs: str = 'isExecutable="true"') -> list[ValidationIssue]:
    xml = document(body, top, attrs)
    return validate_document(parse_xml(xml.encode(), "case.bpmn"), "case.bpmn")


ANNOTATION = '<textAnnotation id="a"><text>note</text></textAnnotation>'
ESCALATION_END = '<endEvent id="e"><escalationEventDefinition escalationRef="esc"/></endEvent>'
TIMER = '<timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1M</timeDuration>'
TIMER_CATCH = (
    f'<intermediateCatchEvent id="c">{TIMER}</timerEventDefinition></intermediateCatchEvent>'
)
MESSAGE = '<message id="msg" name="msg"/>'
MESSAGE_START = '<startEvent id="s"><messageEventDefinition messageRef="msg"/></startEvent>'
MESSAGE_END = '<endEvent id="e"><messageEventDefinition messageRef="msg"/></endEvent>'
MESSAGE_CATCH = (
    '<intermediateCatchEvent id="c"><messageEventDefinition messageRef="msg"/>'
    "</intermediateCatchEvent>"
)
SECOND_PROCESS = '<process id="q"><task id="u"/></process>'
INTERFACE = '<interface id="if" name="I"><operation id="op" name="o"/></interface>'


FLOWS = [
    Case("EXT006", "x", LINE + ANNOTATION + flow("x", "t", "a"), LINE + ANNOTATION),
    Case("EXT007", "x", LINE + ANNOTATION + flow("x", "a", "t"), LINE + ANNOTATION),
    Case(
        "EXT008",
        "m",
        LINE + ANNOTATION,
        LINE + ANNOTATION,
        collaboration(message_flow("pb", "a")),
        collaboration(message_flow("pb", "t")),
    ),
    Case(
        "EXT009",
        "m",
        LINE + ANNOTATION,
        LINE + ANNOTATION,
        collaboration(message_flow("a", "pb")),
        collaboration(message_flow("t", "pb")),
    ),
    Case(
        "EXT021",
        "x",
        LINE + event_sub_process(MESSAGE_START.replace('"s"', '"es"')) + flow("x", "esp", "e"),
        LINE + event_sub_process(MESSAGE_START.replace('"s"', '"es"')),
        MESSAGE,
    ),
    Case(
        "EXT022",
        "x",
        LINE + event_sub_process(MESSAGE_START.replace('"s"', '"es"')) + flow("x", "t", "esp"),
        LINE + event_sub_process(MESSAGE_START.replace('"s"', '"es"')),
        MESSAGE,
    ),
    Case(
        "EXT023",
        "t",
        line('<task id="t"><outgoing>nope</outgoing></task>'),
        LINE,
    ),
    Case(
        "EXT024",
        "x",
        '<startEvent id="s"/><endEvent id="e"/>'
        + '<sequenceFlow id="x" sourceRef="s" targetRef="e" isImmediate="false"/>',
        '<startEvent id="s"/><endEvent id="e"/>'
        + '<sequenceFlow id="x" sourceRef="s" targetRef="e" isImmediate="true"/>',
    ),
    Case(
        "EXT025",
        "f_t_e",
        '<startEvent id="s"/><task id="t"/><endEvent id="e"/>'
        + seq("s", "t")
        + flow("f_t_e", "t", "e", COND),
        LINE,
    ),
    Case(
        "EXT026",
        "g",
        gateway(attrs='default="f_s_g"', inner=COND),
        gateway(attrs='default="fb"', inner=COND),
    ),
    Case("EXT096", "x", LINE + flow("x", "t", "s"), LINE),
    Case("EXT104", "x", LINE + flow("x", "e", "t"), LINE),
]

GATEWAYS = [
    Case(
        "EXT017",
        "j",
        '<startEvent id="s"/><parallelGateway id="g"/><task id="a"/><task id="b"/>'
        '<parallelGateway id="j" gatewayDirection="Converging"/><endEvent id="e"/>'
        '<endEvent id="e2"/>' + seq("s", "g", "a", "j", "e") + seq("g", "b", "j", "e2"),
        '<startEvent id="s"/><parallelGateway id="g"/><task id="a"/><task id="b"/>'
        '<parallelGateway id="j" gatewayDirection="Converging"/><endEvent id="e"/>'
        + seq("s", "g", "a", "j", "e")
        + seq("g", "b", "j"),
    ),
    Case(
        "EXT018",
        "g",
        '<startEvent id="s"/><task id="t"/><exclusiveGateway id="g" gatewayDirection="Diverging"'
        ' default="fb"/><task id="a"/><task id="b"/><endEvent id="e"/>'
        + seq("s", "t", "g")
        + flow("fa", "g", "a", COND)
        + flow("fb", "g", "b")
        + seq("a", "e")
        + seq("b", "g"),
        gateway(attrs='gatewayDirection="Diverging" default="fb"', inner=COND),
    ),
    Case(
        "EXT019",
        "g",
        gateway(attrs='gatewayDirection="Mixed" default="fb"', inner=COND),
        '<startEvent id="s"/><task id="x"/><task id="y"/><parallelGateway id="f"/>'
        '<parallelGateway id="g" gatewayDirection="Mixed"/><task id="a"/><task id="b"/>'
        '<parallelGateway id="j"/><endEvent id="e"/>'
        + seq("s", "f", "x", "g", "a", "j", "e")
        + seq("f", "y", "g", "b", "j"),
    ),
    Case(
        "EXT135",
        "g",
        line('<parallelGateway id="g"/>'),
        gateway(attrs='default="fb"', inner=COND),
    ),
]

EVENT_GATEWAY = (
    '<startEvent id="s"/><eventBasedGateway id="g"/>'
    '<intermediateCatchEvent id="c1"><messageEventDefinition messageRef="msg"/>'
    f'</intermediateCatchEvent><intermediateCatchEvent id="c2">{TIMER}</timerEventDefinition>'
    '</intermediateCatchEvent><endEvent id="e"/>'
    + seq("s", "g", "c1", "e")
    + seq("g", "c2")
    + flow("f_c2_e", "c2", "e")
)
RECEIVE_GATEWAY = (
    '<startEvent id="s"/><eventBasedGateway id="g"/><receiveTask id="r" messageRef="msg"/>'
    f'<intermediateCatchEvent id="c2">{TIMER}</timerEventDefinition></intermediateCatchEvent>'
    '<endEvent id="e"/>' + seq("s", "g", "r", "e") + seq("g", "c2") + flow("f_c2_e", "c2", "e")
)
BOUNDARY_ON_R = (
    f'<boundaryEvent id="b" attachedToRef="r">{TIMER}</timerEventDefinition></boundaryEvent>'
    + flow("f_b_e", "b", "e")
)

EVENT_GATEWAYS = [
    Case(
        "EXT136",
        "g",
        '<startEvent id="s"/><eventBasedGateway id="g"/>'
        f'{MESSAGE_CATCH}<endEvent id="e"/>' + seq("s", "g", "c", "e"),
        EVENT_GATEWAY,
        MESSAGE,
    ),
    Case(
        "EXT137",
        "f_g_c1",
        EVENT_GATEWAY.replace(seq("g", "c1"), flow("f_g_c1", "g", "c1", COND)),
        EVENT_GATEWAY,
        MESSAGE,
    ),
    Case(
        "EXT138",
        "a",
        EVENT_GATEWAY.replace(seq("g", "c2"), seq("g", "a")) + '<task id="a"/>' + seq("a", "e"),
        EVENT_GATEWAY,
        MESSAGE,
    ),
    Case(
        "EXT139",
        "g",
        EVENT_GATEWAY + '<receiveTask id="r" messageRef="msg"/>' + seq("g", "r", "e"),
        EVENT_GATEWAY,
        MESSAGE,
    ),
    Case("EXT140", "r", RECEIVE_GATEWAY + BOUNDARY_ON_R, RECEIVE_GATEWAY, MESSAGE),
    Case(
        "EXT141",
        "c1",
        EVENT_GATEWAY + '<task id="x"/>' + seq("s", "x", "c1"),
        EVENT_GATEWAY,
        MESSAGE,
    ),
    Case(
        "EXT142",
        "g",
        EVENT_GATEWAY.replace(
            '<eventBasedGateway id="g"/>', '<eventBasedGateway id="g" instantiate="true"/>'
        ),
        EVENT_GATEWAY.replace('<startEvent id="s"/>', "")
        .replace(seq("s", "g"), "")
        .replace('<eventBasedGateway id="g"/>', '<eventBasedGateway id="g" instantiate="true"/>'),
        MESSAGE,
    ),
]

ESP_MESSAGE = MESSAGE_START.replace('"s"', '"es"')
TRANSACTION = (
    '<transaction id="t"><startEvent id="ts"/><endEvent id="te"/>'
    + seq("ts", "te")
    + "</transaction>"
)
CANCEL_TRANSACTION = TRANSACTION.replace(
    '<endEvent id="te"/>', '<endEvent id="te"><cancelEventDefinition/></endEvent>'
)
CANCEL_BOUNDARY = (
    '<boundaryEvent id="b" attachedToRef="t"><cancelEventDefinition/></boundaryEvent>'
    '<endEvent id="e2"/>' + seq("b", "e2")
)
COMPENSATION = (
    '<boundaryEvent id="b" attachedToRef="t"><compensateEventDefinition/></boundaryEvent>'
    '<task id="h" isForCompensation="true"/>'
    '<association id="as" sourceRef="b" targetRef="h" associationDirection="One"/>'
)
LINK_THROW = (
    '<intermediateThrowEvent id="w"><linkEventDefinition name="L"/></intermediateThrowEvent>'
)
LINK_CATCH = (
    '<intermediateCatchEvent id="k"><linkEventDefinition name="L"/></intermediateCatchEvent>'
)
LINKED = (
    '<startEvent id="s"/>'
    + LINK_THROW
    + LINK_CATCH
    + '<endEvent id="e"/>'
    + seq("s", "w")
    + seq("k", "e")
)
TARGETED = (
    '<startEvent id="s"/><intermediateThrowEvent id="w"><linkEventDefinition id="wd" name="A">'
    "{targets}</linkEventDefinition></intermediateThrowEvent>"
    '<intermediateCatchEvent id="k"><linkEventDefinition id="kd" name="B"><source>wd</source>'
    '</linkEventDefinition></intermediateCatchEvent><endEvent id="e"/>'
    + seq("s", "w")
    + seq("k", "e")
)
SECOND_CATCH = (
    '<intermediateCatchEvent id="k2"><linkEventDefinition id="kd2" name="C"><source>wd</source>'
    "</linkEventDefinition></intermediateCatchEvent>" + flow("f_k2_e", "k2", "e")
)

EVENTS = [
    Case(
        "EXT011",
        "e",
        line(TASK, end=ESCALATION_END),
        line(TASK, end=ESCALATION_END),
        '<escalation id="esc"/>',
        '<escalation id="esc" escalationCode="E1"/>',
    ),
    Case(
        "EXT012",
        "c",
        line(TIMER_CATCH.replace(' xsi:type="tFormalExpression"', "")),
        line(TIMER_CATCH),
    ),
    Case(
        "EXT013",
        "fa",
        gateway(attrs='default="fb"', inner=COND.replace("x &lt; 2", "")),
        gateway(attrs='default="fb"', inner=COND),
    ),
    Case("EXT097", "p", '<task id="t"/><endEvent id="e"/>' + seq("t", "e"), LINE),
    Case(
        "EXT098",
        "s",
        line(TASK, start='<startEvent id="s"><errorEventDefinition/></startEvent>'),
        line(TASK, start=MESSAGE_START),
        MESSAGE,
    ),
    Case(
        "EXT100",
        "ss",
        line(
            '<subProcess id="t"><startEvent id="ss"><signalEventDefinition signalRef="sig"/>'
            '</startEvent><endEvent id="se"/>' + seq("ss", "se") + "</subProcess>"
        ),
        line(
            '<subProcess id="t"><startEvent id="ss"/><endEvent id="se"/>'
            + seq("ss", "se")
            + "</subProcess>"
        ),
        '<signal id="sig" name="sig"/>',
    ),
    Case("EXT101", "s2", LINE + '<startEvent id="s2"/>', LINE),
    Case("EXT105", "p", '<startEvent id="s"/><task id="t"/>' + seq("s", "t"), LINE),
    Case(
        "EXT106",
        "e",
        line(TASK, end='<endEvent id="e"><cancelEventDefinition/></endEvent>'),
        line(CANCEL_TRANSACTION),
    ),
    Case("EXT107", "e2", LINE + '<endEvent id="e2"/>', LINE),
    Case(
        "EXT110",
        "b",
        LINE + '<boundaryEvent id="b" attachedToRef="t"/>' + seq("b", "e"),
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e"),
    ),
    Case("EXT111", "b", LINE + CANCEL_BOUNDARY, line(CANCEL_TRANSACTION) + CANCEL_BOUNDARY),
    Case(
        "EXT112",
        "f_s_b",
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e") + seq("s", "b"),
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e"),
    ),
    Case(
        "EXT113",
        "b",
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>",
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e"),
    ),
    Case("EXT114", "f_b_e", LINE + COMPENSATION + seq("b", "e"), LINE + COMPENSATION),
    Case(
        "EXT115",
        "x",
        LINE + '<intermediateThrowEvent id="x"/>' + seq("x", "e"),
        line(TASK, '<intermediateThrowEvent id="x"/>'),
    ),
    Case(
        "EXT116",
        "x",
        LINE + '<intermediateThrowEvent id="x"/>' + seq("t", "x"),
        line(TASK, '<intermediateThrowEvent id="x"/>'),
    ),
    Case("EXT117", "f_t_k", LINKED + TASK + seq("s", "t", "k"), LINKED),
    Case("EXT118", "w", '<startEvent id="s"/>' + LINK_THROW + seq("s", "w"), LINKED),
    Case(
        "EXT122",
        "c",
        line(
            '<intermediateCatchEvent id="c"><compensateEventDefinition/></intermediateCatchEvent>'
        ),
        line(MESSAGE_CATCH),
        MESSAGE,
    ),
    Case(
        "EXT123",
        "c",
        line(
            '<intermediateCatchEvent id="c"><conditionalEventDefinition/></intermediateCatchEvent>'
        ),
        line(
            '<intermediateCatchEvent id="c"><conditionalEventDefinition><condition '
            'xsi:type="tFormalExpression">x &gt; 1</condition></conditionalEventDefinition>'
            "</intermediateCatchEvent>"
        ),
    ),
    Case("EXT124", "k", LINE + LINK_CATCH.replace('"k"', '"k"') + seq("k", "t"), LINKED),
    Case(
        "EXT125",
        "w",
        LINKED + LINK_CATCH.replace('"k"', '"k2"') + '<endEvent id="e2"/>' + seq("k2", "e2"),
        LINKED,
    ),
    Case(
        "EXT125",
        "w",
        TARGETED.format(targets="<target>kd</target><target>kd2</target>") + SECOND_CATCH,
        TARGETED.format(targets="<target>kd</target>"),
    ),
    Case(
        "EXT126",
        "w",
        '<startEvent id="s"/><intermediateThrowEvent id="w"><linkEventDefinition name="L">'
        "<target>kd</target></linkEventDefinition></intermediateThrowEvent>"
        '<subProcess id="sp"><intermediateCatchEvent id="k"><linkEventDefinition id="kd" '
        'name="L"/></intermediateCatchEvent></subProcess>' + seq("s", "w"),
        '<startEvent id="s"/><intermediateThrowEvent id="w"><linkEventDefinition name="L">'
        "<target>kd</target></linkEventDefinition></intermediateThrowEvent>"
        '<intermediateCatchEvent id="k"><linkEventDefinition id="kd" name="L"/>'
        '</intermediateCatchEvent><endEvent id="e"/>' + seq("s", "w") + seq("k", "e"),
    ),
    Case(
        "EXT127",
        "c",
        line('<intermediateCatchEvent id="c"><messageEventDefinition/></intermediateCatchEvent>'),
        line(MESSAGE_CATCH),
        MESSAGE,
    ),
    Case(
        "EXT128",
        "c",
        line(MESSAGE_CATCH),
        line(
            MESSAGE_CATCH.replace(
                "/></intermediateCatchEvent>",
                "><operationRef>op</operationRef>"
                "</messageEventDefinition></intermediateCatchEvent>",
            )
        ),
        '<itemDefinition id="it" structureRef="xs:string"/>'
        '<message id="msg" name="msg" itemRef="it"/>'
        '<interface id="if" name="I"><operation id="op" name="o"><inMessageRef>msg'
        "</inMessageRef></operation></interface>",
    ),
    Case("EXT143", "b", LINE + COMPENSATION.split("<association")[0], LINE + COMPENSATION),
    Case(
        "EXT144",
        "h",
        LINE + COMPENSATION.replace(' isForCompensation="true"', ""),
        LINE + COMPENSATION,
    ),
    Case(
        "EXT146",
        "e",
        line(TASK, end=f'<endEvent id="e">{TIMER}</timerEventDefinition></endEvent>'),
        line(TASK, end=MESSAGE_END),
        MESSAGE,
    ),
    Case(
        "EXT148",
        "c",
        line('<intermediateCatchEvent id="c"><errorEventDefinition/></intermediateCatchEvent>'),
        line(MESSAGE_CATCH),
        MESSAGE,
    ),
    Case(
        "EXT149",
        "x",
        line(
            f'<intermediateThrowEvent id="x">{TIMER}</timerEventDefinition>'
            "</intermediateThrowEvent>"
        ),
        line('<intermediateThrowEvent id="x"/>'),
    ),
    Case("EXT150", "x", LINE + '<task id="x"/>' + seq("x", "e"), line(TASK, '<task id="x"/>')),
    Case("EXT151", "x", LINE + '<task id="x"/>' + seq("t", "x"), line(TASK, '<task id="x"/>')),
]

SUB_PROCESSES = [
    Case(
        "EXT057",
        "esp",
        LINE + event_sub_process(ESP_MESSAGE) + seq("t", "esp"),
        LINE + event_sub_process(ESP_MESSAGE),
        MESSAGE,
    ),
    Case(
        "EXT058",
        "esp",
        LINE
        + event_sub_process(
            ESP_MESSAGE
            + ESP_MESSAGE.replace('"es"', '"es2"')
            + '<endEvent id="ee2"/>'
            + seq("es2", "ee2")
        ),
        LINE + event_sub_process(ESP_MESSAGE),
        MESSAGE,
    ),
    Case(
        "EXT059",
        "es",
        LINE
        + event_sub_process(
            '<startEvent id="es" isInterrupting="false"><errorEventDefinition/></startEvent>'
        ),
        LINE + event_sub_process('<startEvent id="es"><errorEventDefinition/></startEvent>'),
    ),
    Case(
        "EXT061",
        "t",
        line('<adHocSubProcess id="t"/>'),
        line('<adHocSubProcess id="t"><task id="in"/></adHocSubProcess>'),
    ),
    Case(
        "EXT062",
        "in2",
        line('<adHocSubProcess id="t"><task id="in"/><startEvent id="in2"/></adHocSubProcess>'),
        line('<adHocSubProcess id="t"><task id="in"/></adHocSubProcess>'),
    ),
    Case(
        "EXT079",
        "t",
        line(
            '<subProcess id="t">'
            + spec()
            + '<startEvent id="ss"/><endEvent id="se"/>'
            + seq("ss", "se")
            + "</subProcess>"
        ),
        line(
            '<subProcess id="t"><startEvent id="ss"/><endEvent id="se"/>'
            + seq("ss", "se")
            + "</subProcess>"
        ),
    ),
    Case("EXT036", "ct", LINE + '<choreographyTask id="ct"/>', LINE),
    Case(
        "EXT056",
        "ct",
        line(
            '<subProcess id="t"><startEvent id="ss"/><endEvent id="se"/>'
            + seq("ss", "se")
            + '<choreographyTask id="ct"/></subProcess>'
        ),
        line(
            '<subProcess id="t"><startEvent id="ss"/><endEvent id="se"/>'
            + seq("ss", "se")
            + "</subProcess>"
        ),
    ),
]

COLLABORATIONS = [
    Case(
        "EXT031",
        "m",
        line(TASK, '<task id="t2"/>'),
        LINE,
        collaboration(message_flow("t", "t2"), '<participant id="pa" processRef="p"/>')
        + SECOND_PROCESS,
        collaboration(
            message_flow("t", "u"),
            '<participant id="pa" processRef="p"/><participant id="pq" processRef="q"/>',
        )
        + SECOND_PROCESS,
    ),
    Case("EXT035", "p", LINE, LINE, attrs='isExecutable="true" processType="Public"'),
    Case(
        "EXT102",
        "m",
        LINE,
        LINE,
        collaboration(message_flow("s", "pb")),
        collaboration(message_flow("t", "pb")),
    ),
    Case(
        "EXT103",
        "m",
        LINE,
        line(TASK, start=MESSAGE_START),
        collaboration(message_flow("pb", "s")),
        MESSAGE + collaboration(message_flow("pb", "s")),
    ),
    Case(
        "EXT108",
        "m",
        LINE,
        line(TASK, end=MESSAGE_END),
        collaboration(message_flow("pb", "e")),
        MESSAGE + collaboration(message_flow("e", "pb")),
    ),
    Case(
        "EXT109",
        "m",
        LINE,
        line(TASK, end=MESSAGE_END),
        collaboration(message_flow("e", "pb")),
        MESSAGE + collaboration(message_flow("e", "pb")),
    ),
    Case(
        "EXT119",
        "m",
        line(MESSAGE_CATCH),
        line(MESSAGE_CATCH),
        MESSAGE + collaboration(message_flow("c", "pb")),
        MESSAGE + collaboration(message_flow("pb", "c")),
    ),
]

STRING = items(("str", "xs:string"), ("num", "xs:int"), ("strs", "xs:string"), collection="strs")
IN_STR = '<dataInput id="di" itemSubjectRef="str"/>'
IN_NUM = '<dataInput id="di" itemSubjectRef="num"/>'
OUT_STR = '<dataOutput id="do" itemSubjectRef="str"/>'
OUT_NUM = '<dataOutput id="do" itemSubjectRef="num"/>'
TYPED_MESSAGE = '<message id="msg" name="msg" itemRef="str"/>'
OPERATION = (
    '<interface id="if" name="I"><operation id="op" name="o"><inMessageRef>msg</inMessageRef>'
    "<outMessageRef>msg</outMessageRef></operation></interface>"
)


def _task(kind: str, attrs: str, inner: str) -> str:
    return line(f'<{kind} id="t" {attrs}>{inner}</{kind}>')


def _service(inner: str) -> str:
    return _task("serviceTask", 'operationRef="op"', inner)


SERVICE_TOP = STRING + TYPED_MESSAGE + OPERATION
SERVICE_GOOD = _service(spec(IN_STR, OUT_STR))


def _send(inner: str) -> str:
    return _task("sendTask", 'messageRef="msg"', inner)


def _receive(inner: str) -> str:
    return _task("receiveTask", 'messageRef="msg"', inner)


def _multi(inner: str, data: str = "") -> str:
    return (
        line(
            f'<task id="t"><multiInstanceLoopCharacteristics>{inner}'
            f"</multiInstanceLoopCharacteristics></task>"
        )
        + data
    )


LOOP_INPUT = (
    '<loopDataInputRef>list</loopDataInputRef><inputDataItem id="id" itemSubjectRef="{item}"/>'
)
CARDINALITY = '<loopCardinality xsi:type="tFormalExpression">3</loopCardinality>'
LIST_OBJECT = '<dataObject id="list" itemSubjectRef="strs" isCollection="true"/>'
CALLED = (
    '<process id="q"><ioSpecification><dataInput id="qi" itemSubjectRef="str"/><inputSet>'
    "<dataInputRefs>qi</dataInputRefs></inputSet><outputSet/></ioSpecification>"
    '<startEvent id="qs"/><endEvent id="qe"/>' + seq("qs", "qe") + "</process>"
)


def _call(item: str) -> str:
    data = f'<dataInput id="ci" itemSubjectRef="{item}"/>'
    return line(f'<callActivity id="t" calledElement="q">{spec(data)}</callActivity>')


SERVICE_PROCESS = "<supportedInterfaceRef>if</supportedInterfaceRef>" + spec(
    '<dataInput id="pi"/>', '<dataOutput id="po"/>'
)
BINDING = '<ioBinding operationRef="op" inputDataRef="pi" outputDataRef="{out}"/>'
STATE_OBJECT = (
    '<dataObject id="o" name="Order"/><dataObjectReference id="r" dataObjectRef="o" name="{name}">'
    '<dataState id="st" name="paid"/></dataObjectReference>'
)


def _association(*sources: str, inner: str = "") -> str:
    refs = "".join(f"<sourceRef>{s}</sourceRef>" for s in sources)
    return line(
        f'<task id="t">{spec(IN_STR)}<dataInputAssociation id="da">{refs}'
        f"<targetRef>di</targetRef>{inner}</dataInputAssociation></task>"
    )


OBJECTS = '<dataObject id="o1" itemSubjectRef="str"/><dataObject id="o2" itemSubjectRef="str"/>'
TRANSFORM = '<transformation xsi:type="tFormalExpression">o1 + o2</transformation>'
MESSAGE_DATA = (
    '<intermediateCatchEvent id="c">{data}<outputSet/><messageEventDefinition messageRef="msg">'
    "<operationRef>op</operationRef></messageEventDefinition></intermediateCatchEvent>"
)
INLINE_THROW = (
    '<intermediateThrowEvent id="x"><signalEventDefinition id="sd" signalRef="sig"/>'
    "</intermediateThrowEvent>"
)


OPTIONAL = (
    '<task id="t"><ioSpecification><dataInput id="d1"/><dataInput id="d2"/>'
    "<inputSet><dataInputRefs>d1</dataInputRefs><{kind}InputRefs>{optional}"
    "</{kind}InputRefs></inputSet><inputSet><dataInputRefs>d2</dataInputRefs></inputSet>"
    "<outputSet/></ioSpecification></task>"
)
OPTIONAL_OUT = (
    '<task id="t"><ioSpecification><dataOutput id="d1"/><dataOutput id="d2"/><inputSet/>'
    "<outputSet><dataOutputRefs>d1</dataOutputRefs><{kind}OutputRefs>{optional}"
    "</{kind}OutputRefs></outputSet><outputSet><dataOutputRefs>d2</dataOutputRefs></outputSet>"
    "</ioSpecification></task>"
)
LINKED_SETS = (
    '<task id="t"><ioSpecification><inputSet id="is">{outputs}</inputSet>'
    '<outputSet id="os"><inputSetRefs>is</inputSetRefs></outputSet></ioSpecification></task>'
)


def _set_refs(members: str) -> str:
    return (
        '<task id="t"><ioSpecification><dataInput id="d1"/><dataInput id="d2"/>'
        f"<inputSet><dataInputRefs>d1</dataInputRefs>{members}</inputSet>"
        "<outputSet/></ioSpecification></task>"
    )


ACTIVITIES = [
    Case(
        "EXT020",
        "o",
        LINE + '<dataObject id="o" itemSubjectRef="str" isCollection="true"/>',
        LINE + '<dataObject id="o" itemSubjectRef="strs" isCollection="true"/>',
        STRING,
    ),
    Case(
        "EXT042",
        "t",
        _service(spec(IN_STR, OUT_STR).replace("<inputSet>", "<inputSet/><inputSet>")),
        SERVICE_GOOD,
        SERVICE_TOP,
    ),
    Case(
        "EXT043",
        "t",
        _service(spec(IN_STR, OUT_STR).replace("<outputSet>", "<outputSet/><outputSet>")),
        SERVICE_GOOD,
        SERVICE_TOP,
    ),
    Case("EXT044", "t", _service(spec(IN_NUM, OUT_STR)), SERVICE_GOOD, SERVICE_TOP),
    Case("EXT045", "t", _service(spec(IN_STR, OUT_NUM)), SERVICE_GOOD, SERVICE_TOP),
    Case(
        "EXT046",
        "t",
        _send(spec(IN_STR).replace("<inputSet>", "<inputSet/><inputSet>")),
        _send(spec(IN_STR)),
        STRING + TYPED_MESSAGE,
    ),
    Case(
        "EXT047",
        "t",
        _send(spec(IN_STR + IN_STR.replace('"di"', '"di2"'))),
        _send(spec(IN_STR)),
        STRING + TYPED_MESSAGE,
    ),
    Case("EXT048", "t", _send(spec(IN_NUM)), _send(spec(IN_STR)), STRING + TYPED_MESSAGE),
    Case(
        "EXT049",
        "r",
        '<startEvent id="s"/><receiveTask id="r" messageRef="msg" instantiate="true"/>'
        '<endEvent id="e"/>' + seq("s", "r", "e"),
        '<receiveTask id="r" messageRef="msg" instantiate="true"/><endEvent id="e"/>'
        + seq("r", "e"),
        MESSAGE,
    ),
    Case(
        "EXT050",
        "t",
        _receive(spec(outputs=OUT_STR).replace("<outputSet>", "<outputSet/><outputSet>")),
        _receive(spec(outputs=OUT_STR)),
        STRING + TYPED_MESSAGE,
    ),
    Case(
        "EXT051",
        "t",
        _receive(spec(outputs=OUT_STR + OUT_STR.replace('"do"', '"do2"'))),
        _receive(spec(outputs=OUT_STR)),
        STRING + TYPED_MESSAGE,
    ),
    Case(
        "EXT052",
        "t",
        _receive(spec(outputs=OUT_NUM)),
        _receive(spec(outputs=OUT_STR)),
        STRING + TYPED_MESSAGE,
    ),
    Case(
        "EXT053",
        "t",
        _task("scriptTask", "", "<script>x + 1</script>"),
        _task("scriptTask", 'scriptFormat="feel"', "<script>x + 1</script>"),
    ),
    Case(
        "EXT037",
        "t",
        line('<task id="t" startQuantity="0"/>'),
        line('<task id="t" startQuantity="1"/>'),
    ),
    Case(
        "EXT038",
        "t",
        line('<task id="t" completionQuantity="0"/>'),
        line('<task id="t" completionQuantity="1"/>'),
    ),
    Case("EXT063", "t", _call("num"), _call("str"), STRING + CALLED),
    Case(
        "EXT064",
        "p",
        LINE + SERVICE_PROCESS,
        LINE + SERVICE_PROCESS + BINDING.format(out="po"),
        INTERFACE,
    ),
    Case(
        "EXT065",
        "b1",
        LINE
        + SERVICE_PROCESS
        + BINDING.format(out="pi").replace("<ioBinding", '<ioBinding id="b1"'),
        LINE + SERVICE_PROCESS + BINDING.format(out="po"),
        INTERFACE,
    ),
    Case("EXT067", "t", _multi(""), _multi(CARDINALITY)),
    Case(
        "EXT068",
        "t",
        _multi("<loopDataInputRef>oi</loopDataInputRef>")
        + f'<task id="o">{spec(chr(60) + "dataInput id=" + chr(34) + "oi" + chr(34) + "/>")}</task>'
        + seq("o", "e"),
        _multi("<loopDataInputRef>list</loopDataInputRef>", LIST_OBJECT),
        STRING,
    ),
    Case(
        "EXT069",
        "t",
        _multi(
            CARDINALITY + "<loopDataOutputRef>list</loopDataOutputRef>"
            '<outputDataItem id="od" itemSubjectRef="num"/>',
            LIST_OBJECT,
        ),
        _multi(
            CARDINALITY + "<loopDataOutputRef>list</loopDataOutputRef>"
            '<outputDataItem id="od" itemSubjectRef="str"/>',
            LIST_OBJECT,
        ),
        STRING,
    ),
    Case(
        "EXT070",
        "t",
        _multi(
            LOOP_INPUT.format(item="num"),
            LIST_OBJECT,
        ),
        _multi(
            LOOP_INPUT.format(item="str"),
            LIST_OBJECT,
        ),
        STRING,
    ),
    Case(
        "EXT076",
        "r",
        LINE + STATE_OBJECT.format(name="Order"),
        LINE + STATE_OBJECT.format(name="Order [paid]"),
    ),
    Case(
        "EXT084",
        "d2",
        line(_set_refs("")),
        line(_set_refs("<dataInputRefs>d2</dataInputRefs>")),
    ),
    Case(
        "EXT085",
        "t",
        line(OPTIONAL.format(kind="optional", optional="d2")),
        line(OPTIONAL.format(kind="optional", optional="d1")),
    ),
    Case(
        "EXT086",
        "t",
        line(OPTIONAL.format(kind="whileExecuting", optional="d2")),
        line(OPTIONAL.format(kind="whileExecuting", optional="d1")),
    ),
    Case(
        "EXT087",
        "os",
        line(LINKED_SETS.format(outputs="")),
        line(LINKED_SETS.format(outputs="<outputSetRefs>os</outputSetRefs>")),
    ),
    Case(
        "EXT089",
        "t",
        line(OPTIONAL_OUT.format(kind="optional", optional="d2")),
        line(OPTIONAL_OUT.format(kind="optional", optional="d1")),
    ),
    Case(
        "EXT090",
        "t",
        line(OPTIONAL_OUT.format(kind="whileExecuting", optional="d2")),
        line(OPTIONAL_OUT.format(kind="whileExecuting", optional="d1")),
    ),
    Case(
        "EXT088",
        "do",
        line(f'<task id="t">{spec(outputs=OUT_STR, output_set="<outputSet/>")}</task>'),
        line(f'<task id="t">{spec(outputs=OUT_STR)}</task>'),
        STRING,
    ),
    Case(
        "EXT091",
        "da",
        _association("o1") + OBJECTS.replace("str", "num", 1),
        _association("o1") + OBJECTS,
        STRING,
    ),
    Case(
        "EXT092",
        "da",
        _association("o1", "o2") + OBJECTS,
        _association("o1", "o2", inner=TRANSFORM) + OBJECTS,
        STRING,
    ),
    Case(
        "EXT093",
        "c",
        line(MESSAGE_DATA.format(data=OUT_STR + OUT_STR.replace('"do"', '"do2"'))),
        line(MESSAGE_DATA.format(data=OUT_STR)),
        SERVICE_TOP,
    ),
    Case(
        "EXT094",
        "c",
        line(MESSAGE_DATA.format(data=OUT_NUM)),
        line(MESSAGE_DATA.format(data=OUT_STR)),
        SERVICE_TOP,
    ),
    Case(
        "EXT095",
        "c",
        line(
            INLINE_THROW,
            '<intermediateCatchEvent id="c"><eventDefinitionRef>sd'
            "</eventDefinitionRef></intermediateCatchEvent>",
        ),
        line(
            INLINE_THROW,
            '<intermediateCatchEvent id="c"><eventDefinitionRef>gd'
            "</eventDefinitionRef></intermediateCatchEvent>",
        ),
        '<signal id="sig" name="sig"/>',
        '<signal id="sig" name="sig"/><signalEventDefinition id="gd" signalRef="sig"/>',
    ),
    Case(
        "EXT099",
        "t",
        line('<callActivity id="t" calledElement="q"/>'),
        line('<callActivity id="t" calledElement="q"/>'),
        MESSAGE
        + '<process id="q">'
        + MESSAGE_START.replace('"s"', '"qs"')
        + '<endEvent id="qe"/>'
        + seq("qs", "qe")
        + "</process>",
        '<process id="q"><startEvent id="qs"/><endEvent id="qe"/>' + seq("qs", "qe") + "</process>",
    ),
]

REFERENCES = [
    Case(
        "EXT002",
        "c",
        line(
            '<intermediateCatchEvent id="c"><messageEventDefinition messageRef="nope"/>'
            "</intermediateCatchEvent>"
        ),
        line(MESSAGE_CATCH),
        MESSAGE,
    ),
    Case(
        "EXT002",
        "t",
        line('<callActivity id="t" calledElement="msg"/>'),
        line('<callActivity id="t" calledElement="elsewhere"/>'),
        MESSAGE,
    ),
    Case(
        "EXT002",
        "b",
        LINE + '<boundaryEvent id="b" attachedToRef="s"><timerEventDefinition>'
        '<timeDuration xsi:type="tFormalExpression">PT1M</timeDuration></timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e"),
        LINE + f'<boundaryEvent id="b" attachedToRef="t">{TIMER}</timerEventDefinition>'
        "</boundaryEvent>" + seq("b", "e"),
    ),
    Case(
        "EXT002",
        "d1",
        line(
            '<task id="t"><ioSpecification><dataInput id="d1" itemSubjectRef="msg"/>'
            "<inputSet><dataInputRefs>d1</dataInputRefs></inputSet><outputSet/>"
            "</ioSpecification></task>"
        ),
        line(
            '<task id="t"><ioSpecification><dataInput id="d1" itemSubjectRef="str"/>'
            "<inputSet><dataInputRefs>d1</dataInputRefs></inputSet><outputSet/>"
            "</ioSpecification></task>"
        ),
        MESSAGE + STRING,
    ),
]

CASES = (
    FLOWS
    + GATEWAYS
    + EVENT_GATEWAYS
    + EVENTS
    + SUB_PROCESSES
    + COLLABORATIONS
    + ACTIVITIES
    + REFERENCES
)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_model_is_refused_naming_rule_and_element(case: Case) -> None:
    found = issues(case.bad, case.top, case.attrs)

    assert any(i.rule == case.rule and i.location.element_id == case.element for i in found), [
        str(i) for i in found
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_close_valid_model_is_accepted(case: Case) -> None:
    top = case.top if case.good_top is None else case.good_top
    attrs = case.attrs if case.rule != "EXT035" else 'isExecutable="false" processType="Public"'

    assert [str(i) for i in issues(case.good, top, attrs)] == []


CATALOGUE: dict[str, str] = {
    "EXT006": "flows",
    "EXT007": "flows",
    "EXT008": "collaboration",
    "EXT009": "collaboration",
    "EXT011": "messages",
    "EXT012": "expressions",
    "EXT013": "expressions",
    "EXT017": "gateways",
    "EXT018": "gateways",
    "EXT019": "gateways",
    "EXT020": "data",
    "EXT021": "flows",
    "EXT022": "flows",
    "EXT023": "structure",
    "EXT024": "flows",
    "EXT025": "flows",
    "EXT026": "flows",
    "EXT031": "collaboration",
    "EXT035": "collaboration",
    "EXT036": "activities",
    "EXT042": "services",
    "EXT043": "services",
    "EXT044": "services",
    "EXT045": "services",
    "EXT046": "services",
    "EXT047": "services",
    "EXT048": "services",
    "EXT049": "tasks",
    "EXT050": "services",
    "EXT051": "services",
    "EXT052": "services",
    "EXT053": "tasks",
    "EXT056": "activities",
    "EXT057": "sub_processes",
    "EXT058": "sub_processes",
    "EXT059": "events",
    "EXT061": "activities",
    "EXT062": "sub_processes",
    "EXT063": "activities",
    "EXT064": "callables",
    "EXT065": "callables",
    "EXT067": "activities",
    "EXT068": "activities",
    "EXT069": "activities",
    "EXT070": "activities",
    "EXT076": "data",
    "EXT079": "sub_processes",
    "EXT084": "data",
    "EXT085": "data",
    "EXT086": "data",
    "EXT087": "data",
    "EXT088": "data",
    "EXT089": "data",
    "EXT090": "data",
    "EXT091": "data",
    "EXT092": "data",
    "EXT093": "messages",
    "EXT094": "messages",
    "EXT095": "events",
    "EXT096": "flows",
    "EXT097": "levels",
    "EXT098": "events",
    "EXT099": "callables",
    "EXT100": "events",
    "EXT101": "levels",
    "EXT102": "collaboration",
    "EXT103": "collaboration",
    "EXT104": "flows",
    "EXT105": "levels",
    "EXT106": "sub_processes",
    "EXT107": "levels",
    "EXT108": "collaboration",
    "EXT109": "collaboration",
    "EXT110": "events",
    "EXT111": "events",
    "EXT112": "flows",
    "EXT113": "events",
    "EXT114": "flows",
    "EXT115": "levels",
    "EXT116": "events",
    "EXT117": "flows",
    "EXT118": "links",
    "EXT119": "collaboration",
    "EXT122": "events",
    "EXT123": "messages",
    "EXT124": "links",
    "EXT125": "links",
    "EXT126": "links",
    "EXT127": "messages",
    "EXT128": "messages",
    "EXT135": "gateways",
    "EXT136": "gateways",
    "EXT137": "flows",
    "EXT138": "gateways",
    "EXT139": "gateways",
    "EXT140": "gateways",
    "EXT141": "gateways",
    "EXT142": "gateways",
    "EXT143": "events",
    "EXT144": "events",
    "EXT146": "events",
    "EXT148": "events",
    "EXT149": "events",
    "EXT150": "structure",
    "EXT151": "levels",
    "REF": "references",
}
"""Every constraint of the catalogue (../shared/standards/bpmn-constraints.md) and the rule
module of ``legato.bpmn.rules`` that checks it. The reference rule ``REF`` is reported as
``EXT002``."""

WITHOUT_STATEMENT = {
    "EXT001": "ids are unique (XSD)",
    "EXT003": "flow elements, processes and participants carry an id (XSD)",
    "EXT004": "textFormat is a MIME type",
    "EXT029": "participant multiplicity minimum",
    "EXT030": "participant multiplicity maximum",
    "EXT032": "contents of a global conversation",
    "EXT037": "startQuantity of at least 1",
    "EXT038": "completionQuantity of at least 1",
    "EXT039": "a resource role by reference or by expression",
    "EXT041": "not both a standard loop and multi-instance",
    "EXT054": "the same, for an ad-hoc sub-process",
    "EXT060": "a transaction method is a URI",
    "EXT072": "complexBehaviorDefinition only with behavior Complex",
    "EXT078": "root elements of the definitions",
    "EXT080": "data output associations target",
    "EXT082": "data input associations source",
    "EXT132": "timeDate in ISO 8601",
    "EXT133": "timeCycle in ISO 8601",
    "EXT134": "timeDuration in ISO 8601",
    "EXT145": "scriptFormat names a language",
    "EXT152": "a sequence flow and its ends lie in one scope",
}
"""Ids of the betsy numbering that the catalogue states no constraint for (they are covered by
the schema and the reference rule there), with what Legato checks under them."""

RULES_DIR = Path(__file__).resolve().parents[3] / "src" / "legato" / "bpmn" / "rules"
CATALOGUE_FILE = (
    Path(__file__).resolve().parents[4] / "shared" / "standards" / "bpmn-constraints.md"
)


def test_the_table_lists_every_constraint_of_the_catalogue() -> None:
    if not CATALOGUE_FILE.is_file():
        pytest.skip("the constraint catalogue is not available")
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    ids = {f"EXT{n}" for n in re.findall(r"^\| EXT\.(\d{3}) \|", text, re.MULTILINE)}

    assert ids | {"REF"} == set(CATALOGUE)


@pytest.mark.parametrize("rule", sorted(CATALOGUE))
def test_each_constraint_is_checked_in_its_module_and_tested(rule: str) -> None:
    reported = "EXT002" if rule == "REF" else rule
    source = (RULES_DIR / f"{CATALOGUE[rule]}.py").read_text(encoding="utf-8")

    assert f'"{reported}"' in source
    assert any(case.rule == reported for case in CASES)


def test_every_id_in_the_rules_is_a_catalogue_id_or_listed() -> None:
    used = set()
    for module in RULES_DIR.glob("*.py"):
        used |= set(re.findall(r'"(EXT\d{3})"', module.read_text(encoding="utf-8")))

    assert used <= set(CATALOGUE) | set(WITHOUT_STATEMENT) | {"EXT002"}
