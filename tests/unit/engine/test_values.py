"""Variable values keep their exact type through the database."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import Engine, InvalidCommandError
from legato.engine import values
from legato.testing import TestEngine

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
    engine = TestEngine()
    engine.deploy(process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e")))
    with pytest.raises(InvalidCommandError):
        engine.start("p", {"x": {1, 2}})


# -- what can be stored, at every entry ---------------------------------------------------------

WAITS = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
    + service("job", "work")
    + '<bpmn:userTask id="u"/>'
    '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/>'
    "</bpmn:intermediateCatchEvent>"
    '<bpmn:intermediateCatchEvent id="stop"><bpmn:signalEventDefinition signalRef="sig"/>'
    "</bpmn:intermediateCatchEvent>"
    '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>'
    '<bpmn:endEvent id="e4"/>'
    + chain("s", "fork")
    + chain("fork", "job", "e1", prefix="a")
    + chain("fork", "u", "e2", prefix="b")
    + chain("fork", "paid", "e3", prefix="c")
    + chain("fork", "stop", "e4", prefix="d"),
    extra='<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
    '<bpmn:signal id="sig" name="stop"/>',
)


def _waiting() -> tuple[TestEngine, int]:
    engine = TestEngine()
    engine.deploy(WAITS)
    return engine, engine.start("p", {"orderId": "A"}).key


def _entries(engine: TestEngine, key: int) -> dict[str, Callable[[dict[str, Any]], object]]:
    """Every way variables enter an instance from outside."""
    [job] = engine.jobs(instance_key=key)
    # A worker reports results only for a job it holds.
    engine.lock_job(job.job_key, worker="w", timeout=dt.timedelta(days=1))
    [task] = engine.user_tasks(instance_key=key)
    return {
        "start": lambda v: engine.start("p", {"orderId": "B", **v}),
        "start_many": lambda v: engine.start_many("p", [{"orderId": "C"}, v]),
        "set_variables": lambda v: engine.set_variables(key, v),
        "complete_job": lambda v: engine.complete_job(job.job_key, v),
        "throw_error": lambda v: engine.throw_error(job.job_key, "E", "", v),
        "complete_user_task": lambda v: engine.complete_user_task(task.user_task_key, v),
        "publish_message": lambda v: engine.publish_message("paid", "A", v),
        "publish_messages": lambda v: engine.publish_messages([("paid", "A", v)]),
        "buffered message": lambda v: engine.publish_message(
            "paid", "nobody", v, time_to_live=dt.timedelta(hours=1)
        ),
        "broadcast_signal": lambda v: engine.broadcast_signal("stop", v),
        "evaluate_start_conditions": lambda v: engine.evaluate_start_conditions(v),
    }


def test_a_number_out_of_range_is_refused_at_every_entry_naming_the_variable() -> None:
    engine, key = _waiting()
    before = engine.instance(key)
    history = len(engine.history(key))
    for entry, call in _entries(engine, key).items():
        with pytest.raises(InvalidCommandError) as refused:
            call({"ok": 1, "d": Decimal("1e5000")})
            pytest.fail(f"{entry} took the value")
        assert "variable 'd'" in str(refused.value), entry
        assert "1E+5000" in str(refused.value) and "out of range" in str(refused.value), entry
    # Nothing moved: the instance waits where it waited, with what it had.
    assert engine.instance(key) == before
    assert len(engine.history(key)) == history
    assert [i.key for i in engine.instances()] == [key]


def test_a_huge_exponent_is_refused_without_writing_the_number_out() -> None:
    # 1e99999999 as an integer has a hundred million digits: converting it (to print it, to
    # compare it with an int) took minutes. It is refused from its exponent alone.
    engine, _ = _waiting()
    for value in (Decimal("1e99999999"), Decimal("-1e99999999"), Decimal("1e-99999999")):
        with pytest.raises(InvalidCommandError, match="variable 'd': cannot store the number"):
            engine.start("p", {"d": value})
    with pytest.raises(InvalidCommandError, match="variable 'n': cannot store an integer"):
        engine.start("p", {"n": 10**5000})


REFUSED: dict[str, tuple[object, str]] = {
    "inf": (float("inf"), "not finite"),
    "nan": (float("nan"), "not finite"),
    "decimal infinity": (Decimal("-Infinity"), "not finite"),
    "decimal nan": (Decimal("NaN"), "not finite"),
    "just above the float range": (Decimal("1.7976931348623159e308"), "out of range"),
    "int above the float range": (10**309, "out of range"),
    "below the smallest float": (Decimal("2e-324"), "out of range"),
    "a number deep inside": ({"items": [1, {"price": Decimal("1e400")}]}, "at items[1].price"),
    "too deep": (functools.reduce(lambda inner, _: [inner], range(values.MAX_DEPTH), []), "deeper"),
    "a key that is not a string": ({"a": {1: "one"}}, "keys must be strings"),
    "a set": ({1, 2}, "a value of type set"),
    "bytes": (b"raw", "a value of type bytes"),
    "a lone surrogate": ("\ud800", "not valid Unicode"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_values_the_store_json_or_feel_cannot_hold_are_refused(case: str) -> None:
    value, reason = REFUSED[case]
    engine, _ = _waiting()
    with pytest.raises(InvalidCommandError, match="variable 'v'") as refused:
        engine.start("p", {"orderId": "B", "v": value})
    assert reason in str(refused.value)
    with pytest.raises(InvalidCommandError, match="variables must be a mapping with string keys"):
        engine.start("p", {7: "seven"})  # type: ignore[dict-item]


def _deep(levels: int, leaf: object) -> object:
    """``levels`` containers nested, alternating mappings with a ``$`` key and lists."""
    value = leaf
    for level in range(levels):
        value = {"$k": value} if level % 2 else [value]
    return value


EDGES: dict[str, object] = {
    "largest float": sys.float_info.max,
    "smallest float": 5e-324,
    "largest decimal": Decimal("1.7976931348623157e308"),
    "most negative decimal": Decimal("-1.7976931348623157e308"),
    "smallest decimal": Decimal("5e-324"),
    "zero with a large exponent": Decimal("0E+5000"),
    "many digits": Decimal("3." + "14159265358979323846" * 10),
    "beyond 64 bits": 2**64 + 1,
    "a 308-digit integer": -(10**308),
    "nested as deep as allowed": _deep(values.MAX_DEPTH, "leaf"),
    "text with a NUL and beyond the BMP": "a\x00b \U0001f3b5",
    "a $ key": {"$decimal": "not a decimal"},
    "a long duration": dt.timedelta(days=999_999_998),
    "the longest duration": dt.timedelta.max,  # its seconds round up beyond it: read as max
    "the shortest duration": dt.timedelta.min,
}


def test_values_at_the_edges_round_trip_through_the_store_and_history() -> None:
    engine, _ = _waiting()
    instance = engine.start("p", {"orderId": "B", **{name: v for name, v in EDGES.items()}})
    stored = engine.instance(instance.key).variables
    replayed = engine.replay(instance.key).variables[instance.key]
    for name, value in EDGES.items():
        expected = Decimal(repr(value)) if isinstance(value, float) else value
        assert stored[name] == expected, name
        assert replayed[name] == expected, name
    assert type(stored["beyond 64 bits"]) is Decimal  # exact, as a decimal
    assert type(stored["largest float"]) is Decimal  # floats are kept as exact decimals


def test_feel_reads_the_edge_numbers() -> None:
    from legato import feel

    for name in ("largest decimal", "smallest decimal", "a 308-digit integer"):
        number = values.normalize(EDGES[name])
        assert feel.compile("x = y").evaluate({"x": number, "y": number}) is True, name


def test_a_correlation_key_out_of_range_is_an_incident() -> None:
    # Written out, 10 ** 5000 has more digits than Python converts to text: the start failed.
    engine = TestEngine()
    engine.deploy(
        process(
            '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="paid">'
            '<bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>'
            '<bpmn:endEvent id="e"/>' + chain("s", "paid", "e"),
            extra='<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
            '<zeebe:subscription correlationKey="=10 ** 5000"/></bpmn:extensionElements>'
            "</bpmn:message>",
        )
    )
    instance = engine.start("p")
    engine.assert_that(instance).is_active().has_incident("paid")
