"""The expected failure of a behaviour: it becomes an incident on the element, not a crash."""

from __future__ import annotations


class IncidentError(Exception):
    """Raised inside a behaviour for an expected failure; becomes an incident on the element."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
