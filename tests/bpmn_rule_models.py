"""Small BPMN bodies for the constraint tests: a process, its pieces and the wrapping document."""

from __future__ import annotations

import itertools

HEADER = (
    '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:tns="urn:test" targetNamespace="urn:test">'
)


def document(body: str, top: str = "", attrs: str = 'isExecutable="true"') -> str:
    """A definitions document: process ``p`` holding ``body``, plus top-level elements."""
    return f'{HEADER}{top}<process id="p" {attrs}>{body}</process></definitions>'


def flow(flow_id: str, source: str, target: str, inner: str = "") -> str:
    """A sequence flow, with an optional condition or other content."""
    ends = f'sourceRef="{source}" targetRef="{target}"'
    return f'<sequenceFlow id="{flow_id}" {ends}>{inner}</sequenceFlow>'


def seq(*ids: str) -> str:
    """Sequence flows along ``ids``, named ``f_<source>_<target>``."""
    return "".join(flow(f"f_{a}_{b}", a, b) for a, b in itertools.pairwise(ids))


def line(*middle: str, start: str = '<startEvent id="s"/>', end: str = '<endEvent id="e"/>') -> str:
    """A start event, the given nodes (by their markup) and an end event, chained in order."""
    ids = [_id_of(node) for node in middle]
    return start + "".join(middle) + end + seq(_id_of(start), *ids, _id_of(end))


def _id_of(markup: str) -> str:
    return markup.split('id="', 1)[1].split('"', 1)[0]


COND = '<conditionExpression xsi:type="tFormalExpression">x &lt; 2</conditionExpression>'
TASK = '<task id="t"/>'
LINE = line(TASK)


def gateway(kind: str = "exclusiveGateway", attrs: str = "", inner: str = "") -> str:
    """Start, a split gateway ``g`` to tasks ``a`` and ``b`` (``a`` conditional), and an end."""
    return (
        f'<startEvent id="s"/><{kind} id="g" {attrs}/><task id="a"/><task id="b"/>'
        '<endEvent id="e"/>'
        + flow("f_s_g", "s", "g")
        + flow("fa", "g", "a", inner)
        + flow("fb", "g", "b")
        + seq("a", "e")
        + flow("f_b_e", "b", "e")
    )


def pools(process_part: str = "p", other: str = "pb") -> str:
    """Participant ``pa`` for process ``p`` and a second, black-box participant ``other``."""
    return f'<participant id="pa" processRef="{process_part}"/><participant id="{other}"/>'


def collaboration(message_flow: str, participants: str = "") -> str:
    """A collaboration of the two pools of :func:`pools` with one message flow."""
    return f'<collaboration id="collab">{participants or pools()}{message_flow}</collaboration>'


def message_flow(source: str, target: str) -> str:
    """Message flow ``m`` from ``source`` to ``target``."""
    return f'<messageFlow id="m" sourceRef="{source}" targetRef="{target}"/>'


def event_sub_process(start: str, sub_id: str = "esp") -> str:
    """An event sub-process with the given start event (id ``es``) and an end event."""
    return (
        f'<subProcess id="{sub_id}" triggeredByEvent="true">{start}<endEvent id="ee"/>'
        + flow("f_es_ee", "es", "ee")
        + "</subProcess>"
    )


def spec(inputs: str = "", outputs: str = "", input_set: str = "", output_set: str = "") -> str:
    """An ioSpecification; the sets list every data input and output unless given."""
    if not input_set:
        refs = "".join(f"<dataInputRefs>{i}</dataInputRefs>" for i in _ids(inputs))
        input_set = f"<inputSet>{refs}</inputSet>"
    if not output_set:
        refs = "".join(f"<dataOutputRefs>{o}</dataOutputRefs>" for o in _ids(outputs))
        output_set = f"<outputSet>{refs}</outputSet>"
    return f"<ioSpecification>{inputs}{outputs}{input_set}{output_set}</ioSpecification>"


def _ids(markup: str) -> list[str]:
    return [part.split('"', 1)[0] for part in markup.split('id="')[1:]]


def items(*pairs: tuple[str, str], collection: str = "") -> str:
    """Item definitions ``(id, structureRef)``; ids in ``collection`` are collections."""
    found = []
    for item_id, structure in pairs:
        many = ' isCollection="true"' if item_id in collection.split() else ""
        found.append(f'<itemDefinition id="{item_id}" structureRef="{structure}"{many}/>')
    return "".join(found)
