"""SLA alerts on the test kit's virtual clock, on every store: raised once past the
threshold, resolved when the run moves on, and posted to webhooks (signed, retried)."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from bpmn_helpers import chain, process, service
from legato.errors import BpmnValidationError, InvalidCommandError
from legato.model import RetryPolicy
from legato.runtime.sla import AlertConfig
from legato.runtime.webhooks import Webhook
from legato.testing import TestEngine

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
SECRET = "hook-secret"


def review_process(process_sla: str = "PT1H", task_sla: str | None = None) -> str:
    task_ext = (
        f'<bpmn:extensionElements><legato:sla expectedDuration="{task_sla}"/>'
        "</bpmn:extensionElements>"
        if task_sla
        else ""
    )
    return process(
        f'<bpmn:extensionElements><legato:sla expectedDuration="{process_sla}"/>'
        "</bpmn:extensionElements>"
        '<bpmn:startEvent id="s"/>'
        f'<bpmn:userTask id="review">{task_ext}</bpmn:userTask>'
        '<bpmn:endEvent id="e"/>' + chain("s", "review", "e")
    )


def complete_review(engine: TestEngine, instance_key: int) -> None:
    (task,) = engine.user_tasks(instance_key=instance_key)
    engine.complete_user_task(task.user_task_key)


def test_an_instance_past_twice_its_expected_duration_raises_one_alert() -> None:
    engine = TestEngine(start=T0)
    engine.deploy(review_process("PT1H"))
    instance = engine.start("p")

    engine.clock.advance(timedelta(hours=1, minutes=59))
    assert engine.alerts() == []
    engine.clock.advance(timedelta(minutes=2))

    (alert,) = engine.alerts()
    assert (alert.kind, alert.instance_key, alert.element_id) == (
        "instance_overdue",
        instance.key,
        None,
    )
    assert alert.raised_at == T0 + timedelta(hours=2, minutes=1)
    assert alert.details["expectedSeconds"] == 3600.0
    engine.clock.advance(timedelta(hours=5))
    assert [a.alert_key for a in engine.alerts()] == [alert.alert_key]

    complete_review(engine, instance.key)
    engine.clock.advance(timedelta(seconds=1))

    assert engine.alerts() == []
    (resolved,) = engine.alerts(include_resolved=True)
    assert resolved.resolved_at == T0 + timedelta(hours=7, minutes=1, seconds=1)


def test_an_element_past_its_expected_duration_raises_an_element_alert() -> None:
    engine = TestEngine(start=T0)
    engine.deploy(review_process("P1D", task_sla="PT10M"))
    instance = engine.start("p")

    engine.clock.advance(timedelta(minutes=21))

    (alert,) = engine.alerts()
    assert (alert.kind, alert.instance_key, alert.element_id) == (
        "element_overdue",
        instance.key,
        "review",
    )
    assert alert.element_instance_key is not None
    complete_review(engine, instance.key)
    engine.clock.advance(timedelta(seconds=1))
    assert engine.alerts() == []


def test_a_threshold_and_an_api_set_expectation_override_the_model() -> None:
    engine = TestEngine(start=T0, alerts=AlertConfig(threshold=3.0))
    engine.deploy(review_process("PT1H"))
    engine.start("p")

    engine.clock.advance(timedelta(hours=2, minutes=30))
    assert engine.alerts() == []  # 3 × 1 h
    engine.set_sla("p", expected=timedelta(minutes=30), threshold=2)
    engine.clock.advance(timedelta(seconds=1))

    assert [a.kind for a in engine.alerts()] == ["instance_overdue"]
    assert [(s.process_id, s.version, s.element_id) for s in engine.slas()] == [("p", 0, "")]


def test_two_sweeps_raise_an_alert_once() -> None:
    engine = TestEngine(start=T0)
    engine.deploy(review_process("PT1H"))
    engine.start("p")
    engine.clock.advance(timedelta(hours=3))

    again = engine.sweep_alerts()
    other_node = TestEngine(store=engine.store, start=T0 + timedelta(hours=3))

    assert again.raised == [] and other_node.sweep_alerts().raised == []
    assert len(engine.alerts(include_resolved=True)) == 1


def test_an_alert_resolved_by_hand_is_not_raised_again() -> None:
    engine = TestEngine(start=T0)
    engine.deploy(review_process("PT1H"))
    engine.start("p")
    engine.clock.advance(timedelta(hours=3))
    (alert,) = engine.alerts()

    assert engine.resolve_alert(alert.alert_key).resolved_at == T0 + timedelta(hours=3)
    engine.clock.advance(timedelta(hours=1))

    assert engine.alerts() == []


def test_a_malformed_sla_duration_is_refused_at_deployment_naming_the_element() -> None:
    engine = TestEngine(start=T0)

    with pytest.raises(BpmnValidationError, match=r"element .review.*PT-5M"):
        engine.deploy(review_process("PT1H", task_sla="PT-5M"))
    with pytest.raises(BpmnValidationError, match=r"element 'p'.*'soon'"):
        engine.deploy(review_process("soon"))
    with pytest.raises(InvalidCommandError, match="positive"):
        engine.set_sla("p", expected=timedelta(0))


# -- webhooks ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A local HTTP endpoint that records what is posted and answers ``status``."""

    url: str = ""
    status: int = 200
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.posts.append((dict(self.headers.items()), body))
            state.arrived.set()
            if state.release is not None:
                state.release.wait(timeout=60)
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    try:
        yield state
    finally:
        if state.release is not None:
            state.release.set()
        server.shutdown()
        server.server_close()


def test_an_overdue_instance_reaches_a_webhook_signed(receiver: Receiver) -> None:
    engine = TestEngine(start=T0, webhooks=[Webhook(receiver.url, SECRET)])
    engine.deploy(review_process("PT1H"))
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=2, minutes=1))

    assert engine.deliver_webhooks() == 1

    ((headers, body),) = receiver.posts
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Legato-Signature"] == f"sha256={expected}"
    assert headers["X-Legato-Timestamp"] == (T0 + timedelta(hours=2, minutes=1)).isoformat()
    payload = orjson.loads(body)
    assert payload["event"] == "raised"
    assert (payload["alert"]["kind"], payload["alert"]["instanceKey"]) == (
        "instance_overdue",
        instance.key,
    )
    (delivery,) = engine.webhook_deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_a_resolved_alert_is_posted_too(receiver: Receiver) -> None:
    engine = TestEngine(start=T0, webhooks=[Webhook(receiver.url, SECRET)])
    engine.deploy(review_process("PT1H"))
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=3))
    complete_review(engine, instance.key)
    engine.clock.advance(timedelta(seconds=1))

    assert engine.deliver_webhooks() == 2

    events = sorted(orjson.loads(body)["event"] for _, body in receiver.posts)
    assert events == ["raised", "resolved"]


def test_a_failing_webhook_is_retried_with_backoff_then_given_up(receiver: Receiver) -> None:
    receiver.status = 500
    engine = TestEngine(start=T0, webhooks=[Webhook(receiver.url, SECRET)])
    policy = engine.webhook_delivery.policy
    engine.deploy(review_process("PT1H"))
    engine.start("p")
    engine.clock.advance(timedelta(hours=3))

    assert engine.deliver_webhooks() == 1
    (delivery,) = engine.webhook_deliveries()
    # The test kit does not jitter: the first retry waits the initial backoff exactly.
    assert delivery.next_attempt_at == engine.clock.now() + policy.initial_backoff
    assert (delivery.status, delivery.last_error) == ("pending", "HTTP 500")
    assert engine.deliver_webhooks() == 0  # not due yet

    backoffs = []
    for _ in range(policy.max_attempts - 1):
        (delivery,) = engine.webhook_deliveries()
        assert delivery.next_attempt_at is not None
        backoffs.append(delivery.next_attempt_at - engine.clock.now())
        engine.clock.advance(backoffs[-1])
        assert engine.deliver_webhooks() == 1

    assert backoffs[:3] == [policy.initial_backoff * n for n in (1, 2, 4)]
    (delivery,) = engine.webhook_deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "failed",
        policy.max_attempts,
        "HTTP 500",
    )
    assert delivery.next_attempt_at is None
    assert len(receiver.posts) == policy.max_attempts


def test_a_hanging_webhook_does_not_hold_up_instances(receiver: Receiver) -> None:
    receiver.release = threading.Event()
    engine = TestEngine(start=T0, webhooks=[Webhook(receiver.url, SECRET)])
    engine.deploy(review_process("PT1H"))
    first = engine.start("p")
    engine.clock.advance(timedelta(hours=3))
    engine.webhook_delivery.start()
    try:
        assert receiver.arrived.wait(timeout=60)  # the worker is stuck in the post

        # Meanwhile the engine goes on: commands commit, sweeps run.
        complete_review(engine, first.key)
        second = engine.start("p")
        engine.clock.advance(timedelta(hours=3))

        engine.assert_that(first).is_completed()
        assert [a.instance_key for a in engine.alerts()] == [second.key]
        assert not receiver.release.is_set()
    finally:
        receiver.release.set()
        engine.webhook_delivery.stop()


def test_webhooks_are_managed(receiver: Receiver) -> None:
    engine = TestEngine(start=T0)
    hook = engine.add_webhook(receiver.url, kinds=["error_rate"])

    assert [h.url for h in engine.webhooks()] == [receiver.url] and hook.secret
    engine.deploy(review_process("PT1H"))
    engine.start("p")
    engine.clock.advance(timedelta(hours=3))
    assert engine.deliver_webhooks() == 0  # not a kind it wants
    assert engine.remove_webhook(hook.webhook_key)
    with pytest.raises(InvalidCommandError, match="http"):
        engine.add_webhook("ftp://example.invalid/")


# -- error rates and job queues -----------------------------------------------------------------

CHARGE = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "charge", "e"),
    "pay",
)


def test_a_job_queue_older_than_its_limit_raises_then_resolves() -> None:
    engine = TestEngine(start=T0, alerts=AlertConfig(job_queue_age=timedelta(minutes=10)))
    engine.deploy(CHARGE)
    engine.start("pay")  # no handler yet: the job waits in its queue

    engine.clock.advance(timedelta(minutes=9))
    assert engine.alerts() == []
    engine.clock.advance(timedelta(minutes=2))

    (alert,) = engine.alerts()
    assert (alert.kind, alert.details["jobType"]) == ("job_queue_age", "charge")
    assert alert.details["ageSeconds"] == 11 * 60
    engine.register("charge", lambda job: {})
    engine.clock.advance(timedelta(seconds=1))  # runs the job, then sweeps
    assert engine.alerts() == []


def test_an_error_rate_above_the_threshold_raises_then_resolves() -> None:
    config = AlertConfig(error_rate=0.25, error_window=timedelta(hours=1), error_min_instances=2)
    engine = TestEngine(start=T0, alerts=config, retry_policy=RetryPolicy(max_attempts=1))
    engine.deploy(CHARGE)
    failing = {"on": True}

    def charge(job: object) -> dict[str, object]:
        if failing["on"]:
            raise RuntimeError("card declined")
        return {}

    engine.register("charge", charge)
    for _ in range(2):  # each raises an incident, is retried and completes
        instance = engine.start("pay")
        engine.run_until_idle()
        (incident,) = engine.incidents()
        failing["on"] = False
        engine.retry(incident.incident_key)
        engine.run_until_idle()
        engine.assert_that(instance).is_completed()
        failing["on"] = True
    engine.clock.advance(timedelta(minutes=1))

    (alert,) = engine.alerts()
    assert (alert.kind, alert.process_id, alert.version) == ("error_rate", "pay", 1)
    assert (alert.details["rate"], alert.details["ended"]) == (1.0, 2)

    engine.clock.advance(timedelta(hours=2))  # the window moved past them
    assert engine.alerts() == []
