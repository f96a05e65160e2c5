"""The BPMN MIWG interchange files: every modeler's export reads, and means what it should.

The corpus lives outside the repository (see ``LEGATO_CORPORA``). Each tool folder holds the
reference models as that tool exported them (``*-export.bpmn``) or read and wrote them back
(``*-roundtrip.bpmn``); their semantic content is compared with ``Reference/``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from legato.bpmn import read_bpmn
from legato.errors import BpmnParseError
from legato.model import BoundaryEvent, Definitions, Event

_DEFAULT_CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
MIWG = Path(os.environ.get("LEGATO_CORPORA", _DEFAULT_CORPORA)) / "bpmn-miwg"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MIWG.is_dir(), reason=f"MIWG corpus not found at {MIWG}"),
]

MALFORMED = {
    # Declared UTF-8 but written in another encoding (bytes invalid in UTF-8).
    "GenMyModel 0.47/C.1.0-export.bpmn",
    "GenMyModel 0.47/C.1.0-roundtrip.bpmn",
    "GenMyModel 0.47/C.1.1-export.bpmn",
    "GenMyModel 0.47/C.1.1-roundtrip.bpmn",
    # A namespace declaration whose URI contains spaces.
    "IBM Process Designer 8.0.1/A.3.0-export.bpmn",
    "IBM Process Designer 8.0.1/A.3.0-roundtrip.bpmn",
}

_CALLED = "the processes only called by call activities (in no pool) are not exported"
_CALL = "collapsed sub-processes become call activities"

KNOWN_DIFFERENCES = {
    "Activiti Designer 5.14.1/A.1.0-export.bpmn": "abstract tasks exported as user tasks",
    "Activiti Designer 5.14.1/A.2.0-export.bpmn": "abstract tasks exported as user tasks",
    "Activiti Designer 5.14.1/A.3.0-export.bpmn": (
        "abstract tasks exported as user tasks; the escalation boundary event is dropped and "
        "the non-interrupting message boundary event becomes interrupting"
    ),
    "Bonita BPM 7.2.3/A.3.0-export.bpmn": (
        f"{_CALL} (losing their content); the escalation boundary event is dropped and the "
        "non-interrupting message boundary event becomes interrupting"
    ),
    "Bonita BPM 7.2.3/A.3.0-roundtrip.bpmn": (
        f"{_CALL}; the escalation boundary event is dropped and the non-interrupting message "
        "boundary event becomes interrupting"
    ),
    "Bonita BPM 7.2.3/A.4.0-export.bpmn": (
        f"{_CALL}; tasks become send and receive tasks; an end event is dropped"
    ),
    "Bonita BPM 7.2.3/A.4.0-roundtrip.bpmn": _CALL,
    "Bonita BPM 7.2.3/A.4.1-roundtrip.bpmn": _CALL,
    "Bonita BPM 7.2.3/B.1.0-roundtrip.bpmn": f"{_CALL}; a message event definition is dropped",
    "Bonita BPM 7.2.3/B.2.0-export.bpmn": "most of the model is missing (20 of 85 flows)",
    "Bonita BPM 7.2.3/B.2.0-roundtrip.bpmn": (
        f"{_CALL}; escalation, conditional and signal events become error events or none "
        "events; the event-based gateway becomes exclusive; an eventDefinitionRef names a signal"
    ),
    "Bonita BPM 7.2.3/C.1.0-export.bpmn": (
        "tasks exported as service and send tasks; the event-based gateway becomes inclusive; "
        "message event definitions are dropped"
    ),
    "Bonita BPM 7.2.3/C.1.0-roundtrip.bpmn": (
        "the event-based gateway becomes exclusive; message event definitions are dropped"
    ),
    "Bonita BPM 7.2.3/C.1.1-export.bpmn": "a user task exported as a service task",
    "Bonita BPM 7.2.3/C.2.0-roundtrip.bpmn": (
        f"{_CALL}; a message event's eventDefinitionRef names an id that does not exist"
    ),
    "Bonita BPM 7.2.3/C.3.0-export.bpmn": f"{_CALL}; the boundary timer loses it",
    "Bonita BPM 7.2.3/C.3.0-roundtrip.bpmn": f"{_CALL}; the boundary timer loses it",
    "Camunda Eclipse Plugin 3.0.0/A.4.0-export.bpmn": "only one pool's process (2 tasks) exported",
    "Camunda Eclipse Plugin 3.0.0/A.4.1-export.bpmn": "the processes are exported empty",
    "Camunda Eclipse Plugin 3.0.0/B.1.0-export.bpmn": _CALLED,
    "Camunda Eclipse Plugin 3.0.0/B.2.0-export.bpmn": _CALLED,
    "Camunda Eclipse Plugin 3.0.0/C.3.0-export.bpmn": f"{_CALL}; the boundary timer loses it",
    "Enterprise Explorer 1.0.0/B.1.0-export.bpmn": _CALLED,
    "Enterprise Explorer 1.0.0/B.1.0-roundtrip.bpmn": "a called process lost its 2 flows",
    "Enterprise Explorer 1.0.0/B.2.0-roundtrip.bpmn": (
        "boundary events written as intermediate catch events"
    ),
    "Enterprise Explorer 1.0.0/C.2.0-roundtrip.bpmn": (
        "the boundary event written as an intermediate catch event, one flow crosses a "
        "sub-process boundary"
    ),
    "Enterprise Explorer 1.0.0/C.3.0-export.bpmn": (
        "boundary events written as intermediate catch events; the timer loses its timer"
    ),
    "Enterprise Explorer 1.0.0/C.3.0-roundtrip.bpmn": (
        "boundary events written as intermediate catch events; the timer loses its timer"
    ),
    "Enterprise Explorer 1.0.0/C.4.0-export.bpmn": "elements and flows of two pools are missing",
    "Enterprise Explorer 1.0.0/C.4.0-roundtrip.bpmn": "elements and flows of two pools are missing",
    "Enterprise Explorer 1.0.0/C.5.0-export.bpmn": "6 sequence flows are missing",
    "GenMyModel 0.47/A.2.0-export.bpmn": "an exclusive gateway exported as a parallel gateway",
    "GenMyModel 0.47/B.1.0-export.bpmn": f"call activities become sub-processes; {_CALLED}",
    "GenMyModel 0.47/B.2.0-export.bpmn": (
        f"call activities become sub-processes; {_CALLED}; gateway and event types changed"
    ),
    "GenMyModel 0.47/C.2.0-export.bpmn": (
        "start events exported as intermediate catch events (one as a boundary event)"
    ),
    "IBM Process Designer 8.0.1/A.1.0-export.bpmn": "abstract tasks exported as service tasks",
    "IBM Process Designer 8.0.1/A.1.0-roundtrip.bpmn": "abstract tasks exported as service tasks",
    "IBM Process Designer 8.0.1/A.2.0-export.bpmn": (
        "abstract tasks exported as service tasks; a sequence flow is missing"
    ),
    "IBM Process Designer 8.0.1/A.2.0-roundtrip.bpmn": "abstract tasks exported as service tasks",
    "ModelFoundry 1.1.1/A.2.1-roundtrip.bpmn": "2 of the 11 sequence flows are missing",
    "ModelFoundry 1.1.1/B.2.0-roundtrip.bpmn": (
        "intermediate throw events are missing, their flows point at nothing"
    ),
    "ModelFoundry 1.1.1/C.2.0-roundtrip.bpmn": (
        "an intermediate throw event is missing, its flows point at nothing"
    ),
    "Modelio 3.5/A.2.0-export.bpmn": "exclusive gateways exported as parallel gateways",
    "Modelio 3.5/A.3.0-export.bpmn": (
        "the escalation boundary event becomes a signal; non-interrupting becomes interrupting"
    ),
    "Modelio 3.5/A.3.0-roundtrip.bpmn": "a non-interrupting boundary event becomes interrupting",
    "Modelio 3.5/B.2.0-export.bpmn": "non-interrupting boundary events become interrupting",
    "Modelio 3.5/B.2.0-roundtrip.bpmn": "non-interrupting boundary events become interrupting",
    "SAP Signavio Process Manager 19.9.0/B.1.0-export.bpmn": _CALLED,
    "SAP Signavio Process Manager 19.9.0/B.1.0-roundtrip.bpmn": _CALLED,
    "SAP Signavio Process Manager 19.9.0/B.2.0-export.bpmn": _CALLED,
    "SAP Signavio Process Manager 19.9.0/B.2.0-roundtrip.bpmn": (
        f"{_CALLED}; boundary events are written into another process than their activity"
    ),
    **{
        f"SAP Signavio Process Manager 19.9.0/C.{model}-{kind}.{part}.bpmn": (
            "the model is split over several files, one per pool"
        )
        for model, parts in (("4.0", 4), ("5.0", 2))
        for kind in ("export", "roundtrip")
        for part in range(1, parts + 1)
    },
    "SAP Signavio Process Manager 19.9.0/C.9.0-export.bpmn": (
        "the call activity becomes a sub-process; a flow points at a missing element"
    ),
    "Trisotech BPMN Visio Add in 5.0.1/B.1.0-export.bpmn": (
        "typed tasks become abstract tasks; message definitions and a flow are dropped"
    ),
    "Trisotech BPMN Visio Add in 5.0.1/B.2.0-export.bpmn": (
        "many element and event types changed or dropped; flows point at missing elements"
    ),
    "Trisotech BPMN Visio Add in 5.0.1/C.2.0-export.bpmn": (
        "an intermediate throw event exported as a catch event"
    ),
    "Trisotech BPMN Visio Add in 5.0.1/C.3.0-export.bpmn": "a sequence flow is missing",
    "Trisotech Workflow Modeler 12.6.3/B.1.0-export.bpmn": _CALLED,
    "Trisotech Workflow Modeler 12.6.3/B.2.0-export.bpmn": _CALLED,
    "Trisotech Workflow Modeler 12.6.3/C.3.0-export.bpmn": "a sequence flow is missing",
    "Trisotech Workflow Modeler 12.6.3/C.8.0-export.bpmn": (
        "the process is written six times, once per language"
    ),
    "Trisotech Workflow Modeler 12.6.3/C.8.1-export.bpmn": (
        "the process is written six times, once per language"
    ),
    "Visual Paradigm 11.1/A.3.0-roundtrip.bpmn": "two flows cross a sub-process boundary",
    "Visual Paradigm 11.1/B.1.0-roundtrip.bpmn": "call activities become sub-processes",
    "Visual Paradigm 11.1/B.2.0-roundtrip.bpmn": (
        "call activities become sub-processes; an intermediate event becomes a boundary event; "
        "three flows cross a sub-process boundary"
    ),
    "W4 BPMN+ Composer V.10.4/B.1.0-export.bpmn": "a sequence flow is missing",
    "W4 BPMN+ Composer V.10.4/B.2.0-export.bpmn": f"{_CALLED}; event types changed",
    "W4 BPMN+ Composer V.10.4/C.2.0-export.bpmn": "a message event exported as a signal event",
    "W4 BPMN+ Composer V.10.4/C.5.0-export.bpmn": "a user task exported as an abstract task",
    "W4 BPMN+ Composer V.9.4/A.3.0-export.bpmn": "a boundary event's type changed",
    "W4 BPMN+ Composer V.9.4/B.2.0-export.bpmn": f"{_CALLED}; event types changed",
    "Yaoqiang BPMN Editor 4.0/A.2.1-export.bpmn": "2 of the 11 sequence flows are missing",
    "Yaoqiang BPMN Editor 4.0/A.2.1-roundtrip.bpmn": "2 of the 11 sequence flows are missing",
    "Yaoqiang BPMN Editor 4.0/B.2.0-export.bpmn": _CALLED,
    "actiBPM 3.E-8/A.1.0-export.bpmn": "abstract tasks exported as user tasks",
    "actiBPM 3.E-8/A.2.0-export.bpmn": "abstract tasks exported as user tasks",
    "actiBPM 3.E-8/A.3.0-export.bpmn": (
        "abstract tasks exported as user tasks; boundary events dropped, their flows dangle"
    ),
    "actiBPM 3.E-8/A.4.0-export.bpmn": "abstract tasks exported as user tasks",
    "actiBPM 3.E-8/B.1.0-export.bpmn": f"abstract tasks exported as user tasks; {_CALLED}",
    "actiBPM 3.E-8/B.2.0-export.bpmn": (
        f"abstract tasks exported as user tasks; {_CALLED}; most event definitions dropped"
    ),
    "bpmn.io (Camunda Modeler) 18.6.1/B.1.0-export.bpmn": (
        f"a call activity becomes a sub-process; {_CALLED}"
    ),
    "bpmn.io (Camunda Modeler) 18.6.1/B.2.0-export.bpmn": (
        f"a call activity becomes a sub-process; {_CALLED}; gateway types changed"
    ),
    "bpmn.io (Camunda Modeler) 18.6.1/C.2.0-export.bpmn": (
        "the message start event 'Receive Order' becomes a none start event"
    ),
    "bpmn.io (Camunda Modeler) 18.6.1/C.4.0-export.bpmn": "only the 'Money Bank' pool is exported",
    "bpmn.io (Camunda Modeler) 18.6.1/C.5.0-export.bpmn": "only the 'Bank' pool is exported",
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/A.2.0-export.bpmn": (
        "exclusive gateways exported as inclusive gateways"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/A.3.0-export.bpmn": (
        "boundary events written as a start event and a throw event"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/A.3.0-roundtrip.bpmn": (
        "the collapsed sub-process becomes a task"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/A.4.0-roundtrip.bpmn": (
        "a flow crosses a sub-process boundary, another is missing"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/A.4.1-roundtrip.bpmn": (
        "a flow crosses a sub-process boundary"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/B.1.0-export.bpmn": (
        "call activities become sub-processes or tasks; a gateway type changed"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/B.1.0-roundtrip.bpmn": (
        "call activities become sub-processes or tasks"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/B.2.0-export.bpmn": (
        "boundary events written as start events; activity and event types changed"
    ),
    "iGrafx Process 2013 for Six Sigma 15.0.4.1565/B.2.0-roundtrip.bpmn": (
        "the file holds root elements only, no process"
    ),
    "ibo Prometheus 3.9.0.0/A.4.0-roundtrip.bpmn": "only one pool's process (2 tasks) written",
    "ibo Prometheus 3.9.0.0/B.1.0-roundtrip.bpmn": _CALLED,
    "ibo Prometheus 3.9.0.0/B.2.0-roundtrip.bpmn": _CALLED,
}

_TOOL_FILE = re.compile(r"^([ABC]\.\d\.\d)-(export|roundtrip)\b")


@dataclass(frozen=True)
class Summary:
    """The semantic content of a file that an interchange must keep."""

    node_kinds: Counter[str]
    event_definitions: Counter[str]
    sequence_flows: int
    boundary_attachments: Counter[tuple[str, tuple[str, ...], bool]]
    """(kind of the host activity, event definition kinds, interrupting) per boundary event."""


def summarize(definitions: Definitions) -> Summary:
    kinds: Counter[str] = Counter()
    event_definitions: Counter[str] = Counter()
    attachments: Counter[tuple[str, tuple[str, ...], bool]] = Counter()
    flows = 0
    for process in definitions.processes:
        if process.global_task:
            continue  # global tasks are not flow elements of the drawn model
        flows += len(process.flows)
        for element in process.elements.values():
            kinds[element.kind] += 1
            if not isinstance(element, Event):
                continue
            names = tuple(sorted(type(d).__name__ for d in element.event_definitions))
            event_definitions.update(names)
            if isinstance(element, BoundaryEvent) and element.attached_to in process.elements:
                host = process.elements[element.attached_to].kind
                attachments[(host, names, element.cancel_activity)] += 1
    return Summary(kinds, event_definitions, flows, attachments)


@cache
def read_all() -> dict[str, Definitions | BpmnParseError]:
    results: dict[str, Definitions | BpmnParseError] = {}
    for path in sorted(MIWG.rglob("*.bpmn")):
        key = path.relative_to(MIWG).as_posix()
        try:
            results[key] = read_bpmn(path)
        except BpmnParseError as exc:
            results[key] = exc
    return results


def test_every_file_reads_or_fails_with_a_parse_error_naming_its_line() -> None:
    results = read_all()

    failed = {key for key, result in results.items() if isinstance(result, BpmnParseError)}

    assert len(results) > 450
    assert failed == MALFORMED
    for key in failed:
        error = results[key]
        assert isinstance(error, BpmnParseError)
        assert error.location.file is not None and error.location.file.endswith(key)
        assert error.location.line is not None


def _tool_exports() -> list[tuple[str, str]]:
    pairs = []
    for key, result in read_all().items():
        tool, _, name = key.partition("/")
        match = _TOOL_FILE.match(name)
        if tool != "Reference" and match and isinstance(result, Definitions):
            pairs.append((key, match.group(1)))
    return pairs


def test_tool_exports_keep_the_semantics_of_the_reference_models() -> None:
    results = read_all()
    pairs = _tool_exports()
    unexpected = []
    fixed = []

    for key, model in pairs:
        reference, exported = results[f"Reference/{model}.bpmn"], results[key]
        assert isinstance(reference, Definitions) and isinstance(exported, Definitions)
        same = summarize(exported) == summarize(reference)
        if not same and key not in KNOWN_DIFFERENCES:
            unexpected.append(key)
        if same and key in KNOWN_DIFFERENCES:
            fixed.append(key)

    assert len(pairs) > 400
    assert unexpected == []
    assert fixed == [], "listed as known differences but equal to the reference"
    assert set(KNOWN_DIFFERENCES) <= {key for key, _ in pairs}


def test_a_faithful_export_matches_in_detail() -> None:
    results = read_all()
    reference = results["Reference/B.2.0.bpmn"]
    exported = results["Camunda Eclipse Plugin 3.0.0/B.2.0-roundtrip.bpmn"]
    assert isinstance(reference, Definitions) and isinstance(exported, Definitions)

    summary = summarize(reference)

    assert summary == summarize(exported)
    assert summary.sequence_flows == 85
    assert summary.node_kinds["boundaryEvent"] == 11
    assert sum(summary.boundary_attachments.values()) == 11


EXECUTABLE_REFERENCE_PROBLEMS: dict[str, set[tuple[str, str]]] = {
    "C.1.0": set(),
    # Conditions written as XPath calls (bpmn:getDataObject('approved')), not FEEL or JUEL.
    "C.1.1": {
        ("expression", "invoiceApproved"),
        ("expression", "invoiceNotApproved"),
        ("expression", "reviewSuccessful"),
        ("expression", "reviewNotSuccessful"),
    },
    # A Java-style condition: Service Level == 'Premium'.
    "C.3.0": {("expression", "_be893987-caec-4605-b078-bd96b7cd6c12")},
    "C.8.1": set(),
    "C.9.0": set(),
    "C.9.1": set(),
    "C.9.2": set(),
}


def test_reference_models_marked_executable_read_without_unexpected_problems() -> None:
    results = read_all()
    found: dict[str, set[tuple[str, str]]] = {}

    for key, result in results.items():
        if not key.startswith("Reference/C.") or not isinstance(result, Definitions):
            continue
        for process in result.processes:
            if _marked_executable(key, process.process_id):
                model = key.removeprefix("Reference/").removesuffix(".bpmn")
                found.setdefault(model, set()).update(
                    (issue.rule, issue.location.element_id or "") for issue in process.problems
                )

    assert found == EXECUTABLE_REFERENCE_PROBLEMS


def _marked_executable(key: str, process_id: str) -> bool:
    """True when the process says isExecutable="true" (not merely leaves it out)."""
    text = (MIWG / key).read_text(encoding="utf-8", errors="replace")
    pattern = rf'<(?:\w+:)?process\b[^>]*\bid="{re.escape(process_id)}"[^>]*>'
    match = re.search(pattern, text)
    return match is not None and 'isExecutable="true"' in match.group()
