"""The public surface of ``legato`` is exactly what is listed here."""

from __future__ import annotations

import legato

PUBLIC = {
    "ActivatedJob", "BpmnError", "BpmnParseError", "BpmnValidationError", "Clock", "Deployment",
    "Engine", "ExpressionError", "FeelLimits", "HistoryEntry", "InstanceInfo",
    "InvalidCommandError", "Job", "JobContext", "JobRequest", "JobStateError", "LegatoError",
    "ModelError", "NonRetryableError", "NotFoundError", "RetryPolicy", "StoreError",
    "SystemClock", "TooManyRequestsError", "VirtualClock", "__version__", "handler",
    "FieldError", "FormParseError", "FormRecord", "FormValidationError", "TaskConflictError",
    "UserTaskRecord", "DeployedForm", "BatchResult", "InstanceFilter", "InstanceSuspendedError",
    "MigrationCheck", "MigrationError", "MigrationPlan", "BatchOperation",
    "CancelElement", "CancelElementInstance", "StartAfter", "StartBefore",
    "AlertConfig", "AlertRecord", "Webhook",
}  # fmt: skip


def test_public_api_is_pinned() -> None:
    assert set(legato.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(legato, name) is not None


def test_every_error_is_a_legato_error() -> None:
    for name in PUBLIC:
        value = getattr(legato, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, legato.LegatoError), name
