"""Prometheus metrics of an engine: counted from committed batches, read with
``Engine.metrics_text()`` as Prometheus would parse them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bpmn_helpers import chain, process, service
from legato import Engine, NonRetryableError
from legato.errors import InvalidCommandError
from legato.runtime.clock import VirtualClock
from legato.store.memory import MemoryStore
from legato.testing import TestEngine

TWO_STEPS = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "ship", "e"),
    process_id="order",
)

THREE_DAYS = process(
    '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait">'
    "<bpmn:timerEventDefinition>"
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>'
    '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
    + chain("s", "wait", "e"),
    process_id="sleeper",
)


def taking(clock: VirtualClock, delta: timedelta) -> Callable[[object], None]:
    """A handler whose work takes ``delta`` on the virtual clock."""

    def handler(job: object) -> None:
        clock.advance(delta)

    return handler


def samples(engine: Engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the engine's metrics text, by name and sorted labels."""
    text = engine.metrics_text().decode()
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(engine: Engine, name: str, **labels: str) -> float | None:
    return samples(engine).get((name, tuple(sorted(labels.items()))))


def test_instances_are_counted_by_process_and_version_once_committed(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Engine(f"sqlite:///{tmp_path / 'm.db'}", clock=clock) as engine:
        engine.deploy(TWO_STEPS)
        engine.register("check", taking(clock, timedelta(seconds=30)))
        engine.register("ship", taking(clock, timedelta(minutes=2)))
        first = engine.start("order")
        engine.run_until_idle()
        engine.start("order")
        engine.run_until_idle()
        engine.start("order")
        engine.cancel(engine.start("order").key)

        order = {"process": "order", "version": "1"}
        assert value(engine, "legato_instances_started_total", **order) == 4
        assert value(engine, "legato_instances_completed_total", **order) == 2
        assert value(engine, "legato_instances_terminated_total", **order) == 1
        assert value(engine, "legato_instance_duration_seconds_count", **order) == 2
        # Each instance: 30 s for the check, 2 min for the shipping (the virtual clock).
        assert value(engine, "legato_instance_duration_seconds_sum", **order) == 2 * 150
        assert value(engine, "legato_instance_duration_seconds_bucket", le="60.0", **order) == 0
        assert value(engine, "legato_instance_duration_seconds_bucket", le="300.0", **order) == 2
        # One active instance left (the cancelled one is not), read from the database.
        assert value(engine, "legato_instances_active", **order) == 1
        assert engine.instance(first.key).status == "completed"


def test_element_and_job_durations_are_histograms_by_type(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Engine(f"sqlite:///{tmp_path / 'm.db'}", clock=clock) as engine:
        engine.deploy(TWO_STEPS)
        engine.register("check", taking(clock, timedelta(seconds=30)))
        engine.register("ship", taking(clock, timedelta(minutes=2)))
        engine.start("order")
        engine.run_until_idle()

        tasks = {"process": "order", "element_type": "serviceTask"}
        assert value(engine, "legato_element_duration_seconds_count", **tasks) == 2
        assert value(engine, "legato_element_duration_seconds_sum", **tasks) == 150
        ends = {"process": "order", "element_type": "endEvent"}
        assert value(engine, "legato_element_duration_seconds_sum", **ends) == 0
        check = {"process": "order", "job_type": "check"}
        assert value(engine, "legato_job_duration_seconds_sum", **check) == 30
        ship = {"process": "order", "job_type": "ship"}
        assert value(engine, "legato_job_duration_seconds_bucket", le="60.0", **ship) == 0
        assert value(engine, "legato_job_duration_seconds_bucket", le="300.0", **ship) == 1


def test_an_element_started_by_another_engine_is_measured_where_it_ends(tmp_path: Path) -> None:
    # Given an instance started by one engine (node), waiting in "check"
    clock = VirtualClock()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Engine(url, clock=clock) as starter:
        starter.deploy(TWO_STEPS)
        starter.start("order")
    clock.advance(timedelta(minutes=5))
    # When another engine (a restart, another node) completes its job
    with Engine(url, clock=clock) as other:
        other.register("check", lambda job: None)
        other.run_once()
        # Then the element's five minutes are measured from its recorded activation
        tasks = {"process": "order", "element_type": "serviceTask"}
        assert value(other, "legato_element_duration_seconds_count", **tasks) == 1
        assert value(other, "legato_element_duration_seconds_sum", **tasks) == 300
        check = {"process": "order", "job_type": "check"}
        assert value(other, "legato_job_duration_seconds_sum", **check) == 300
        # and the start is not counted again here: each node counts what it did
        assert value(other, "legato_instances_started_total", process="order", version="1") == 0


def test_incidents_and_failed_attempts_are_counted(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'm.db'}", clock=VirtualClock()) as engine:
        engine.deploy(TWO_STEPS)

        def refuse(job: object) -> None:
            raise NonRetryableError("the card was declined")

        engine.register("check", refuse)
        engine.start("order")
        engine.run_until_idle()

        order = {"process": "order", "version": "1"}
        assert value(engine, "legato_incidents_raised_total", **order) == 1
        assert value(engine, "legato_incidents_open", **order) == 1
        assert value(engine, "legato_job_failures_total", process="order", job_type="check") == 1


def test_a_rolled_back_batch_counts_nothing(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'm.db'}", clock=VirtualClock()) as engine:
        engine.deploy(TWO_STEPS)
        with pytest.raises(InvalidCommandError):
            # One bad variable refuses the whole batch: none of them started.
            engine.start_many("order", [{"ok": 1}, {"bad": object()}])
        assert value(engine, "legato_instances_started_total", process="order", version="1") in (
            None,
            0,
        )
        engine.start_many("order", [{"ok": 1}, {"ok": 2}])
        assert value(engine, "legato_instances_started_total", process="order", version="1") == 2


def test_engine_internals_batches_commits_and_timer_lag() -> None:
    clock = VirtualClock()
    with Engine(store=MemoryStore(), clock=clock) as engine:
        engine.deploy(THREE_DAYS)
        engine.start_many("sleeper", [{}, {}, {}])
        clock.advance(timedelta(days=3, seconds=20))
        assert engine.fire_due_timers() == 3

        assert value(engine, "legato_batch_commands_count") == 2  # the start, the firing
        assert value(engine, "legato_batch_commands_sum") == 6
        assert value(engine, "legato_commit_duration_seconds_count") == 2
        assert value(engine, "legato_timer_lag_seconds_count") == 3
        assert value(engine, "legato_timer_lag_seconds_sum") == 60
        assert (
            value(engine, "legato_instances_completed_total", process="sleeper", version="1") == 3
        )


def test_job_queues_are_gauged_per_type(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Engine(f"sqlite:///{tmp_path / 'm.db'}", clock=clock) as engine:
        engine.deploy(TWO_STEPS)
        engine.start_many("order", [{}, {}])  # two "check" jobs for external workers
        clock.advance(timedelta(seconds=90))
        engine.start("order")

        assert value(engine, "legato_job_queue_depth", job_type="check") == 3
        assert value(engine, "legato_job_queue_oldest_age_seconds", job_type="check") == 90
        assert value(engine, "legato_nodes_alive") == 0  # no node serves this database


def test_metrics_off() -> None:
    with Engine(store=MemoryStore(), metrics=False) as engine:
        assert engine.metrics is None
        with pytest.raises(InvalidCommandError, match="metrics=False"):
            engine.metrics_text()


def test_the_database_gauges_on_every_store(engine_store: str) -> None:
    # Given instances of two versions, one with an incident, and jobs waiting on each store
    with TestEngine() as engine:
        engine.deploy(TWO_STEPS)
        engine.start_many("order", [{}, {}])
        engine.deploy(TWO_STEPS.replace('type="ship"', 'type="send"'))
        engine.start("order")
        engine.clock.advance(timedelta(seconds=45))
        engine.start("order")

        def refuse(job: object) -> None:
            raise NonRetryableError("declined")

        engine.register("check", refuse)
        engine.run_once()  # every check job fails at once: four incidents

        # Then the gauges count them by process and version, and the queues by type
        assert value(engine, "legato_instances_active", process="order", version="1") == 2
        assert value(engine, "legato_instances_active", process="order", version="2") == 2
        assert value(engine, "legato_incidents_open", process="order", version="2") == 2
        assert value(engine, "legato_job_queue_depth", job_type="check") is None  # all failed
        # and a job no handler of this engine takes waits in its type's queue
        engine.deploy(TWO_STEPS.replace('type="check"', 'type="audit"'))
        engine.start("order")
        engine.clock.advance(timedelta(seconds=6))  # past the last reading's five seconds
        assert value(engine, "legato_job_queue_depth", job_type="audit") == 1
        assert value(engine, "legato_job_queue_oldest_age_seconds", job_type="audit") == 6
        assert value(engine, "legato_instances_active", process="order", version="3") == 1


def test_one_node_at_a_time_exports_the_database_gauges(tmp_path: Path) -> None:
    # Given two serving nodes on one database, the first one started first
    url = f"sqlite:///{tmp_path / 'nodes.db'}"
    beat = {"heartbeat_interval": timedelta(milliseconds=100), "poll_interval": 0.05}
    first = Engine(url, worker_name="node-1")
    second = Engine(url, worker_name="node-2")
    first.deploy(TWO_STEPS)
    first.start("order")
    threads = [threading.Thread(target=first.serve, kwargs=beat)]
    threads[0].start()
    try:
        wait_for(lambda: [n.node_id for n in first.nodes()] == ["node-1"], "node-1")
        threads.append(threading.Thread(target=second.serve, kwargs=beat))
        threads[1].start()
        # Then the oldest live node exports them, the other leaves them out
        wait_for(
            lambda: (
                value(first, "legato_nodes_alive") == 2
                and value(second, "legato_nodes_alive") is None
            ),
            "node-1 to count both nodes and node-2 to leave the gauges out",
        )
        assert value(first, "legato_instances_active", process="order", version="1") == 1
        assert value(second, "legato_instances_active", process="order", version="1") is None
        # When the first one stops, the other takes over
        first.stop()
        threads[0].join(WAIT)
        wait_for(
            lambda: value(second, "legato_nodes_alive") == 1,
            "node-2 to export the gauges once node-1 stopped",
        )
        assert value(second, "legato_instances_active", process="order", version="1") == 1
    finally:
        first.stop()
        second.stop()
        for thread in threads:
            thread.join(WAIT)
        first.close()
        second.close()


WAIT = 120.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT} s waiting for {what}")
        time.sleep(0.05)
