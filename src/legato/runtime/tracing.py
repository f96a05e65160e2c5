"""OpenTelemetry traces: one trace per instance, a span per element instance and per job
attempt, exported when configured (``Engine(tracing=...)``, or ``OTEL_EXPORTER_OTLP_ENDPOINT``
in the environment), off otherwise.

Ids are derived from keys, never kept in live span objects: an instance's trace id from its
instance key, an element instance's span id from its key, a job attempt's from the job key and
the retries left when it was handed out. Any node, before or after a restart, names the same
span the same way, so the spans that different nodes emit join one trace. A span is emitted
when what it covers ends (an element completes, an attempt's result commits), with the start
time the engine recorded (:attr:`~legato.engine.state.ElementInstance.activated_at`), from
the committed batch's events (a rolled-back batch emits nothing).

A handler joins its job's trace through the W3C ``traceparent`` of the attempt: a Python
handler finds it in ``context.traceparent``, an external worker in the job's ``traceparent``
header; what they start under it (``opentelemetry.propagate.extract``) is a child of the
attempt's span.

Spans go through an OpenTelemetry SDK ``TracerProvider`` of the engine's own, whose id
generator hands out the derived ids; this module is imported only when tracing is on (the
SDK comes with the ``otel`` extra: ``pip install legato[otel]``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from legato.engine import events as ev
from legato.engine.state import InstanceState
from legato.engine.values import decode
from legato.errors import InvalidCommandError
from legato.runtime.executor import BatchObserver, Observed
from legato.runtime.masking import Masking
from legato.security.sensitive import Viewer, mask_text

logger = logging.getLogger("legato.tracing")

MAX_TRACKED = 500_000
"""Element instances and jobs remembered until they end (beyond, the oldest are dropped)."""

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def trace_id_of(instance_key: int) -> int:
    """The trace id of an instance (128 bits, never 0)."""
    digest = hashlib.blake2b(b"legato/instance/%d" % instance_key, digest_size=16).digest()
    return int.from_bytes(digest, "big") or 1


def span_id_of(element_instance_key: int) -> int:
    """The span id of an element instance (the instance's own span: its instance key)."""
    digest = hashlib.blake2b(b"legato/element/%d" % element_instance_key, digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def attempt_span_id(job_key: int, retries: int) -> int:
    """The span id of a job's attempt that was handed out with ``retries`` attempts left."""
    digest = hashlib.blake2b(b"legato/job/%d/%d" % (job_key, retries), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def traceparent(instance_key: int, job_key: int, retries: int) -> str:
    """The W3C ``traceparent`` of a job attempt (its span as the parent)."""
    return f"00-{trace_id_of(instance_key):032x}-{attempt_span_id(job_key, retries):016x}-01"


def otlp_processor() -> SpanProcessor:
    """A batching processor to the OTLP/HTTP endpoint the ``OTEL_*`` variables name.

    Raises:
        ImportError: the OTLP exporter is not installed (``pip install legato[otel]``).
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ImportError(
            "OTLP export needs opentelemetry-exporter-otlp-proto-http: pip install 'legato[otel]'"
        ) from exc
    return BatchSpanProcessor(OTLPSpanExporter())


def tracing_for(setting: object, also: BatchObserver | None) -> Tracing:
    """The tracing ``Engine(tracing=setting)`` asks for: True for OTLP, or an SDK span
    processor or exporter.

    Raises:
        InvalidCommandError: ``setting`` is none of these.
    """
    if setting is True:
        return Tracing(otlp_processor(), also=also)
    if isinstance(setting, SpanProcessor | SpanExporter):
        return Tracing(setting, also=also)
    raise InvalidCommandError(
        "tracing must be an OpenTelemetry SpanExporter or SpanProcessor, True, False or "
        f"None, not {type(setting).__name__}"
    )


class _DerivedIds(IdGenerator):
    """Hands out the ids the emitter chose for the span it starts (per thread)."""

    def __init__(self) -> None:
        self._next = threading.local()

    def choose(self, trace_id: int, span_id: int) -> None:
        self._next.trace_id = trace_id
        self._next.span_id = span_id

    def generate_trace_id(self) -> int:
        trace_id: int = self._next.trace_id
        return trace_id

    def generate_span_id(self) -> int:
        span_id: int = self._next.span_id
        return span_id


_Element = tuple[datetime, int | None, str, str]
"""An active element instance: activated at, parent key, element id, element type."""
_Job = tuple[int, str, int]
"""A job: retries left, job type, element instance key."""


class Tracing:
    """Emits the spans of committed batches (a :class:`BatchObserver`).

    Args:
        export: where spans go: an SDK span processor, or an exporter (exported as each span
            ends; pass a ``BatchSpanProcessor`` for a remote one).
        service_name: the ``service.name`` of the spans' resource.
        also: another observer told of the same batches first (the metrics).
    """

    def __init__(
        self,
        export: SpanProcessor | SpanExporter,
        *,
        service_name: str = "legato",
        also: BatchObserver | None = None,
    ) -> None:
        self._ids = _DerivedIds()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), id_generator=self._ids
        )
        processor = export if isinstance(export, SpanProcessor) else SimpleSpanProcessor(export)
        self.provider.add_span_processor(processor)
        self._tracer = self.provider.get_tracer("legato")
        self._also = also
        self._elements: dict[int, _Element] = {}
        self._jobs: dict[int, _Job] = {}
        self._handed_out: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self.masking: Masking | None = None
        """Clears a failed attempt's error (a span's status) of the instance's sensitive
        values; the engine sets it."""

    # -- handing out -----------------------------------------------------------------------------

    def handed_out(self, instance_key: int, job_key: int, retries: int, at: datetime) -> str:
        """A job attempt was handed to a handler or a worker at ``at``: its ``traceparent``."""
        with self._lock:
            _bounded(self._handed_out)[job_key] = at
        return traceparent(instance_key, job_key, retries)

    # -- observing -------------------------------------------------------------------------------

    def loaded(self, state: InstanceState) -> None:
        """Remember the active elements and jobs of a state read from the store."""
        if self._also is not None:
            self._also.loaded(state)
        for element in state.elements.values():
            if element.activated_at is not None and element.key not in self._elements:
                self._elements[element.key] = (
                    element.activated_at,
                    element.parent_key,
                    element.element_id,
                    element.kind,
                )
        for job in state.jobs.values():
            self._jobs[job.job_key] = (job.retries, job.job_type, job.element_instance_key)

    def committed(self, steps: Observed, commit_seconds: float) -> None:
        """Emit the spans that the batch's events end."""
        if self._also is not None:
            self._also.committed(steps, commit_seconds)
        for state, events in steps:
            for event in events:
                kind = type(event)
                if kind is ev.ElementActivated:
                    self._activated(event)  # type: ignore[arg-type]
                elif kind is ev.ElementCompleted or kind is ev.ElementTerminated:
                    self._element_ended(state, event)  # type: ignore[arg-type]
                elif kind is ev.JobCreated:
                    created: ev.JobCreated = event  # type: ignore[assignment]
                    _bounded(self._jobs)[created.job_key] = (
                        created.retries,
                        created.job_type,
                        created.element_instance_key,
                    )
                elif kind is ev.JobRetriesUpdated:
                    self._retries_updated(event)  # type: ignore[arg-type]
                elif kind is ev.JobCompleted or kind is ev.JobFailed:
                    self._attempt_ended(state, event)  # type: ignore[arg-type]
                elif kind is ev.JobCanceled:
                    self._jobs.pop(event.job_key, None)  # type: ignore[attr-defined]
                    self._handed_out.pop(event.job_key, None)  # type: ignore[attr-defined]
                elif kind is ev.InstanceCompleted or kind is ev.InstanceTerminated:
                    self._instance_ended(state, event)  # type: ignore[arg-type]

    def _activated(self, event: ev.ElementActivated) -> None:
        _bounded(self._elements)[event.key] = (
            event.at,
            event.parent_key,
            event.element_id,
            event.element_kind,
        )

    def _retries_updated(self, event: ev.JobRetriesUpdated) -> None:
        known = self._jobs.get(event.job_key)
        if known is not None:
            self._jobs[event.job_key] = (event.retries, known[1], known[2])

    def _element_ended(
        self, state: InstanceState, event: ev.ElementCompleted | ev.ElementTerminated
    ) -> None:
        element = self._elements.pop(event.key, None)
        if element is None:
            return  # activated before its activation time was kept
        activated_at, parent_key, element_id, element_type = element
        outcome = "completed" if isinstance(event, ev.ElementCompleted) else "terminated"
        self._emit(
            f"{element_type} {element_id}",
            state.instance_key,
            span_id_of(event.key),
            span_id_of(parent_key if parent_key is not None else state.instance_key),
            activated_at,
            event.at,
            {
                "legato.instance_key": state.instance_key,
                "legato.process_id": state.process_id,
                "legato.element_id": element_id,
                "legato.element_type": element_type,
                "legato.element_instance_key": event.key,
                "legato.outcome": outcome,
            },
        )

    def _attempt_ended(self, state: InstanceState, event: ev.JobCompleted | ev.JobFailed) -> None:
        job = self._jobs.get(event.job_key)
        if job is None:
            return
        retries, job_type, element_instance_key = job
        started = self._handed_out.pop(event.job_key, None)
        if started is None:
            element = self._elements.get(element_instance_key)
            started = element[0] if element is not None else event.at
        error = None
        if isinstance(event, ev.JobFailed):
            error = event.error_message
            if self.masking is not None:
                scopes = [{k: decode(v) for k, v in s.items()} for s in state.variables.values()]
                error = mask_text(error, self.masking.texts(Viewer(), state.process_id, scopes))
            self._jobs[event.job_key] = (event.retries, job_type, element_instance_key)
        else:
            del self._jobs[event.job_key]
        self._emit(
            f"job {job_type}",
            state.instance_key,
            attempt_span_id(event.job_key, retries),
            span_id_of(element_instance_key),
            started,
            event.at,
            {
                "legato.instance_key": state.instance_key,
                "legato.process_id": state.process_id,
                "legato.job_key": event.job_key,
                "legato.job_type": job_type,
                "legato.retries": retries,
                "legato.element_instance_key": element_instance_key,
            },
            error=error,
        )

    def _instance_ended(
        self, state: InstanceState, event: ev.InstanceCompleted | ev.InstanceTerminated
    ) -> None:
        if state.started_at is None:
            return
        attributes: dict[str, Any] = {
            "legato.instance_key": state.instance_key,
            "legato.process_id": state.process_id,
            "legato.version": state.version,
            "legato.outcome": "completed"
            if isinstance(event, ev.InstanceCompleted)
            else "terminated",
        }
        if state.business_key is not None:
            attributes["legato.business_key"] = state.business_key
        links = []
        if state.parent_instance_key is not None and state.parent_element_instance_key is not None:
            # A called instance has a trace of its own, linked to its call activity's span.
            parent = SpanContext(
                trace_id_of(state.parent_instance_key),
                span_id_of(state.parent_element_instance_key),
                is_remote=True,
                trace_flags=_SAMPLED,
            )
            links.append(Link(parent))
        self._emit(
            state.process_id,
            state.instance_key,
            span_id_of(state.instance_key),
            None,
            state.started_at,
            event.at,
            attributes,
            links=links,
        )

    def _emit(
        self,
        name: str,
        instance_key: int,
        span_id: int,
        parent_span_id: int | None,
        start: datetime,
        end: datetime,
        attributes: dict[str, Any],
        *,
        error: str | None = None,
        links: list[Link] | None = None,
    ) -> None:
        trace_id = trace_id_of(instance_key)
        context = Context()
        if parent_span_id is not None:
            parent = SpanContext(trace_id, parent_span_id, is_remote=True, trace_flags=_SAMPLED)
            context = trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
        self._ids.choose(trace_id, span_id)
        span = self._tracer.start_span(
            name,
            context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=links or (),
            start_time=_nanoseconds(start),
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=_nanoseconds(max(start, end)))

    def shutdown(self) -> None:
        """Export what is pending and stop (the engine closes)."""
        self.provider.shutdown()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanoseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _bounded(entries: dict[int, Any]) -> dict[int, Any]:
    """``entries``, its oldest tenth dropped when it holds :data:`MAX_TRACKED`."""
    if len(entries) >= MAX_TRACKED:
        for key in list(entries)[: MAX_TRACKED // 10]:
            del entries[key]
    return entries
