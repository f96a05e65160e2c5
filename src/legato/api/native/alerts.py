"""Alerts, expected durations and webhooks (``/legato/v1``):

- ``GET /alerts`` (``state=open|all``, ``kind``, ``processId``, ``processInstanceKey``,
  ``limit``) and ``GET /alerts/{alertKey}``: what the SLA sweep raised, newest first
  (``incidents:read``); ``GET /alerts/{alertKey}/deliveries``: its webhook posts;
- ``POST /alerts/{alertKey}/resolution``: resolve one by hand (``instances:modify``);
- ``GET /service-levels``; ``PUT /service-levels`` sets an expected duration (ISO 8601,
  over the model's ``legato:sla``), ``DELETE /service-levels`` removes one
  (``alerts:manage``, admins);
- ``GET``/``POST /webhooks``, ``DELETE /webhooks/{webhookKey}`` (``alerts:manage``): the
  secret is returned once, when the webhook is made, and never listed.

Bad input is a 400 problem naming the parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import isodate
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest, NotFound
from legato.api.v2.common import KeyText, Out, Strict, key_text, parse_key
from legato.runtime.sla import alert_payload
from legato.security import ALERTS_MANAGE, INCIDENTS_READ, INSTANCES_MODIFY
from legato.store.records import ALERT_KINDS, AlertRecord, DeliveryRecord, WebhookRecord

router = APIRouter(tags=["alerts"])

_READ = [Depends(require(INCIDENTS_READ))]
_MANAGE = [Depends(require(ALERTS_MANAGE))]
AlertKeyPath = Annotated[str, Path(description="The alert's key.")]


class AlertResult(Out):
    """An alert: ``kind`` is instance_overdue, element_overdue, error_rate or job_queue_age."""

    alertKey: KeyText
    kind: str
    processId: str | None
    version: int | None
    instanceKey: KeyText | None
    elementId: str | None
    """The element, or null for the whole instance."""
    elementInstanceKey: KeyText | None
    raisedAt: str
    resolvedAt: str | None
    details: dict[str, Any]


class AlertList(Out):
    items: list[AlertResult]


def _alert(record: AlertRecord) -> AlertResult:
    shown = alert_payload(record, "listed")["alert"]
    keys = ("alertKey", "instanceKey", "elementInstanceKey")
    return AlertResult(**{**shown, **{name: key_text(shown[name]) for name in keys}})


@router.get("/alerts", response_model=AlertList, dependencies=_READ)
def list_alerts(
    engine: EngineDep,
    state: Annotated[str, Query(description="open (default) or all")] = "open",
    kind: str | None = None,
    processId: str | None = None,
    processInstanceKey: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertList:
    """The open alerts (``state=all``: the resolved ones too), newest first."""
    if state not in ("open", "all"):
        raise BadRequest(f"state: '{state}' is neither open nor all")
    if kind is not None and kind not in ALERT_KINDS:
        raise BadRequest(f"kind: '{kind}' is none of {', '.join(ALERT_KINDS)}")
    instance = None
    if processInstanceKey is not None:
        instance = parse_key(processInstanceKey, "processInstanceKey")
    rows = engine.alerts(
        include_resolved=state == "all",
        kind=kind,
        process_id=processId,
        instance_key=instance,
        limit=limit,
    )
    return AlertList(items=[_alert(row) for row in rows])


@router.get("/alerts/{alertKey}", response_model=AlertResult, dependencies=_READ)
def get_alert(alertKey: AlertKeyPath, engine: EngineDep) -> AlertResult:
    """One alert (404 when there is none)."""
    return _alert(engine.alert(parse_key(alertKey, "alertKey")))


class DeliveryResult(Out):
    deliveryKey: KeyText
    webhookKey: KeyText
    event: str
    status: str
    """pending, delivered or failed."""
    attempts: int
    nextAttemptAt: str | None
    deliveredAt: str | None
    lastError: str | None


def _delivery(record: DeliveryRecord) -> DeliveryResult:
    def iso(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return DeliveryResult(
        deliveryKey=str(record.delivery_key),
        webhookKey=str(record.webhook_key),
        event=record.event,
        status=record.status,
        attempts=record.attempts,
        nextAttemptAt=iso(record.next_attempt_at),
        deliveredAt=iso(record.delivered_at),
        lastError=record.last_error,
    )


@router.get(
    "/alerts/{alertKey}/deliveries", response_model=list[DeliveryResult], dependencies=_READ
)
def alert_deliveries(alertKey: AlertKeyPath, engine: EngineDep) -> list[DeliveryResult]:
    """The webhook posts of an alert, newest first, with their attempts."""
    key = parse_key(alertKey, "alertKey")
    engine.alert(key)  # 404 for an unknown alert
    return [_delivery(d) for d in engine.webhook_deliveries(alert_key=key)]


@router.post(
    "/alerts/{alertKey}/resolution",
    response_model=AlertResult,
    dependencies=[Depends(require(INSTANCES_MODIFY))],
)
def resolve_alert(alertKey: AlertKeyPath, engine: EngineDep) -> AlertResult:
    """Resolve an alert by hand; an overdue run that still runs is not raised again."""
    return _alert(engine.resolve_alert(parse_key(alertKey, "alertKey")))


class ServiceLevelBody(Strict):
    processId: str = Field(min_length=1)
    elementId: str | None = None
    """A flow element; the whole instance when absent."""
    version: int | None = Field(default=None, ge=1)
    """One version; every version when absent."""
    expectedDuration: str
    """An ISO 8601 duration: PT1H, P2D."""
    threshold: float | None = Field(default=None, ge=1)


class ServiceLevelResult(Out):
    processId: str
    elementId: str | None
    version: int | None
    expectedDuration: str
    threshold: float | None


def _expected(text: str) -> dt.timedelta:
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        value = None
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise BadRequest(f"expectedDuration: '{text}' is not a positive ISO 8601 duration")
    return value


@router.get("/service-levels", response_model=list[ServiceLevelResult], dependencies=_READ)
def list_service_levels(engine: EngineDep) -> list[ServiceLevelResult]:
    """The expected durations set through the API or the command line."""
    return [
        ServiceLevelResult(
            processId=s.process_id,
            elementId=s.element_id or None,
            version=s.version or None,
            expectedDuration=isodate.duration_isoformat(s.expected_duration),
            threshold=s.threshold,
        )
        for s in engine.slas()
    ]


@router.put("/service-levels", status_code=204, dependencies=_MANAGE)
def set_service_level(body: ServiceLevelBody, engine: EngineDep) -> Response:
    """Set an expected duration (it overrides the model's)."""
    engine.set_sla(
        body.processId,
        body.elementId,
        expected=_expected(body.expectedDuration),
        version=body.version,
        threshold=body.threshold,
    )
    return Response(status_code=204)


@router.delete("/service-levels", status_code=204, dependencies=_MANAGE)
def remove_service_level(
    engine: EngineDep,
    processId: str,
    elementId: str | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Remove an expected duration set through the API (404 when there is none)."""
    if not engine.remove_sla(processId, elementId, version=version):
        raise NotFound(f"no expected duration set for {processId} {elementId or ''}".strip())
    return Response(status_code=204)


class WebhookBody(Strict):
    url: str = Field(min_length=1)
    secret: str | None = Field(default=None, min_length=16)
    """The HMAC key; a random one is made (and returned once) when absent."""
    kinds: list[str] | None = None


class WebhookResult(Out):
    webhookKey: KeyText
    url: str
    kinds: list[str] | None
    enabled: bool
    secret: str | None = None
    """Only in the answer that made it."""


def _webhook(record: WebhookRecord, *, with_secret: bool = False) -> WebhookResult:
    return WebhookResult(
        webhookKey=str(record.webhook_key),
        url=record.url,
        kinds=None if record.kinds is None else list(record.kinds),
        enabled=record.enabled,
        secret=record.secret if with_secret else None,
    )


@router.get("/webhooks", response_model=list[WebhookResult], dependencies=_MANAGE)
def list_webhooks(engine: EngineDep) -> list[WebhookResult]:
    """The webhooks (without their secrets)."""
    return [_webhook(w) for w in engine.webhooks()]


@router.post("/webhooks", response_model=WebhookResult, status_code=201, dependencies=_MANAGE)
def add_webhook(body: WebhookBody, engine: EngineDep) -> WebhookResult:
    """Post alerts to a URL from now on (400 for a URL that is not http(s) or an unknown
    kind)."""
    if not body.url.startswith(("http://", "https://")):
        raise BadRequest(f"url: '{body.url}' is not an http:// or https:// URL")
    for kind in body.kinds or ():
        if kind not in ALERT_KINDS:
            raise BadRequest(f"kinds: '{kind}' is none of {', '.join(ALERT_KINDS)}")
    record = engine.add_webhook(body.url, secret=body.secret, kinds=body.kinds)
    return _webhook(record, with_secret=True)


@router.delete("/webhooks/{webhookKey}", status_code=204, dependencies=_MANAGE)
def remove_webhook(
    webhookKey: Annotated[str, Path(description="The webhook's key.")], engine: EngineDep
) -> Response:
    """Stop posting to a webhook (404 when there is none)."""
    key = parse_key(webhookKey, "webhookKey")
    if not engine.remove_webhook(key):
        raise NotFound(f"no webhook {key}")
    return Response(status_code=204)
