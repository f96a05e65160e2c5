"""The SLA sweep: raise alerts on runs past their expected duration, and resolve them.

**What is expected.** A process or a flow element has an expected duration from its model
(``<legato:sla expectedDuration="PT1H"/>``, see :mod:`legato.bpmn.service_levels`) or from
:meth:`Engine.set_sla <legato.runtime.alerting.AlertMethods.set_sla>`, which overrides the
model (a version's own setting over one for every version). A run is overdue once it has
been running for ``threshold`` times that (the model's threshold, else
:attr:`AlertConfig.threshold`, 2 by default).

**The sweep** (:func:`sweep`) runs in one transaction. For each expected duration it reads
the running instances (or element instances) started before ``now - threshold × expected``
from the analytics facts' partial indexes of open rows, and raises an alert for each that
has none yet; then it resolves the open alerts whose instance or element instance has ended.
It also watches, when configured, the error rate of each process version over a window and
the age of the oldest job waiting in each job type's queue.

**Raised once.** Every alert has a dedupe key (``instance_overdue:<instance key>``,
``element_overdue:<element instance key>``, ``error_rate:<process>:<version>:<window>``,
``job_queue_age:<type>:<window>``) that is unique in the table, so sweeps on two nodes, or
two sweeps of one, raise it once. A sweep raises at most :attr:`AlertConfig.max_raise`
alerts (one transaction stays small in an alert storm); the rest follow in the next sweeps.

Raising or resolving an alert enqueues a delivery to each enabled webhook that wants its
kind, in the same transaction (the outbox of :mod:`legato.runtime.webhooks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from legato.runtime.definitions import DECISION_PREFIX, DefinitionRegistry
from legato.store.alerts import OVERDUE_KINDS, OverdueRun, overdue_dedupe_key
from legato.store.ports import Transaction
from legato.store.records import AlertRecord, DeliveryRecord, WebhookRecord


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """When alerts are raised (``Engine(alerts=AlertConfig(...))``)."""

    interval: timedelta = timedelta(seconds=30)
    """How often a serving node sweeps (the test kit sweeps on every clock advance)."""
    threshold: float = 2.0
    """The default overdue factor: an expected duration of 1 h raises after 2 h."""
    error_rate: float | None = None
    """Raise ``error_rate`` when the share of a version's instances that ended in the window
    with an incident is above this (0.1 = 10 %); None watches no error rate."""
    error_window: timedelta = timedelta(hours=1)
    error_min_instances: int = 10
    """Fewer ended instances in the window say nothing about a rate."""
    job_queue_age: timedelta | None = None
    """Raise ``job_queue_age`` when a job type's oldest due job has waited longer."""
    max_raise: int = 1000
    """Alerts one sweep raises at most."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """An expected duration in force for one process version (and element)."""

    process_id: str
    version: int
    element_id: str | None
    expected: timedelta
    threshold: float

    @property
    def overdue_after(self) -> timedelta:
        """How long a run may take before it is overdue."""
        return self.expected * self.threshold


@dataclass(slots=True)
class SweepReport:
    """What a sweep did."""

    raised: list[AlertRecord] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


def expectations(
    tx: Transaction, definitions: DefinitionRegistry, default_threshold: float
) -> list[Expectation]:
    """The expected durations in force for every deployed process version."""
    overrides = {(s.process_id, s.version, s.element_id): s for s in tx.list_service_levels()}
    found: list[Expectation] = []
    for record in tx.list_definitions():
        if record.process_id.startswith(DECISION_PREFIX):
            continue
        deployed = definitions.get_in(tx, record.definition_key)
        if deployed is None:
            continue
        levels = {
            level.element_id or "": (level.expected_duration, level.threshold)
            for level in deployed.process.service_levels
        }
        # The API's settings over the model's, a version's own over those for every version.
        for version in (0, record.version):
            for (process_id, of_version, element_id), level in overrides.items():
                if process_id == record.process_id and of_version == version:
                    levels[element_id] = (level.expected_duration, level.threshold)
        for element_id, (expected, threshold) in sorted(levels.items()):
            found.append(
                Expectation(
                    record.process_id,
                    record.version,
                    element_id or None,
                    expected,
                    threshold or default_threshold,
                )
            )
    return found


def sweep(
    tx: Transaction, now: datetime, config: AlertConfig, expected: list[Expectation]
) -> SweepReport:
    """Raise the alerts that are due and resolve those whose cause is gone (see the module
    docstring); returns what was raised and resolved."""
    report = SweepReport()
    candidates: list[AlertRecord] = []
    for level in expected:
        budget = config.max_raise - len(candidates)
        if budget <= 0:
            break
        cutoff = now - level.overdue_after
        runs = tx.overdue_runs(level.process_id, level.version, level.element_id, cutoff, budget)
        candidates += [_overdue(level, run, now) for run in runs]
    report.resolved += tx.resolve_alerts(tx.ended_overdue_alerts(), now)
    _raise(tx, candidates, report)
    if config.error_rate is not None:
        _watch_error_rates(tx, now, config, report)
    if config.job_queue_age is not None:
        _watch_job_queues(tx, now, config.job_queue_age, report)
    _enqueue(tx, now, report)
    return report


def _overdue(level: Expectation, run: OverdueRun, now: datetime) -> AlertRecord:
    return AlertRecord(
        alert_key=0,
        dedupe_key=overdue_dedupe_key(level.element_id, run.key),
        kind=OVERDUE_KINDS[0] if level.element_id is None else OVERDUE_KINDS[1],
        raised_at=now,
        process_id=level.process_id,
        version=level.version,
        instance_key=run.instance_key,
        element_id=level.element_id,
        element_instance_key=run.element_instance_key,
        details={
            "expectedSeconds": level.expected.total_seconds(),
            "threshold": level.threshold,
            "startedAt": run.started_at.isoformat(),
        },
    )


def _raise(tx: Transaction, candidates: list[AlertRecord], report: SweepReport) -> None:
    if not candidates:
        return
    keys = tx.reserve_keys(len(candidates))
    keyed = [replace(alert, alert_key=key) for alert, key in zip(candidates, keys, strict=True)]
    report.raised += tx.insert_alerts(keyed)


def _window(now: datetime, width: timedelta) -> int:
    return int(now.timestamp() // width.total_seconds())


def _watch_error_rates(
    tx: Transaction, now: datetime, config: AlertConfig, report: SweepReport
) -> None:
    threshold = config.error_rate or 0.0
    since = now - config.error_window
    open_by_subject = {
        (a.process_id, a.version): a for a in tx.list_alerts(kind="error_rate", limit=10_000)
    }
    for record in tx.list_definitions():
        if record.process_id.startswith(DECISION_PREFIX):
            continue
        rate = tx.error_rate(record.process_id, [record.version], since, now)
        subject = (record.process_id, record.version)
        high = rate.instances >= config.error_min_instances and rate.rate > threshold
        alert = open_by_subject.get(subject)
        if high and alert is None:
            window = _window(now, config.error_window)
            details = {
                "rate": rate.rate,
                "threshold": threshold,
                "ended": rate.instances,
                "withIncidents": rate.with_incidents,
                "windowSeconds": config.error_window.total_seconds(),
            }
            candidate = AlertRecord(
                alert_key=0,
                dedupe_key=f"error_rate:{record.process_id}:{record.version}:{window}",
                kind="error_rate",
                raised_at=now,
                process_id=record.process_id,
                version=record.version,
                details=details,
            )
            _raise(tx, [candidate], report)
        elif not high and alert is not None:
            report.resolved += tx.resolve_alerts([alert.alert_key], now)


def _watch_job_queues(
    tx: Transaction, now: datetime, limit: timedelta, report: SweepReport
) -> None:
    open_by_type = {
        str(a.details.get("jobType")): a for a in tx.list_alerts(kind="job_queue_age", limit=10_000)
    }
    ages = {job_type: now - oldest for job_type, _, oldest in tx.job_queues(now)}
    for job_type, age in ages.items():
        if age > limit and job_type not in open_by_type:
            details: dict[str, Any] = {
                "jobType": job_type,
                "ageSeconds": age.total_seconds(),
                "limitSeconds": limit.total_seconds(),
            }
            candidate = AlertRecord(
                alert_key=0,
                dedupe_key=f"job_queue_age:{job_type}:{_window(now, limit)}",
                kind="job_queue_age",
                raised_at=now,
                details=details,
            )
            _raise(tx, [candidate], report)
    for job_type, alert in open_by_type.items():
        if ages.get(job_type, timedelta(0)) <= limit:
            report.resolved += tx.resolve_alerts([alert.alert_key], now)


def alert_payload(alert: AlertRecord, event: str) -> dict[str, Any]:
    """The JSON posted to webhooks (and served by the API) for an alert."""
    return {
        "event": event,
        "alert": {
            "alertKey": alert.alert_key,
            "kind": alert.kind,
            "processId": alert.process_id,
            "version": alert.version,
            "instanceKey": alert.instance_key,
            "elementId": alert.element_id,
            "elementInstanceKey": alert.element_instance_key,
            "raisedAt": alert.raised_at.isoformat(),
            "resolvedAt": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "details": alert.details,
        },
    }


def enqueue_event(
    tx: Transaction,
    now: datetime,
    alerts: list[AlertRecord],
    event: str,
    hooks: list[WebhookRecord] | None = None,
) -> None:
    """Put a delivery of each alert's event for each webhook that wants it in the outbox."""
    hooks = [h for h in (tx.list_webhooks() if hooks is None else hooks) if h.enabled]
    wanted = [(a, h) for a in alerts for h in hooks if h.kinds is None or a.kind in h.kinds]
    if not wanted:
        return
    keys = tx.reserve_keys(len(wanted))
    tx.enqueue_deliveries(
        [
            DeliveryRecord(
                delivery_key=key,
                webhook_key=hook.webhook_key,
                alert_key=alert.alert_key,
                event=event,
                payload=alert_payload(alert, event),
                created_at=now,
                next_attempt_at=now,
            )
            for key, (alert, hook) in zip(keys, wanted, strict=True)
        ]
    )


def _enqueue(tx: Transaction, now: datetime, report: SweepReport) -> None:
    hooks = tx.list_webhooks()
    if not hooks or not (report.raised or report.resolved):
        return
    enqueue_event(tx, now, report.raised, "raised", hooks)
    resolved = [tx.get_alert(key) for key in report.resolved]
    enqueue_event(tx, now, [a for a in resolved if a is not None], "resolved", hooks)
