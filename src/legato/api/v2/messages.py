"""Messages (publication and correlation) and signals."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from pydantic import Field

from legato.api.deps import EngineDep, require
from legato.api.problems import NotFound
from legato.api.v2.common import (
    DEFAULT_TENANT,
    KeyText,
    Out,
    Strict,
    Tenant,
    Variables,
    echo_tenant,
)
from legato.runtime.arguments import MAX_MILLISECONDS
from legato.security import MESSAGES_PUBLISH

router = APIRouter(tags=["messages and signals"])

NO_KEY = "-1"
"""The key answered where Legato keeps no record (a message delivered at once, a signal)."""


class MessagePublicationRequest(Strict):
    name: str = Field(min_length=1)
    correlationKey: str | None = ""
    timeToLive: int = Field(default=0, ge=0, le=MAX_MILLISECONDS)
    """How long a message nobody waits for is kept, in ms (0: delivered now or dropped)."""
    messageId: str | None = None
    """Publishing a message with the same id again while it is kept does nothing."""
    variables: Variables = None
    tenantId: Tenant | None = None


class MessagePublicationResult(Out):
    tenantId: str = DEFAULT_TENANT
    messageKey: KeyText


class MessageCorrelationRequest(Strict):
    name: str = Field(min_length=1)
    correlationKey: str | None = ""
    variables: Variables = None
    tenantId: Tenant | None = None


class MessageCorrelationResult(Out):
    tenantId: str = DEFAULT_TENANT
    messageKey: KeyText
    processInstanceKey: KeyText


class SignalBroadcastRequest(Strict):
    signalName: str = Field(min_length=1)
    variables: Variables = None
    tenantId: Tenant | None = None


class SignalBroadcastResult(Out):
    tenantId: str = DEFAULT_TENANT
    signalKey: KeyText


@router.post(
    "/messages/publication",
    response_model=MessagePublicationResult,
    dependencies=[Depends(require(MESSAGES_PUBLISH))],
)
def publish_message(body: MessagePublicationRequest, engine: EngineDep) -> MessagePublicationResult:
    """Publish a message: it reaches the instances waiting for it now, or is kept for
    ``timeToLive`` for one that will."""
    tenant = echo_tenant(body.tenantId)
    result = engine.publish_message(
        body.name,
        body.correlationKey or None,
        body.variables or {},
        time_to_live=dt.timedelta(milliseconds=body.timeToLive),
        message_id=body.messageId,
    )
    key = result.buffered_message_key
    return MessagePublicationResult(tenantId=tenant, messageKey=NO_KEY if key is None else str(key))


@router.post(
    "/messages/correlation",
    response_model=MessageCorrelationResult,
    dependencies=[Depends(require(MESSAGES_PUBLISH))],
)
def correlate_message(
    body: MessageCorrelationRequest, engine: EngineDep
) -> MessageCorrelationResult:
    """Deliver a message now; 404 when no instance waits for it and no process starts
    with it."""
    tenant = echo_tenant(body.tenantId)
    result = engine.publish_message(
        body.name, body.correlationKey or None, body.variables or {}, time_to_live=dt.timedelta(0)
    )
    if not result.correlated and not result.started:
        raise NotFound(
            f"no subscription for message '{body.name}' with correlation key "
            f"'{body.correlationKey or ''}'"
        )
    instance = str(result.correlated[0]) if result.correlated else NO_KEY
    return MessageCorrelationResult(tenantId=tenant, messageKey=NO_KEY, processInstanceKey=instance)


@router.post(
    "/signals/broadcast",
    response_model=SignalBroadcastResult,
    dependencies=[Depends(require(MESSAGES_PUBLISH))],
)
def broadcast_signal(body: SignalBroadcastRequest, engine: EngineDep) -> SignalBroadcastResult:
    """Broadcast a signal to every element waiting for it."""
    tenant = echo_tenant(body.tenantId)
    engine.broadcast_signal(body.signalName, body.variables or {})
    return SignalBroadcastResult(tenantId=tenant, signalKey=NO_KEY)
