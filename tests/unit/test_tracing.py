"""OpenTelemetry traces: one trace per instance, a span per element instance and per job
attempt, ids derived from keys (stable across engines), and the ``traceparent`` that lets a
handler's own spans join the trace. Spans are read with the SDK's in-memory exporter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from bpmn_helpers import chain, process, service
from legato import Engine, Job, JobContext
from legato.api.app import create_app
from legato.errors import InvalidCommandError
from legato.runtime.clock import VirtualClock
from legato.runtime.tracing import span_id_of, trace_id_of
from legato.security import Principal, StaticAuthenticator
from legato.store.memory import MemoryStore
from legato.testing import TestEngine

ORDER = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "ship", "e"),
    process_id="order",
)


class Worker:
    """A handler application with its own tracer, as a user's service would have."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("worker")
        self.traceparents: list[str | None] = []

    def handler(self, job: Job, context: JobContext) -> None:
        self.traceparents.append(context.traceparent)
        assert context.traceparent is not None
        carrier = {"traceparent": context.traceparent}
        with self.tracer.start_as_current_span(f"call {job.type}", context=extract(carrier)):
            pass


def by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def test_an_instance_is_one_trace_with_a_span_per_element_and_job_attempt() -> None:
    clock = VirtualClock()
    exporter = InMemorySpanExporter()
    worker = Worker()
    with Engine(store=MemoryStore(), clock=clock, tracing=exporter) as engine:
        engine.deploy(ORDER)
        engine.register("check", worker.handler)
        engine.register("ship", worker.handler)
        instance = engine.start("order", business_key="o-1")
        clock.advance(timedelta(seconds=10))
        engine.run_until_idle()

    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {
        "order",
        "startEvent s",
        "serviceTask check",
        "serviceTask ship",
        "endEvent e",
        "job check",
        "job ship",
    }
    trace_id = trace_id_of(instance.key)
    assert {span.context.trace_id for span in spans.values()} == {trace_id}
    root = spans["order"]
    assert root.parent is None
    assert root.context.span_id == span_id_of(instance.key)
    assert root.attributes is not None and root.attributes["legato.business_key"] == "o-1"
    check = spans["serviceTask check"]
    assert check.parent is not None and check.parent.span_id == root.context.span_id
    attempt = spans["job check"]
    assert attempt.parent is not None and attempt.parent.span_id == check.context.span_id
    # the element's span covers the ten seconds it waited for its job
    assert check.start_time is not None and check.end_time is not None
    assert check.end_time - check.start_time == 10 * 10**9
    # the handlers' own spans are children of their attempts
    handled = by_name(worker.exporter.get_finished_spans())
    for job_type in ("check", "ship"):
        mine = handled[f"call {job_type}"]
        assert mine.context.trace_id == trace_id
        assert mine.parent is not None
        assert mine.parent.span_id == spans[f"job {job_type}"].context.span_id


def test_each_attempt_has_its_own_span_and_a_failed_one_says_why() -> None:
    exporter = InMemorySpanExporter()
    worker = Worker()
    failures = iter([RuntimeError("the service is down")])

    def flaky(job: Job, context: JobContext) -> None:
        worker.handler(job, context)
        for failure in failures:
            raise failure

    with Engine(store=MemoryStore(), clock=VirtualClock(), tracing=exporter) as engine:
        engine.deploy(ORDER)
        engine.register("check", flaky)
        engine.register("ship", worker.handler)
        engine.start("order")
        engine.run_until_idle()

    attempts = [s for s in exporter.get_finished_spans() if s.name == "job check"]
    assert len(attempts) == 2
    failed, succeeded = attempts
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "RuntimeError: the service is down"
    assert succeeded.status.status_code is StatusCode.UNSET
    assert failed.context.span_id != succeeded.context.span_id
    first, second = worker.traceparents[:2]
    assert first is not None and second is not None and first != second
    assert first.split("-")[2] == f"{failed.context.span_id:016x}"
    assert second.split("-")[2] == f"{succeeded.context.span_id:016x}"


def test_spans_emitted_by_two_engines_join_one_trace(tmp_path: Path) -> None:
    # Given an instance started by one engine (a node), waiting in "check"
    url = f"sqlite:///{tmp_path / 't.db'}"
    clock = VirtualClock()
    first_exporter, second_exporter = InMemorySpanExporter(), InMemorySpanExporter()
    with Engine(url, clock=clock, tracing=first_exporter) as first:
        first.deploy(ORDER)
        instance = first.start("order")
    clock.advance(timedelta(minutes=3))
    # When another engine (a restart, another node) runs its jobs
    worker = Worker()
    with Engine(url, clock=clock, tracing=second_exporter) as second:
        second.register("check", worker.handler)
        second.register("ship", worker.handler)
        second.run_until_idle()

    # Then both engines' spans are one trace, parented by the same derived span ids
    before = by_name(first_exporter.get_finished_spans())
    after = by_name(second_exporter.get_finished_spans())
    assert set(before) == {"startEvent s"}
    trace_id = trace_id_of(instance.key)
    assert {s.context.trace_id for s in [*before.values(), *after.values()]} == {trace_id}
    check = after["serviceTask check"]
    assert check.parent is not None and check.parent.span_id == span_id_of(instance.key)
    # measured from the activation the first engine recorded
    assert check.start_time is not None and check.end_time is not None
    assert check.end_time - check.start_time == 180 * 10**9
    assert after["order"].context.span_id == span_id_of(instance.key)


def test_an_external_worker_gets_the_traceparent_as_a_job_header() -> None:
    exporter = InMemorySpanExporter()
    worker = Principal("worker", frozenset({"worker"}))
    with Engine(store=MemoryStore(), clock=VirtualClock(), tracing=exporter) as engine:
        engine.deploy(ORDER)
        instance = engine.start("order")
        app = create_app(engine, StaticAuthenticator({"worker": ("worker", worker)}))
        with TestClient(app) as client:
            answer = client.post(
                "/v2/jobs/activation",
                json={"type": "check", "timeout": 30_000, "maxJobsToActivate": 1},
                auth=("worker", "worker"),
            )
            assert answer.status_code == 200, answer.text
            [job] = answer.json()["jobs"]
            header = job["customHeaders"]["traceparent"]
            done = client.post(
                f"/v2/jobs/{job['jobKey']}/completion", json={}, auth=("worker", "worker")
            )
            assert done.status_code == 204, done.text

    version, trace_id, span_id, flags = header.split("-")
    assert (version, flags) == ("00", "01")
    assert int(trace_id, 16) == trace_id_of(instance.key)
    [attempt] = [s for s in exporter.get_finished_spans() if s.name == "job check"]
    assert attempt.context.span_id == int(span_id, 16)


def test_tracing_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    seen: list[str | None] = []
    with Engine(store=MemoryStore()) as engine:
        assert engine.tracing is None
        engine.deploy(ORDER)
        engine.register("check", lambda job, context: seen.append(context.traceparent))
        engine.start("order")
        engine.run_once()
        assert [job.headers for job in engine.fetch_jobs([], worker="w", max_jobs=1)] == []
    assert seen == [None]
    with pytest.raises(InvalidCommandError, match="tracing must be an OpenTelemetry SpanExporter"):
        Engine(store=MemoryStore(), tracing="yes please")


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        _Collector.received.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_environment_switches_otlp_export_on(
    collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    with Engine(store=MemoryStore(), clock=VirtualClock()) as engine:
        assert engine.tracing is not None
        engine.deploy(ORDER)
        engine.register("check", lambda job: None)
        engine.register("ship", lambda job: None)
        engine.start("order")
        engine.run_until_idle()
    # closing the engine flushed the batch to the collector
    names = set()
    for path, body in _Collector.received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                names |= {span.name for span in scope.spans}
    assert {"order", "serviceTask check", "job ship"} <= names


def test_the_testing_kit_traces_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never used
    with TestEngine() as quiet:
        assert quiet.tracing is None
    exporter = InMemorySpanExporter()
    with TestEngine(tracing=exporter) as engine:
        engine.deploy(ORDER)
        engine.register("check", lambda job: None)
        engine.register("ship", lambda job: None)
        instance = engine.start("order")
        engine.clock.advance(timedelta(seconds=1))
        engine.assert_that(instance).is_completed()
    names = {span.name for span in exporter.get_finished_spans()}
    assert {"order", "serviceTask ship", "job check"} <= names
