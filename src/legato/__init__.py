"""Legato: a durable process orchestration engine for Python.

The public API is what this module exports; everything else is private and may change.
"""

from legato.engine.commands import (
    CancelElement,
    CancelElementInstance,
    StartAfter,
    StartBefore,
)
from legato.errors import (
    BpmnError,
    BpmnParseError,
    BpmnValidationError,
    ExpressionError,
    FieldError,
    FormParseError,
    FormValidationError,
    InstanceSuspendedError,
    InvalidCommandError,
    JobStateError,
    LegatoError,
    MigrationError,
    ModelError,
    NonRetryableError,
    NotFoundError,
    StoreError,
    TaskConflictError,
    TooManyRequestsError,
)
from legato.feel import FeelLimits
from legato.model import RetryPolicy
from legato.runtime.clock import Clock, SystemClock, VirtualClock
from legato.runtime.definitions import DeployedForm, Deployment
from legato.runtime.engine import Engine
from legato.runtime.handlers import handler
from legato.runtime.migration import MigrationCheck, MigrationPlan
from legato.runtime.migration_batches import BatchOperation
from legato.runtime.sla import AlertConfig
from legato.runtime.types import (
    ActivatedJob,
    BatchResult,
    HistoryEntry,
    InstanceFilter,
    InstanceInfo,
    Job,
    JobContext,
    JobRequest,
)
from legato.runtime.webhooks import Webhook
from legato.store.records import AlertRecord, FormRecord, UserTaskRecord

__version__ = "0.1.0"

__all__ = [
    "ActivatedJob",
    "AlertConfig",
    "AlertRecord",
    "BatchOperation",
    "BatchResult",
    "BpmnError",
    "BpmnParseError",
    "BpmnValidationError",
    "CancelElement",
    "CancelElementInstance",
    "Clock",
    "DeployedForm",
    "Deployment",
    "Engine",
    "ExpressionError",
    "FeelLimits",
    "FieldError",
    "FormParseError",
    "FormRecord",
    "FormValidationError",
    "HistoryEntry",
    "InstanceFilter",
    "InstanceInfo",
    "InstanceSuspendedError",
    "InvalidCommandError",
    "Job",
    "JobContext",
    "JobRequest",
    "JobStateError",
    "LegatoError",
    "MigrationCheck",
    "MigrationError",
    "MigrationPlan",
    "ModelError",
    "NonRetryableError",
    "NotFoundError",
    "RetryPolicy",
    "StartAfter",
    "StartBefore",
    "StoreError",
    "SystemClock",
    "TaskConflictError",
    "TooManyRequestsError",
    "UserTaskRecord",
    "VirtualClock",
    "Webhook",
    "__version__",
    "handler",
]
