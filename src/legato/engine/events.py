"""Events: what happened to an instance. They are its history and the only input of appliers.

Every event is a dataclass whose fields are JSON-compatible after value encoding, so the
stored history can be replayed into the stored state. The classes are declared by topic in
:mod:`~legato.engine.instance_events`, :mod:`~legato.engine.work_events` and
:mod:`~legato.engine.wait_events` on the base of :mod:`~legato.engine.event_base`; this module
gathers them.
"""

from __future__ import annotations

from legato.engine.event_base import Event, event_type, payload_fields
from legato.engine.instance_events import (
    CallActivityChildStarted,
    ElementActivated,
    ElementCompleted,
    ElementTerminated,
    InstanceCompleted,
    InstanceCreated,
    InstanceMigrated,
    InstanceResumed,
    InstanceSuspended,
    InstanceTerminated,
    JoinTokenArrived,
    JoinTokensConsumed,
    MultiInstanceStarted,
    VariablesEdited,
    VariableSet,
)
from legato.engine.wait_events import (
    CompensationHandlerStarted,
    CompensationMoved,
    CompensationRecorded,
    CompensationStarted,
    CompensationStashed,
    ConditionMet,
    ErrorThrown,
    EscalationThrown,
    MessageCorrelated,
    SignalReceived,
    SubscriptionClosed,
    SubscriptionOpened,
    TimerCanceled,
    TimerScheduled,
    TimerTriggered,
)
from legato.engine.work_events import (
    DecisionEvaluated,
    IncidentRaised,
    IncidentResolved,
    JobCanceled,
    JobCompleted,
    JobCreated,
    JobFailed,
    JobRetriesUpdated,
    UserTaskAssigned,
    UserTaskCanceled,
    UserTaskCompleted,
    UserTaskCreated,
)

__all__ = [
    "CallActivityChildStarted",
    "CompensationHandlerStarted",
    "CompensationMoved",
    "CompensationRecorded",
    "CompensationStarted",
    "CompensationStashed",
    "ConditionMet",
    "DecisionEvaluated",
    "ElementActivated",
    "ElementCompleted",
    "ElementTerminated",
    "ErrorThrown",
    "EscalationThrown",
    "Event",
    "IncidentRaised",
    "IncidentResolved",
    "InstanceCompleted",
    "InstanceCreated",
    "InstanceMigrated",
    "InstanceResumed",
    "InstanceSuspended",
    "InstanceTerminated",
    "JobCanceled",
    "JobCompleted",
    "JobCreated",
    "JobFailed",
    "JobRetriesUpdated",
    "JoinTokenArrived",
    "JoinTokensConsumed",
    "MessageCorrelated",
    "MultiInstanceStarted",
    "SignalReceived",
    "SubscriptionClosed",
    "SubscriptionOpened",
    "TimerCanceled",
    "TimerScheduled",
    "TimerTriggered",
    "UserTaskAssigned",
    "UserTaskCanceled",
    "UserTaskCompleted",
    "UserTaskCreated",
    "VariableSet",
    "VariablesEdited",
    "event_type",
    "payload_fields",
]
