"""The closed sets of words that states and events use, as types (the stored values)."""

from __future__ import annotations

from typing import Literal

InstanceStatus = Literal["active", "completed", "terminated"]
"""Where a process instance is: running, or how it ended."""

IncidentPhase = Literal["activate", "complete", "job"]
"""Where an incident stopped its element: entering it, leaving it, or in its job; resolving
the incident re-runs that phase (or makes the job available again)."""

SubscriptionKind = Literal["message", "signal", "conditional"]
"""What a subscription waits for."""

DelegationState = Literal["PENDING", "RESOLVED"]
"""A delegated user task: ``PENDING`` while the delegate works it, ``RESOLVED`` after."""

__all__ = ["DelegationState", "IncidentPhase", "InstanceStatus", "SubscriptionKind"]
