"""Correlating a message to receivers the caller picks (Camunda 7's correlation)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bpmn_helpers import chain, process
from legato.store.ports import Transaction
from legato.store.records import SubscriptionRecord
from legato.testing import TestEngine

MESSAGES = '<bpmn:message id="m_paid" name="paid"/><bpmn:message id="m_go" name="go"/>'


def _waiting() -> str:
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:intermediateCatchEvent id="paid">'
        '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>'
        '<bpmn:endEvent id="e"/>' + chain("s", "paid", "e"),
        extra=MESSAGES,
    )


def _started_by_message() -> str:
    return process(
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m_go"/>'
        '</bpmn:startEvent><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain("s", "t", "e"),
        extra=MESSAGES,
        process_id="q",
    )


def test_only_the_chosen_instance_receives_the_message() -> None:
    engine = TestEngine()
    engine.deploy(_waiting())
    a = engine.start("p")
    b = engine.start("p")
    seen: list[list[int | None]] = []

    def choose(tx: Transaction, found: list[SubscriptionRecord]) -> Sequence[SubscriptionRecord]:
        seen.append([s.instance_key for s in found])
        return [s for s in found if s.instance_key == b.key]

    result = engine.correlate_message("paid", {"paid": True}, choose=choose)
    assert result.correlated == [b.key]
    assert sorted(k for k in seen[-1] if k is not None) == sorted([a.key, b.key])
    engine.assert_that(b).is_completed().has_variables(paid=True)
    engine.assert_that(a).is_waiting_at("paid")


def test_a_start_event_receiver_starts_an_instance_with_the_business_key() -> None:
    engine = TestEngine()
    engine.deploy(_started_by_message())
    result = engine.correlate_message(
        "go", {"n": 1}, choose=lambda tx, found: found, business_key="bk-9"
    )
    [key] = result.started_keys
    info = engine.instance(key)
    assert (info.process_id, info.business_key, info.variables) == ("q", "bk-9", {"n": 1})


def test_a_choice_that_raises_delivers_nothing() -> None:
    engine = TestEngine()
    engine.deploy(_waiting())
    a = engine.start("p")

    def refuse(tx: Transaction, found: list[SubscriptionRecord]) -> Sequence[SubscriptionRecord]:
        raise LookupError("no single receiver")

    with pytest.raises(LookupError):
        engine.correlate_message("paid", None, choose=refuse)
    engine.assert_that(a).is_waiting_at("paid")
