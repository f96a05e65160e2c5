"""The model a scenario runs on: its process, checked against the scenario, and its XML with
the branch probabilities wired in.

A gateway given probabilities in ``[branches.<gatewayId>]`` decides on a variable the
simulation draws when an instance starts: the conditions of its outgoing flows are replaced
by ``=simBranchN = "<flowId>"`` (its default flow keeps none and is taken when no condition
holds). A gateway passed several times by one instance takes the same branch each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from legato.bpmn import read_bpmn
from legato.errors import BpmnParseError
from legato.model import ElementKind, MessageEventDefinition, ProcessDefinition, UserTask
from legato.model.elements import JobWorkerTask
from legato.model.queries import definition_of
from legato.safexml import parse_xml, read_source
from legato.simulation.scenario import Scenario

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
BRANCHING = (ElementKind.EXCLUSIVE_GATEWAY, ElementKind.INCLUSIVE_GATEWAY)


@dataclass(frozen=True, slots=True)
class SimulatedModel:
    """A model ready to simulate: the XML to deploy and the variable of each branching
    gateway (drawn per instance from its probabilities)."""

    process: ProcessDefinition
    xml: bytes
    branch_variables: dict[str, str]
    """Gateway id to the name of the variable its conditions test."""


def prepare_model(path: str | Path, scenario: Scenario) -> SimulatedModel:
    """Read the model, check the scenario against it, and wire in the branch probabilities.

    Raises:
        ScenarioError: the scenario names an element the process does not have (or one that
            cannot take what it is given), with the scenario's line.
        BpmnParseError: the model cannot be read.
    """
    definitions = read_bpmn(Path(path))
    process = _choose_process(scenario, definitions.processes, str(path))
    check_against(scenario, process)
    data, name = read_source(Path(path), BpmnParseError)
    root = parse_xml(data, name, BpmnParseError)
    variables: dict[str, str] = {}
    for index, gateway_id in enumerate(sorted(scenario.branches)):
        variable = f"simBranch{index}"
        variables[gateway_id] = variable
        default = process.element(gateway_id).default_flow
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            flow_id = flow.get("id")
            if flow.get("sourceRef") != gateway_id or flow_id is None:
                continue
            for old in flow.findall(f"{{{BPMN_NS}}}conditionExpression"):
                flow.remove(old)
            if flow_id == default:
                continue
            condition = etree.SubElement(flow, f"{{{BPMN_NS}}}conditionExpression")
            condition.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
            condition.text = f'={variable} = "{flow_id}"'
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return SimulatedModel(process, xml, variables)


def _choose_process(
    scenario: Scenario, processes: tuple[ProcessDefinition, ...], file: str
) -> ProcessDefinition:
    executable = [p for p in processes if p.is_executable]
    if scenario.process_id is not None:
        for process in executable:
            if process.process_id == scenario.process_id:
                return process
        raise scenario.error(f"{file} has no executable process '{scenario.process_id}'", "process")
    if len(executable) != 1:
        ids = [p.process_id for p in executable]
        raise scenario.error(
            f'{file} has {len(ids)} executable processes {ids}: name one with process = "..."'
        )
    return executable[0]


def takes_duration(process: ProcessDefinition, element_id: str) -> bool:
    """Whether the element waits for work the simulation completes (a job or a user task)."""
    element = process.elements[element_id]
    if isinstance(element, UserTask):
        return True
    return isinstance(element, JobWorkerTask) and element.job_type is not None


def check_against(scenario: Scenario, process: ProcessDefinition) -> None:
    """Refuse element ids the process does not have, or that cannot take what is given.

    Raises:
        ScenarioError: with the line of the offending key.
    """
    elements = process.elements
    for element_id in scenario.tasks:
        if element_id not in elements:
            raise scenario.error(_unknown(process, element_id), "tasks", element_id)
        if not takes_duration(process, element_id):
            kind = elements[element_id].kind
            raise scenario.error(
                f"element '{element_id}' is a {kind} that waits for no job nor person: only "
                "job worker tasks and user tasks take a duration",
                "tasks",
                element_id,
            )
    for gateway_id, probabilities in scenario.branches.items():
        if gateway_id not in elements:
            raise scenario.error(_unknown(process, gateway_id), "branches", gateway_id)
        gateway = elements[gateway_id]
        if gateway.kind not in BRANCHING:
            raise scenario.error(
                f"element '{gateway_id}' is a {gateway.kind}, not an exclusive or inclusive "
                "gateway",
                "branches",
                gateway_id,
            )
        for flow_id in probabilities:
            if flow_id not in gateway.outgoing:
                raise scenario.error(
                    f"'{flow_id}' is not an outgoing flow of gateway '{gateway_id}' "
                    f"(those are {list(gateway.outgoing)})",
                    "branches",
                    gateway_id,
                    flow_id,
                )
    for element_id in scenario.messages:
        if element_id not in elements:
            raise scenario.error(_unknown(process, element_id), "messages", element_id)
        if not isinstance(definition_of(elements[element_id]), MessageEventDefinition):
            raise scenario.error(
                f"element '{element_id}' does not wait for a message", "messages", element_id
            )
    for key in scenario.sla:
        if key != "process" and key not in elements:
            raise scenario.error(_unknown(process, key), "sla", key)


def _unknown(process: ProcessDefinition, element_id: str) -> str:
    return f"unknown element '{element_id}': process '{process.process_id}' has no such element"
