"""Legato: a durable process orchestration engine for Python.

The public API is what this module exports; everything else is private and may change.
"""

from legato.errors import (
    BpmnError,
    BpmnParseError,
    BpmnValidationError,
    ExpressionError,
    InvalidCommandError,
    LegatoError,
    ModelError,
    NonRetryableError,
    NotFoundError,
    StoreError,
)
from legato.feel import FeelLimits
from legato.model import RetryPolicy
from legato.runtime.clock import Clock, SystemClock, VirtualClock
from legato.runtime.definitions import Deployment
from legato.runtime.engine import Engine
from legato.runtime.handlers import handler
from legato.runtime.types import HistoryEntry, InstanceInfo, Job, JobContext

__version__ = "0.1.0"

__all__ = [
    "BpmnError",
    "BpmnParseError",
    "BpmnValidationError",
    "Clock",
    "Deployment",
    "Engine",
    "ExpressionError",
    "FeelLimits",
    "HistoryEntry",
    "InstanceInfo",
    "InvalidCommandError",
    "Job",
    "JobContext",
    "LegatoError",
    "ModelError",
    "NonRetryableError",
    "NotFoundError",
    "RetryPolicy",
    "StoreError",
    "SystemClock",
    "VirtualClock",
    "__version__",
    "handler",
]
