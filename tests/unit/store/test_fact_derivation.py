"""The derivation of the analytics facts from history events, alone: rows of what runs,
ends settled from stored starts across batches, instant elements in the rollups only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from legato.store.facts import (
    COMPLETED,
    DURATION,
    FAILED,
    INCIDENTS,
    INSTANCE,
    STARTED,
    DerivedFacts,
    FactInstance,
    KnownStarts,
)
from legato.store.histogram import bucket_of
from legato.store.records import HistoryRecord

T0 = datetime(2026, 2, 1, 10, 15, tzinfo=UTC)
KNOWN = {1: FactInstance(100, T0, "p", 3)}


def _event(event_type: str, at: datetime, **payload: Any) -> HistoryRecord:
    return HistoryRecord(1, 0, event_type, at, payload)


def _no_element(kind: str, key: int) -> int | None:
    return None


def test_one_batch_gives_whole_rows_and_counts_instant_elements_in_the_rollups() -> None:
    later = T0 + timedelta(minutes=3)
    facts = DerivedFacts()
    facts.add(
        [
            _event("InstanceCreated", T0),
            _event("ElementActivated", T0, key=2, element_id="s", element_kind="startEvent"),
            _event("ElementCompleted", T0, key=2, element_id="s"),
            _event("ElementActivated", T0, key=3, element_id="t", element_kind="serviceTask"),
            _event("JobCreated", T0, job_key=9, element_instance_key=3),
            _event("JobFailed", T0, job_key=9),
            _event("ElementCompleted", later, key=3, element_id="t"),
            _event("InstanceCompleted", later),
        ],
        KNOWN.get,
        _no_element,
    )
    facts.settle()
    assert list(facts.elements) == [3]  # the start event has no row
    task = facts.elements[3]
    assert (task["duration_us"], task["retries"], task["outcome"]) == (180_000_000, 1, "completed")
    assert facts.instances[1]["outcome"] == "completed"
    hour = T0.replace(minute=0)
    assert facts.hours[(100, "s", hour)][COMPLETED] == 1
    assert facts.hours[(100, INSTANCE, hour)][STARTED] == 1
    assert facts.hours[(100, INSTANCE, hour)][DURATION] == 180_000_000
    day = hour.replace(hour=0)
    assert facts.durations[(100, "t", day, bucket_of(180_000_000))] == 1


def test_an_end_in_a_later_batch_is_settled_from_the_stored_start() -> None:
    first = DerivedFacts()
    first.add(
        [
            _event("InstanceCreated", T0),
            _event("ElementActivated", T0, key=3, element_id="t", element_kind="userTask"),
            _event("UserTaskCreated", T0, user_task_key=8, element_instance_key=3),
        ],
        KNOWN.get,
        _no_element,
    )
    first.settle()
    starts = KnownStarts()
    starts.apply(KnownStarts.changes(first))

    later = T0 + timedelta(hours=2)
    second = DerivedFacts()
    second.add(
        [
            _event(
                "IncidentRaised", later, incident_key=5, element_id="t", error_type="x", message="m"
            ),
            _event("UserTaskCompleted", later, user_task_key=8, completed_by="ann"),
            _event("ElementCompleted", later, key=3, element_id="t"),
            _event("InstanceCompleted", later),
        ],
        KNOWN.get,
        lambda kind, key: 3 if (kind, key) == ("task", 8) else None,
    )
    assert second.unknown() == ([1], [3])
    known = dict(starts.known)
    assert known == {3: T0}
    second.settle({1: 0}, known)
    assert second.element_changes[3] == {
        "completed_by": "ann",
        "ended_at": later,
        "duration_us": 7_200_000_000,
        "outcome": "completed",
    }
    assert second.instance_changes[1]["incidents"] == 1
    hour = later.replace(minute=0)
    assert second.hours[(100, INSTANCE, hour)][FAILED] == 1
    assert second.hours[(100, "t", hour)][INCIDENTS] == 1
    starts.apply(KnownStarts.changes(second))
    assert 3 not in starts.known


def test_an_end_without_a_stored_fact_is_left_out() -> None:
    facts = DerivedFacts()
    facts.add([_event("ElementCompleted", T0, key=3, element_id="t")], KNOWN.get, _no_element)
    facts.settle({}, {})
    assert not facts
