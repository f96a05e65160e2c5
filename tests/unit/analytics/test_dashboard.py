"""A process's dashboard on every store: throughput by bucket, cycle times, element shares
and error rate from the rollups the live path keeps, read in windows of a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato import InvalidCommandError, NotFoundError
from legato.analytics.dashboard import MAX_BUCKETS, compare_versions, process_report
from legato.store.histogram import RELATIVE_ERROR
from legato.testing import TestEngine

TWO_TASKS = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "ship", "e")
)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def _finish(engine: TestEngine, key: int, job_type: str, after: timedelta) -> None:
    engine.clock.advance(after)
    [job] = [j for j in engine.jobs(instance_key=key) if j.job_type == job_type]
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(hours=5))
    engine.complete_job(job.job_key)


def test_a_report_reads_the_instances_of_its_window() -> None:
    engine = TestEngine(start=T0)
    try:
        engine.deploy(TWO_TASKS)
        first = engine.start("p").key
        second = engine.start("p").key
        _finish(engine, first, "check", timedelta(minutes=10))
        _finish(engine, first, "ship", timedelta(minutes=50))  # first ends at 9:00
        _finish(engine, second, "check", timedelta(hours=1))  # 10:00
        [job] = engine.jobs(instance_key=second)
        engine.lock_job(job.job_key, worker="w", timeout=timedelta(hours=5))
        engine.fail_job(job.job_key, "no stock", retries=0)
        third = engine.start("p").key
        engine.cancel(third)

        report = process_report(
            engine, "p", since=T0, until=T0 + timedelta(hours=3), now=engine.clock.now()
        )
        assert report.versions == (1,)
        assert [
            (b.start.hour, b.started, b.completed, b.terminated, b.incidents)
            for b in report.throughput
        ] == [(8, 2, 0, 0, 0), (9, 0, 1, 0, 0), (10, 1, 0, 1, 1)]
        assert report.cycle_time.count == 1
        assert report.cycle_time.mean_ms == 3_600_000
        for value in (report.cycle_time.p50_ms, report.cycle_time.p99_ms, report.cycle_time.max_ms):
            assert abs(value / 3_600_000 - 1) <= RELATIVE_ERROR
        assert (report.error_rate.instances, report.error_rate.with_incidents) == (2, 0)
        assert report.error_rate.incidents_open == 1
        by_id = {e.element_id: e for e in report.elements}
        # check: 10 and 120 minutes, ship: 50 (shares of the one completed hour)
        assert [e.element_id for e in report.elements][:2] == ["check", "ship"]
        assert by_id["ship"].total_ms == 50 * 60_000 and by_id["ship"].active == 1
        assert by_id["check"].count == 2 and by_id["check"].total_ms == 130 * 60_000
        assert by_id["ship"].share == round(50 / 60, 4)
        assert by_id["ship"].incidents == 1 and by_id["ship"].element_type == "serviceTask"

        engine.cancel(second)
        later = process_report(engine, "p", since=T0, until=T0 + timedelta(hours=3))
        assert (later.error_rate.instances, later.error_rate.with_incidents) == (3, 1)
        assert later.error_rate.rate == pytest.approx(1 / 3)
        assert later.error_rate.incidents_open == 0
    finally:
        engine.close()


def test_versions_are_compared_by_their_mean_cycle_time() -> None:
    engine = TestEngine(start=T0)
    try:
        engine.deploy(TWO_TASKS)
        key = engine.start("p").key
        _finish(engine, key, "check", timedelta(minutes=30))
        _finish(engine, key, "ship", timedelta(minutes=30))
        engine.deploy(TWO_TASKS.replace('id="e"', 'id="done"').replace('"e"', '"done"'))
        key = engine.start("p").key
        _finish(engine, key, "check", timedelta(minutes=15))
        _finish(engine, key, "ship", timedelta(minutes=30))
        found = compare_versions(engine, "p", 1, 2, now=engine.clock.now())
        assert (found.a.throughput_total, found.b.throughput_total) == (1, 1)
        assert found.cycle_time_change == -0.25
    finally:
        engine.close()


def test_a_long_window_gets_coarser_buckets_and_bad_input_is_refused() -> None:
    engine = TestEngine(start=T0)
    try:
        engine.deploy(TWO_TASKS)
        long = process_report(engine, "p", since=T0 - timedelta(days=400), until=T0)
        assert len(long.throughput) <= MAX_BUCKETS and long.bucket == timedelta(hours=12)
        with pytest.raises(NotFoundError):
            process_report(engine, "nope")
        with pytest.raises(NotFoundError, match="version 3"):
            process_report(engine, "p", versions=[3])
        with pytest.raises(InvalidCommandError, match="whole number of hours"):
            process_report(engine, "p", bucket=timedelta(minutes=5))
        with pytest.raises(InvalidCommandError, match="after since"):
            process_report(engine, "p", since=T0, until=T0)
    finally:
        engine.close()
