"""The saga example: a declined charge undoes the bookings, latest first."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from legato.testing import TestEngine

HERE = Path(__file__).parent


@pytest.fixture
def engine() -> TestEngine:
    spec = importlib.util.spec_from_file_location("saga_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    engine = TestEngine()
    engine.deploy(HERE / "saga.bpmn")
    engine.register_module(handlers)
    return engine


def test_a_paid_trip_is_booked_and_nothing_is_undone(engine: TestEngine) -> None:
    instance = engine.start("trip", {"card": "valid"})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("trip_booked").has_not_passed(
        "cancel_flight", "cancel_hotel"
    )


def test_a_declined_card_undoes_the_bookings_in_reverse_order(engine: TestEngine) -> None:
    instance = engine.start("trip", {"card": "declined"})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed_in_order(
        "book_hotel",
        "book_flight",
        "cancel_flight",
        "cancel_hotel",
        "undo_bookings",
        "trip_cancelled",
    ).has_not_passed("trip_booked")
    info = engine.instance(instance.key)
    assert info.variables["flightCancelled"] == info.variables["flightBooking"]
    assert info.variables["hotelCancelled"] == info.variables["hotelBooking"]
    assert engine.replay(instance.key).to_json() == engine.state(instance.key).to_json()
