"""The element counters on PostgreSQL with two engine nodes committing at once: their
additions spread over counter rows and sum to what ran."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from bpmn_helpers import chain, process, service
from legato import Engine

pytestmark = pytest.mark.postgres

ONE_TASK = process(
    '<bpmn:startEvent id="s"/>' + service("work", "work") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "work", "e")
)


def test_two_nodes_counting_at_once_lose_nothing(fresh_postgres_url: str) -> None:
    nodes = [Engine(fresh_postgres_url, batch_size=5) for _ in range(2)]
    try:
        nodes[0].deploy(ONE_TASK)
        for node in nodes:
            node.register("work", lambda job: {"seen": True})
        for node in nodes:
            node.start_many("p", [{"n": n} for n in range(40)])
        threads = [threading.Thread(target=node.run_until_idle) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        counts = {
            s.element_id: (s.active, s.completed, s.incidents)
            for s in nodes[1].element_statistics("p")
        }
        assert counts == {"s": (0, 80, 0), "work": (0, 80, 0), "e": (0, 80, 0)}
        engine = nodes[0].store.engine  # type: ignore[attr-defined]
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM element_counts")).scalar()
        assert rows is not None and rows >= 3
    finally:
        for node in nodes:
            node.close()
