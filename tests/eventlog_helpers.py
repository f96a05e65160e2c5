"""Shared by the event log tests: a varied set of instances, the XES schema, a reader of
exported logs, and the events a log must hold, derived from ``engine.history`` alone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from bpmn_helpers import chain, flow, process, service
from legato import Engine
from legato.testing import TestEngine

XES_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "standards" / "xes-ieee-1849-2016.xsd"
"""The standard's XML schema (``shared/standards`` beside the repository)."""

DELIVERY = (
    '<bpmn:process id="delivery" name="Delivery" isExecutable="true">'
    '<bpmn:startEvent id="ds"/>'
    '<bpmn:userTask id="sign" name="Sign for parcel"/>'
    '<bpmn:endEvent id="de"/>' + chain("ds", "sign", "de", prefix="d") + "</bpmn:process>"
)

ORDER = process(
    '<bpmn:startEvent id="s" name="Order received"/>'
    '<bpmn:parallelGateway id="fork"/>'
    + service("stock", "stock", attrs='name="Check &amp; reserve &quot;stock&quot;"')
    + '<bpmn:userTask id="approve" name="Approve order"/>'
    '<bpmn:parallelGateway id="join"/>'
    '<bpmn:subProcess id="ship" name="Ship">'
    '<bpmn:startEvent id="ss"/><bpmn:task id="pack" name="Pack"/>'
    '<bpmn:callActivity id="deliver" name="Deliver" calledElement="delivery"/>'
    '<bpmn:endEvent id="se"/>'
    + chain("ss", "pack", "deliver", "se", prefix="g")
    + "</bpmn:subProcess>"
    '<bpmn:task id="notify" name="Notify">'
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>=2</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
    '<bpmn:endEvent id="e" name="Done"/>'
    + flow("f1", "s", "fork")
    + flow("f2", "fork", "stock")
    + flow("f3", "fork", "approve")
    + flow("f4", "stock", "join")
    + flow("f5", "approve", "join")
    + chain("join", "ship", "notify", "e"),
    "order",
    extra=DELIVERY,
)
"""Parallel branches (a service task beside a user task), a sub-process holding a call
activity, a multi-instance task; the called process has a user task too."""

BUSINESS_KEY = 'cust "42", line\nbreak & <more>'
"""A business key with everything XML and CSV must escape."""

STEP = timedelta(minutes=7, milliseconds=250, microseconds=125)


@dataclass
class Varied:
    """The instances :func:`run_varied` made (keys)."""

    engine: TestEngine
    completed: list[int] = field(default_factory=list)
    terminated: int = 0
    active: int = 0
    children: list[int] = field(default_factory=list)


def run_varied(engine: TestEngine) -> Varied:
    """Two completed orders (approved by ann, then bob; parcels signed by carl), one cancelled
    while waiting for approval, one still waiting; time moves between steps."""
    engine.deploy(ORDER)
    engine.task("stock")(lambda job: {"reserved": True})
    made = Varied(engine)
    for approver, key in (("ann", BUSINESS_KEY), ("bob", None)):
        instance = engine.start("order", business_key=key)
        engine.clock.advance(STEP)
        engine.run_until_idle()
        engine.clock.advance(STEP)
        _complete(engine, "approve", approver)
        engine.clock.advance(STEP)
        _complete(engine, "sign", "carl")
        engine.clock.advance(STEP)
        made.completed.append(instance.key)
    cancelled = engine.start("order", business_key="to-cancel")
    engine.clock.advance(STEP)
    engine.cancel(cancelled.key, by="dora")
    made.terminated = cancelled.key
    engine.clock.advance(STEP)
    made.active = engine.start("order").key
    engine.run_until_idle()
    made.children = [i.key for i in engine.instances(process_id="delivery")]
    return made


def _complete(engine: TestEngine, element_id: str, user: str) -> None:
    [task] = [t for t in engine.user_tasks() if t.element_id == element_id]
    engine.claim_user_task(task.user_task_key, user)
    engine.complete_user_task(task.user_task_key, user=user)


def millis(value: datetime) -> datetime:
    """``value`` in UTC cut to milliseconds (XES's resolution)."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Expected:
    """One log event as the history says it must be."""

    activity: str
    element_instance_key: int
    transition: str
    at: datetime
    resource: str | None
    element_id: str
    element_type: str
    position: int


def expected_events(
    engine: Engine, instance_key: int, names: dict[str, str], activities_only: bool = False
) -> list[Expected]:
    """The log events of an instance, derived from its history: a start per element instance
    entered, a complete or ate_abort when it ends, the user who completed a user task on its
    complete; multi-instance bodies left out (their inner instances are the activity)."""
    found: list[Expected] = []
    opened: dict[int, tuple[str, str]] = {}
    left_out: set[int] = set()
    tasks: dict[int, int] = {}
    completed_by: dict[int, str] = {}
    for entry in engine.history(instance_key):
        details = entry.details
        if entry.event_type == "ElementActivated":
            kind = details["element_kind"]
            if details["is_mi_body"] or (activities_only and _not_activity(kind)):
                left_out.add(details["key"])
                continue
            opened[details["key"]] = (details["element_id"], kind)
            transition, resource = "start", None
        elif entry.event_type in ("ElementCompleted", "ElementTerminated"):
            if details["key"] in left_out:
                continue
            transition = "complete" if entry.event_type == "ElementCompleted" else "ate_abort"
            resource = completed_by.get(details["key"])
        else:
            if entry.event_type == "UserTaskCreated":
                tasks[details["user_task_key"]] = details["element_instance_key"]
            elif entry.event_type == "UserTaskCompleted" and details["completed_by"]:
                completed_by[tasks[details["user_task_key"]]] = details["completed_by"]
            continue
        element_id, kind = opened[details["key"]]
        found.append(
            Expected(
                names.get(element_id, element_id),
                details["key"],
                transition,
                entry.at,
                resource,
                element_id,
                kind,
                entry.position,
            )
        )
    return found


def _not_activity(kind: str) -> bool:
    return kind.endswith(("Event", "Gateway"))


def model_names(xml: str) -> dict[str, str]:
    """Element id -> name of every named element of a model."""
    root = etree.fromstring(xml.encode())
    return {
        element.get("id"): element.get("name")
        for element in root.iter()
        if element.get("id") and element.get("name")
    }


# -- reading logs back ----------------------------------------------------------------------


@dataclass
class Trace:
    attributes: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class XesLog:
    extensions: dict[str, str]
    """prefix -> uri"""
    globals: dict[str, dict[str, Any]]
    classifiers: dict[str, str]
    attributes: dict[str, Any]
    traces: list[Trace]


def _value(element: etree._Element) -> Any:
    text = element.get("value")
    assert text is not None
    if element.tag == "int":
        return int(text)
    if element.tag == "date":
        return datetime.fromisoformat(text)
    return text


def _attributes(parent: etree._Element) -> dict[str, Any]:
    tags = ("string", "date", "int", "float", "boolean", "id")
    return {child.get("key"): _value(child) for child in parent if child.tag in tags}


def read_xes(data: bytes) -> XesLog:
    """An exported XES log, parsed back."""
    root = etree.fromstring(data)
    assert root.tag == "log"
    return XesLog(
        extensions={e.get("prefix"): e.get("uri") for e in root.findall("extension")},
        globals={g.get("scope"): _attributes(g) for g in root.findall("global")},
        classifiers={c.get("name"): c.get("keys") for c in root.findall("classifier")},
        attributes=_attributes(root),
        traces=[
            Trace(_attributes(trace), [_attributes(event) for event in trace.findall("event")])
            for trace in root.findall("trace")
        ],
    )


def xes_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XES_SCHEMA)))


def read_csv(data: bytes) -> list[dict[str, str]]:
    """An exported CSV log, parsed back with the standard library (RFC 4180 as written)."""
    text = data.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))
