"""FEEL errors that yield null (``null + 1``) are decision errors."""

from __future__ import annotations

from legato import dmn
from unit.dmn.dmn_helpers import literal, model


def test_a_null_operand_is_a_decision_error() -> None:
    decisions = literal("Sum", "null + 1") + literal("Dev", "stddev([1])")
    loaded = dmn.load(model(decisions))

    for name in ("Sum", "Dev"):
        result = loaded.evaluate(name)
        assert result.value is None
        assert result.errors
        assert not result.ok


def test_null_equality_is_not_an_error() -> None:
    result = dmn.load(model(literal("Same", "null = null"))).evaluate("Same")

    assert result.value is True
    assert result.ok
