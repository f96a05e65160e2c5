"""The engine end to end on PostgreSQL, and two engine nodes sharing one database.

Each test gets this module's schema with every table empty (see ``conftest.py``); the tests
are skipped where no PostgreSQL server is reachable.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import Engine, Job, NonRetryableError
from legato.runtime.clock import VirtualClock

pytestmark = pytest.mark.postgres

MESSAGE_DEFS = (
    '<bpmn:message id="m_paid" name="payment-received"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
)

ORDER = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + '<bpmn:userTask id="approve"/>'
    + '<bpmn:intermediateCatchEvent id="paid">'
    + '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>'
    + '<bpmn:intermediateCatchEvent id="cool_off"><bpmn:timerEventDefinition>'
    + '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>'
    + "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    + service("charge", "charge")
    + '<bpmn:exclusiveGateway id="big" default="small"/>'
    + service("review", "review")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "approve", "paid", "cool_off", "charge", "big")
    + flow("large", "big", "review", "amount > 100")
    + flow("small", "big", "e")
    + chain("review", "e", prefix="r"),
    extra=MESSAGE_DEFS,
)

START = datetime(2025, 1, 1, tzinfo=UTC)


def _engine(url: str, clock: VirtualClock, name: str) -> Engine:
    return Engine(url, clock=clock, worker_name=name, random_source=lambda: 0.5)


def test_an_order_runs_end_to_end_and_its_history_replays_into_its_state(
    empty_postgres_url: str,
) -> None:
    clock = VirtualClock(START)
    engine = _engine(empty_postgres_url, clock, "node-a")
    try:
        engine.deploy(ORDER)
        engine.register("check", lambda job: {"checked": True})
        engine.register("review", lambda job: {"reviewed": True})

        def charge(job: Job) -> dict[str, object]:
            if job.variables.get("card") != "valid":
                raise NonRetryableError("card declined")
            return {"charged": job.variables["amount"]}

        engine.register("charge", charge)
        # Given an order waiting for approval
        order = engine.start("p", {"orderId": "O-1", "card": "expired"}, business_key="o-1")
        other = engine.start("p", {"orderId": "O-2", "card": "valid"})
        engine.run_until_idle()
        tasks = engine.user_tasks()
        assert sorted(t.instance_key for t in tasks) == sorted([order.key, other.key])
        # When it is approved, paid, cooled off and charged (first with a bad card)
        for task in tasks:
            engine.complete_user_task(task.user_task_key, {"approved": True})
        assert engine.publish_message("payment-received", "O-1", {"amount": 250}).correlated == [
            order.key
        ]
        buffered = engine.publish_message(
            "payment-received", "O-9", time_to_live=timedelta(minutes=5), message_id="m-9"
        )
        assert buffered.correlated == [] and buffered.buffered_message_key is not None
        assert engine.fire_due_timers() == 0
        clock.advance(timedelta(hours=1))
        assert engine.fire_due_timers() == 1
        engine.run_until_idle()
        [incident] = engine.incidents()
        assert incident.instance_key == order.key and incident.element_id == "charge"
        engine.retry(incident.incident_key, variables={"card": "valid"})
        engine.run_until_idle()
        # Then it completes through the review branch, and the other waits for its payment
        assert engine.instance(order.key).status == "completed"
        assert engine.instance(other.key).status == "active"
        assert engine.incidents() == []
        clock.advance(timedelta(minutes=10))
        assert [m.message_id for m in engine.expire_messages()] == ["m-9"]
        for key in (order.key, other.key):
            assert engine.replay(key).to_json() == engine.state(key).to_json()
    finally:
        engine.close()


def test_the_same_database_reopened_by_another_node_continues_the_instance(
    empty_postgres_url: str,
) -> None:
    clock = VirtualClock(START)
    first = _engine(empty_postgres_url, clock, "node-a")
    first.deploy(ORDER)
    first.register("check", lambda job: {"checked": True})
    order = first.start("p", {"orderId": "O-1", "card": "valid"})
    first.run_until_idle()
    first.close()

    second = _engine(empty_postgres_url, clock, "node-b")
    try:
        second.register("charge", lambda job: {"charged": 1})
        [task] = second.user_tasks()
        second.complete_user_task(task.user_task_key, {})
        second.publish_message("payment-received", "O-1", {"amount": 5})
        clock.advance(timedelta(hours=2))
        second.fire_due_timers()
        second.run_until_idle()
        assert second.instance(order.key).status == "completed"
        assert second.replay(order.key).to_json() == second.state(order.key).to_json()
    finally:
        second.close()


ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("work", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "work", "e")
)


def test_two_nodes_share_the_jobs_and_run_each_once(empty_postgres_url: str) -> None:
    clock = VirtualClock(START)
    nodes = [_engine(empty_postgres_url, clock, f"node-{i}") for i in range(2)]
    calls: Counter[int] = Counter()
    lock = threading.Lock()
    try:
        nodes[0].deploy(ONE_TASK)
        keys = [nodes[0].start("p", {"n": i}).key for i in range(40)]
        for node in nodes:

            def work(job: Job) -> dict[str, object]:
                with lock:
                    calls[job.key] += 1
                return {"done": True}

            node.register("work", work)
            node.batch_size = 5

        def drain(node: Engine) -> None:
            # Not run_until_idle: on the shared virtual clock, a node that waits for the
            # other's leases would skip ahead past them and take those jobs over.
            while node.run_once():
                pass

        threads = [threading.Thread(target=drain, args=(node,)) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(calls) == 40 and set(calls.values()) == {1}
        assert all(nodes[1].instance(key).status == "completed" for key in keys)
    finally:
        for node in nodes:
            node.close()


def test_the_durability_suite_drive_replays_on_postgres(empty_postgres_url: str) -> None:
    # The same scenario as tests/unit/engine/test_durability.py runs on SQLite (parallel
    # branches, a sub-process, a user task, a gateway), here on PostgreSQL.
    from unit.engine.test_durability import _drive

    engine = Engine(empty_postgres_url)
    try:
        keys = _drive(engine)
        waiting = engine.start("p", {"n": 0})
        for key in [*keys, waiting.key]:
            assert engine.replay(key).to_json() == engine.state(key).to_json()
        assert all(engine.instance(k).status == "completed" for k in keys)
    finally:
        engine.close()
