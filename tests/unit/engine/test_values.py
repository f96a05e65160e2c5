"""Variable values keep their exact type through the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import Engine, InvalidCommandError
from legato.engine import values

EXACT = {
    "price": Decimal("0.1"),
    "total": Decimal("12345678901234567890.123456789"),
    "count": 3,
    "huge": 2**80,
    "ratio": 0.25,
    "birthday": dt.date(1815, 12, 10),
    "deadline": dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "opens": dt.time(8, 15),
    "grace": dt.timedelta(days=2, hours=3),
    "tags": ["a", None, True],
    "nested": {"$weird": 1},
}


def test_values_round_trip_exactly() -> None:
    decoded = values.decode(values.encode(EXACT))
    assert decoded["ratio"] == Decimal("0.25")
    assert decoded["huge"] == 2**80
    for name in (
        "price",
        "total",
        "count",
        "birthday",
        "deadline",
        "opens",
        "grace",
        "tags",
        "nested",
    ):
        assert decoded[name] == EXACT[name], name
        assert type(decoded[name]) is type(EXACT[name]), name


def test_values_survive_sqlite_and_feel_sees_them_exactly(tmp_path: Path) -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" default="no"/>'
        + service("yes_task", "noop")
        + service("no_task", "noop")
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "gw")
        + flow(
            "yes",
            "gw",
            "yes_task",
            'price + 0.2 = 0.3 and deadline > date and time("2026-01-01T00:00:00Z")',
        )
        + flow("no", "gw", "no_task")
        + chain("yes_task", "e", prefix="y")
        + chain("no_task", "e", prefix="n")
    )
    engine = Engine(f"sqlite:///{tmp_path / 'v.db'}")
    engine.deploy(xml)
    instance = engine.start("p", EXACT)
    engine.close()
    reopened = Engine(f"sqlite:///{tmp_path / 'v.db'}")
    info = reopened.instance(instance.key)
    assert info.active_elements == ("yes_task",)
    for name in ("price", "total", "birthday", "deadline", "opens", "grace", "nested"):
        assert info.variables[name] == EXACT[name]
        assert type(info.variables[name]) is type(EXACT[name])
    reopened.close()


def test_values_that_cannot_be_stored_are_refused() -> None:
    with pytest.raises(TypeError):
        values.encode({"x": object()})
    with pytest.raises(TypeError):
        values.encode(float("nan"))
    from legato.testing import TestEngine

    engine = TestEngine()
    engine.deploy(process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e")))
    with pytest.raises(InvalidCommandError):
        engine.start("p", {"x": {1, 2}})
