"""One processor per element kind, chosen by :func:`processor_for`."""

from __future__ import annotations

from typing import Any

from legato.engine.processing import Processing
from legato.engine.processors.base import ActivityProcessor, ElementProcessor
from legato.engine.processors.events import (
    EventBasedGatewayProcessor,
    EventProcessor,
    ReceiveTaskProcessor,
)
from legato.engine.processors.gateways import (
    ExclusiveGatewayProcessor,
    InclusiveGatewayProcessor,
    ParallelGatewayProcessor,
)
from legato.engine.processors.multi_instance import MultiInstanceBodyProcessor, body_emptied
from legato.engine.processors.scopes import (
    CallActivityProcessor,
    SubProcessProcessor,
    complete_instance,
)
from legato.engine.processors.tasks import JobWorkerProcessor, UserTaskProcessor
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    CallActivity,
    ComplexGateway,
    Event,
    EventBasedGateway,
    ExclusiveGateway,
    FlowNode,
    InclusiveGateway,
    JobWorkerTask,
    ParallelGateway,
    ReceiveTask,
    SubProcess,
    UserTask,
)

_BODY = MultiInstanceBodyProcessor()
_BY_CLASS: list[tuple[type[FlowNode], ElementProcessor[Any]]] = [
    (JobWorkerTask, JobWorkerProcessor()),
    (ReceiveTask, ReceiveTaskProcessor()),
    (EventBasedGateway, EventBasedGatewayProcessor()),
    (UserTask, UserTaskProcessor()),
    (SubProcess, SubProcessProcessor()),
    (CallActivity, CallActivityProcessor()),
    (Activity, ActivityProcessor()),
    (ExclusiveGateway, ExclusiveGatewayProcessor()),
    (ParallelGateway, ParallelGatewayProcessor()),
    (InclusiveGateway, InclusiveGatewayProcessor()),
    (ComplexGateway, InclusiveGatewayProcessor()),
    (Event, EventProcessor()),
]
_CACHE: dict[type[FlowNode], ElementProcessor[Any]] = {}


def processor_for(element: FlowNode, instance: ElementInstance) -> ElementProcessor[Any]:
    """The processor of an element instance (the body processor for a multi-instance body)."""
    if instance.is_mi_body:
        return _BODY
    processor = _CACHE.get(type(element))
    if processor is None:
        processor = next(
            (proc for cls, proc in _BY_CLASS if isinstance(element, cls)), ElementProcessor[Any]()
        )
        _CACHE[type(element)] = processor
    return processor


def scope_completed(p: Processing, scope: ElementInstance) -> None:
    """Every token of ``scope`` has ended."""
    if scope.parent_key is None:
        complete_instance(p)
    elif scope.is_mi_body:
        body_emptied(p, scope)
    else:
        p.complete(scope)
