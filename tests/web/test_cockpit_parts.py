"""The parts of the cockpit's list pages that need no browser: reading the filters, the
outcome of a bulk operation, a decision table's rule rows and an evaluation's output."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit_seed import DISCOUNT_DMN

from legato.runtime.types import BatchResult
from legato.web.decisions import output_items, rule_rows
from legato.web.instances import outcome_text, parse_filters, variable_value


def test_filters_become_the_engine_arguments() -> None:
    found = parse_filters(
        {
            "process": " order ",
            "version": "2",
            "state": "incident",
            "business_key": "B-1",
            "variable": "tier",
            "value": "gold",
            "started_from": "2026-12-01T10:30",
            "ended_before": "2026-12-02T00:00+01:00",
            "size": "20",
        }
    )
    assert found.errors == {}
    assert found.arguments == {
        "process_id": "order",
        "version": 2,
        "status": "incident",
        "business_key": "B-1",
        "variable": ("tier", "gold"),
        "started_from": datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
        "ended_before": datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    }
    assert found.page_size == 20
    assert parse_filters({}).arguments == {} and parse_filters({}).page_size == 50


def test_bad_filters_are_named() -> None:
    found = parse_filters(
        {"version": "x", "state": "lost", "value": "1", "ended_from": "soon", "size": "0"}
    )
    assert set(found.errors) == {"version", "state", "variable", "ended_from", "size"}
    assert "'soon' is not a date and time" in found.errors["ended_from"]
    assert "one of active, completed, terminated, suspended, incident" in found.errors["state"]


def test_a_variable_value_is_read_as_json_or_else_text() -> None:
    assert variable_value("42") == 42
    assert variable_value("2.5") == 2.5
    assert variable_value("true") is True
    assert variable_value('"42"') == "42"
    assert variable_value("gold") == "gold"
    assert variable_value('{"a": 1}') == '{"a": 1}'


def test_the_outcome_names_what_was_skipped_and_counts_the_rest() -> None:
    result = BatchResult(kind="cancel", dry_run=False, done=[1])
    assert outcome_text(result) == "Cancelled 1 instance."
    result.skipped = {k: f"instance {k} is completed" for k in range(2, 10)}
    text = outcome_text(result)
    assert text.startswith("Cancelled 1 instance. Skipped 8 instances: instance 2 is completed;")
    assert text.endswith("instance 6 is completed; and 3 more.")


def test_rules_are_numbered_as_the_table_shows_them() -> None:
    source = DISCOUNT_DMN.format(did="d")
    assert rule_rows(source, "d") == {"d-gold": 1, "d-silver": 2, "d-other": 3}
    assert rule_rows(source, "other") == {}
    assert rule_rows("<not xml", "d") == {}


def test_an_output_is_shown_by_name() -> None:
    assert output_items(5) == [("result", "5")]
    assert output_items({"discount": 5, "note": "<b>"}) == [
        ("discount", "5"),
        ("note", '"<b>"'),
    ]
    assert output_items([{"a": 1}, 2]) == [("1. a", "1"), ("2.", "2")]
