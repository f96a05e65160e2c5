"""The executable process model: one frozen dataclass per BPMN element kind.

Every element knows its id, its enclosing scope and its sequence flows. Element-kind specific
data (job types, conditions, loop characteristics, event definitions) lives on the subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

from legato.model.expressions import Expression, VariableMapping

__all__ = [
    "Activity",
    "AdHocSubProcess",
    "BoundaryEvent",
    "BusinessRuleTask",
    "CallActivity",
    "CancelEventDefinition",
    "CompensateEventDefinition",
    "ComplexBehavior",
    "ComplexGateway",
    "ConditionalEventDefinition",
    "ElementKind",
    "EndEvent",
    "ErrorEventDefinition",
    "EscalationEventDefinition",
    "Event",
    "EventBasedGateway",
    "EventDefinition",
    "ExclusiveGateway",
    "FlowNode",
    "Gateway",
    "InclusiveGateway",
    "IntermediateCatchEvent",
    "IntermediateThrowEvent",
    "JobWorkerTask",
    "LinkEventDefinition",
    "LoopCharacteristics",
    "ManualTask",
    "MessageEventDefinition",
    "MultiInstanceLoop",
    "ParallelGateway",
    "ReceiveTask",
    "RetryPolicy",
    "ScriptTask",
    "SendTask",
    "ServiceTask",
    "SignalEventDefinition",
    "StandardLoop",
    "StartEvent",
    "SubProcess",
    "Task",
    "TerminateEventDefinition",
    "TimerEventDefinition",
    "Transaction",
    "UserTask",
]


class ElementKind(StrEnum):
    """The BPMN element kinds the engine knows."""

    PROCESS = "process"
    START_EVENT = "startEvent"
    END_EVENT = "endEvent"
    INTERMEDIATE_CATCH_EVENT = "intermediateCatchEvent"
    INTERMEDIATE_THROW_EVENT = "intermediateThrowEvent"
    BOUNDARY_EVENT = "boundaryEvent"
    TASK = "task"
    MANUAL_TASK = "manualTask"
    SERVICE_TASK = "serviceTask"
    SEND_TASK = "sendTask"
    RECEIVE_TASK = "receiveTask"
    SCRIPT_TASK = "scriptTask"
    USER_TASK = "userTask"
    BUSINESS_RULE_TASK = "businessRuleTask"
    EXCLUSIVE_GATEWAY = "exclusiveGateway"
    PARALLEL_GATEWAY = "parallelGateway"
    INCLUSIVE_GATEWAY = "inclusiveGateway"
    EVENT_BASED_GATEWAY = "eventBasedGateway"
    COMPLEX_GATEWAY = "complexGateway"
    SUB_PROCESS = "subProcess"
    TRANSACTION = "transaction"
    AD_HOC_SUB_PROCESS = "adHocSubProcess"
    CALL_ACTIVITY = "callActivity"


# ---------------------------------------------------------------------------------------------
# Event definitions


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """Base of the event definitions an event may carry."""


@dataclass(frozen=True, slots=True)
class TimerEventDefinition(EventDefinition):
    """A timer: exactly one of date, duration and cycle is set."""

    time_date: Expression | None = None
    time_duration: Expression | None = None
    time_cycle: Expression | None = None


@dataclass(frozen=True, slots=True)
class MessageEventDefinition(EventDefinition):
    """A message, by name, with the correlation key expression of the subscription."""

    message_name: str | None
    correlation_key: Expression | None = None


@dataclass(frozen=True, slots=True)
class SignalEventDefinition(EventDefinition):
    """A signal, by name."""

    signal_name: str | None


@dataclass(frozen=True, slots=True)
class ErrorEventDefinition(EventDefinition):
    """A BPMN error; ``error_code`` None on a catch event catches every error."""

    error_code: str | None
    error_name: str | None = None
    code_variable: str | None = None
    message_variable: str | None = None


@dataclass(frozen=True, slots=True)
class EscalationEventDefinition(EventDefinition):
    """An escalation; ``escalation_code`` None on a catch event catches every escalation."""

    escalation_code: str | None
    escalation_name: str | None = None
    code_variable: str | None = None


@dataclass(frozen=True, slots=True)
class TerminateEventDefinition(EventDefinition):
    """Terminate: end every token of the enclosing scope."""


@dataclass(frozen=True, slots=True)
class CancelEventDefinition(EventDefinition):
    """Cancel a transaction sub-process."""


@dataclass(frozen=True, slots=True)
class CompensateEventDefinition(EventDefinition):
    """Compensation, for one activity (``activity_ref``) or the whole scope."""

    activity_ref: str | None = None
    wait_for_completion: bool = True


@dataclass(frozen=True, slots=True)
class ConditionalEventDefinition(EventDefinition):
    """Fires when the condition becomes true."""

    condition: Expression | None


@dataclass(frozen=True, slots=True)
class LinkEventDefinition(EventDefinition):
    """A link (a go-to within one scope), matched by name."""

    name: str


# ---------------------------------------------------------------------------------------------
# Loop characteristics


@dataclass(frozen=True, slots=True)
class ComplexBehavior:
    """A ``complexBehaviorDefinition``: when an inner instance completes and ``condition``
    holds (evaluated in that instance), the events are thrown."""

    condition: Expression | None
    event_definitions: tuple[EventDefinition, ...] = ()


@dataclass(frozen=True, slots=True)
class MultiInstanceLoop:
    """Multi-instance characteristics (parallel or sequential).

    ``behavior`` says which events are thrown as inner instances complete (BPMN 2.0,
    MultiInstanceLoopCharacteristics): ``All`` none; ``None`` the ``none_behavior_event`` for
    every instance; ``One`` the ``one_behavior_event`` for the first; ``Complex`` those of each
    complex behaviour whose condition holds.
    """

    is_sequential: bool = False
    loop_cardinality: Expression | None = None
    input_collection: Expression | None = None
    input_element: str | None = None
    output_collection: str | None = None
    output_element: Expression | None = None
    completion_condition: Expression | None = None
    behavior: str = "All"
    none_behavior_event: EventDefinition | None = None
    one_behavior_event: EventDefinition | None = None
    complex_behaviors: tuple[ComplexBehavior, ...] = ()


@dataclass(frozen=True, slots=True)
class StandardLoop:
    """A standard loop: repeat while the condition holds (do-while unless ``test_before``)."""

    loop_condition: Expression | None = None
    test_before: bool = False
    loop_maximum: int | None = None


LoopCharacteristics = MultiInstanceLoop | StandardLoop


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how fast a failing job is retried before it becomes an incident."""

    max_attempts: int = 3
    """Attempts in all, the first included."""
    initial_interval: timedelta = timedelta(seconds=1)
    backoff_coefficient: float = 2.0
    maximum_interval: timedelta = timedelta(minutes=10)
    jitter: float = 0.1
    """A fraction of each delay drawn at random, so retries of many jobs spread out."""


# ---------------------------------------------------------------------------------------------
# Flow nodes


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowNode:
    """An element with sequence flows, inside a scope (the process or a sub-process)."""

    kind: ClassVar[ElementKind]

    element_id: str
    """The id from the XML."""
    name: str | None = None
    scope_id: str
    """The id of the enclosing process or sub-process."""
    incoming: tuple[str, ...] = ()
    """Ids of incoming sequence flows, in document order."""
    outgoing: tuple[str, ...] = ()
    """Ids of outgoing sequence flows, in document order."""
    line: int | None = None
    """Where the element starts in its file."""
    input_mappings: tuple[VariableMapping, ...] = ()
    output_mappings: tuple[VariableMapping, ...] = ()
    default_flow: str | None = None
    """The default sequence flow (gateways and activities)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity(FlowNode):
    """A unit of work; may loop and carry boundary events."""

    loop: LoopCharacteristics | None = None
    boundary_events: tuple[str, ...] = ()
    """Ids of the boundary events attached to this activity."""
    start_quantity: int = 1
    completion_quantity: int = 1
    is_for_compensation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(Activity):
    """An abstract task: completes at once."""

    kind = ElementKind.TASK


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualTask(Activity):
    """Work done outside any system: completes at once."""

    kind = ElementKind.MANUAL_TASK


@dataclass(frozen=True, slots=True, kw_only=True)
class JobWorkerTask(Activity):
    """A task performed by a job that a handler or an external worker takes."""

    job_type: Expression | None = None
    """The job type (Zeebe ``taskDefinition type``, Camunda ``topic``); an expression."""
    retries: Expression | None = None
    """How many attempts in all; ``None`` takes the engine default."""
    headers: tuple[tuple[str, str], ...] = ()
    """Static task headers, passed to the handler."""
    retry_policy: RetryPolicy | None = None
    """Backoff settings from the model's extensions; ``None`` takes the engine default."""
    timeout: timedelta | None = None
    """How long a worker holds the job before it is handed to another."""
    properties: tuple[tuple[str, str], ...] = ()
    """Extension properties (``camunda:properties``, ``zeebe:properties``) for workers."""
    priority: int = 0
    """The priority of the task's jobs (``camunda:taskPriority``; higher first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceTask(JobWorkerTask):
    """A service task."""

    kind = ElementKind.SERVICE_TASK


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTask(JobWorkerTask):
    """A send task: a job whose handler sends the message."""

    kind = ElementKind.SEND_TASK
    message_name: str | None = None
    correlation_key: Expression | None = None
    """For a send task without a job: the correlation key of the message it publishes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptTask(JobWorkerTask):
    """A script task: a FEEL expression whose value goes to ``result_variable``.

    A script in another language (``script_format`` not FEEL) is run as a job of
    ``job_type`` (by default ``script:<format>``), so a handler can interpret it.
    """

    kind = ElementKind.SCRIPT_TASK
    script: Expression | None = None
    script_text: str | None = None
    """The raw body of a non-FEEL script."""
    script_resource: str | None = None
    """Where a non-FEEL script without a body is kept (Camunda 7's ``camunda:resource``)."""
    script_format: str | None = None
    result_variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessRuleTask(JobWorkerTask):
    """A business rule task: evaluates a DMN decision (or runs a job)."""

    kind = ElementKind.BUSINESS_RULE_TASK
    decision_id: str | None = None
    result_variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTask(Activity):
    """A task for a person: waits until it is completed through the API."""

    kind = ElementKind.USER_TASK
    assignee: Expression | None = None
    candidate_users: Expression | None = None
    candidate_groups: Expression | None = None
    form_key: str | None = None
    """The form key as the model gives it (``zeebe:formDefinition formKey`` or
    ``camunda:formKey``), e.g. ``camunda-forms:bpmn:X`` for a form embedded in the process."""
    form_id: str | None = None
    """The id of a linked Camunda form (``zeebe:formDefinition formId``,
    ``camunda:formRef``), or of the embedded form a ``camunda-forms:bpmn:`` key names."""
    form_binding: str = "latest"
    """Which version of a linked form: ``latest`` (at task creation), ``deployment`` or
    ``versionTag`` (the newest version with :attr:`form_version_tag`). ``deployment``
    (the version deployed with the process) is taken as ``latest``: forms and processes are
    deployed file by file."""
    form_version_tag: str | None = None
    embedded_form: str | None = None
    """The JSON of the form embedded in the process (``zeebe:userTaskForm``) that
    ``form_key`` names."""
    external_form_reference: Expression | None = None
    """``zeebe:formDefinition externalReference``: a URL or name for a form kept elsewhere."""
    due_date: Expression | None = None
    follow_up_date: Expression | None = None
    priority: Expression | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTask(Activity):
    """Waits for a message."""

    kind = ElementKind.RECEIVE_TASK
    message: MessageEventDefinition | None = None
    instantiate: bool = False
    """Its message starts an instance of the process, as a message start event's does."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubProcess(Activity):
    """An embedded sub-process: a scope of its own."""

    kind = ElementKind.SUB_PROCESS
    triggered_by_event: bool = False
    """An event sub-process: started by its start event, not by a sequence flow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction(SubProcess):
    """A transaction sub-process."""

    kind = ElementKind.TRANSACTION


@dataclass(frozen=True, slots=True, kw_only=True)
class AdHocSubProcess(SubProcess):
    """An ad-hoc sub-process."""

    kind = ElementKind.AD_HOC_SUB_PROCESS
    ordering: str = "Parallel"
    completion_condition: Expression | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallActivity(Activity):
    """Starts another process and waits for it."""

    kind = ElementKind.CALL_ACTIVITY
    called_element: Expression | None = None
    """The id of the process to call (an expression)."""
    propagate_all_parent_variables: bool = True
    propagate_all_child_variables: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Gateway(FlowNode):
    """Base of the gateways."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExclusiveGateway(Gateway):
    """Takes the first outgoing flow whose condition holds, else the default."""

    kind = ElementKind.EXCLUSIVE_GATEWAY


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelGateway(Gateway):
    """Forks to every outgoing flow; joins by waiting for every incoming flow."""

    kind = ElementKind.PARALLEL_GATEWAY


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusiveGateway(Gateway):
    """Forks to every flow whose condition holds; joins what can still arrive."""

    kind = ElementKind.INCLUSIVE_GATEWAY


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBasedGateway(Gateway):
    """Waits for the first of the events that follow it."""

    kind = ElementKind.EVENT_BASED_GATEWAY


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplexGateway(Gateway):
    """A gateway with an activation condition."""

    kind = ElementKind.COMPLEX_GATEWAY
    activation_condition: Expression | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(FlowNode):
    """Base of the events. No event definition means a none event."""

    event_definitions: tuple[EventDefinition, ...] = field(default=())
    parallel_multiple: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StartEvent(Event):
    """Starts its scope."""

    kind = ElementKind.START_EVENT
    is_interrupting: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class EndEvent(Event):
    """Ends a path of its scope."""

    kind = ElementKind.END_EVENT
    job_type: Expression | None = None
    """For message end events: the job that sends the message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateCatchEvent(Event):
    """Waits for its event."""

    kind = ElementKind.INTERMEDIATE_CATCH_EVENT


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateThrowEvent(Event):
    """Throws its event (a none throw event passes straight through)."""

    kind = ElementKind.INTERMEDIATE_THROW_EVENT
    job_type: Expression | None = None
    """For message throw events: the job that sends the message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryEvent(Event):
    """Attached to an activity; interrupting when ``cancel_activity``."""

    kind = ElementKind.BOUNDARY_EVENT
    attached_to: str
    cancel_activity: bool = True
    compensation_handler: str | None = None
    """For a compensation boundary event: the activity (``isForCompensation``) that undoes
    the work of the activity it is attached to, linked by an association."""
