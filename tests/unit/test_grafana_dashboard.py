"""The Grafana dashboard shipped in ``docs/grafana``: valid JSON whose every query names
metrics that the engine exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics_core import Metric

from legato import Engine
from legato.store.memory import MemoryStore

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "legato.json"

SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def exported_names() -> set[str]:
    """Every sample name the engine's registry can write (a family with no samples yet
    included)."""
    with Engine(store=MemoryStore()) as engine:
        assert engine.metrics is not None
        engine.metrics_text()  # takes the database-wide gauges' first reading
        families: list[Metric] = list(engine.metrics.registry.collect())
    return {f.name + suffix for f in families for suffix in SAMPLE_SUFFIXES[f.type]}


def queries(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [q for value in node.values() for q in queries(value)]
    if isinstance(node, list):
        return [q for value in node for q in queries(value)]
    return []


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = queries(dashboard["panels"])
    assert len(expressions) >= len(dashboard["panels"])
    named = {name for e in expressions for name in re.findall(r"\blegato_[a-z_]+\b", e)}

    assert named - exported_names() == set()
    # and it shows the metrics users come for
    assert {
        "legato_instances_started_total",
        "legato_instances_completed_total",
        "legato_instances_active",
        "legato_incidents_open",
        "legato_element_duration_seconds_bucket",
        "legato_job_queue_depth",
        "legato_commit_duration_seconds_bucket",
        "legato_nodes_alive",
    } <= named


def test_the_process_variable_lists_processes_from_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    query = variables["process"]["query"]["query"]
    assert set(re.findall(r"\blegato_[a-z_]+\b", query)) <= exported_names()
    assert all("$process" in e for e in queries(dashboard["panels"]) if "process" in e)
