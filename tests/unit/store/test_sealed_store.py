"""The sealed store over the in-memory store: what reaches the inner store is sealed, what
comes back is plaintext, and a detector finds sensitive texts anywhere."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from bpmn_helpers import CREDIT_DMN, chain, process, services_in_sequence
from legato import Engine
from legato.model.sensitive import SensitivePath
from legato.runtime.encryption import DeclaredSensitivity, selector_of
from legato.security.keyring import KeyRing, new_key
from legato.store.memory import MemoryStore
from legato.store.sealed import SealedStore
from legato.store.sealing import SEALED

RING = KeyRing.of({"k1": new_key()})
IBAN = "DE89370400440532013000"


class IbanDetector:
    """``secret`` is declared; any text that looks like a German IBAN is detected."""

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        return {("secret",)}

    def detect(self, text: str) -> bool:
        return text.startswith("DE") and len(text) == 22 and text[2:].isdigit()


def raw_history(engine: Engine, instance_key: int) -> str:
    store = engine.store
    assert isinstance(store, SealedStore)
    with store.inner.transaction() as tx:
        return json.dumps([[r.event_type, r.payload] for r in tx.history(instance_key)])


def raw_state(engine: Engine, instance_key: int) -> dict[str, Any]:
    store = engine.store
    assert isinstance(store, SealedStore)
    with store.inner.transaction() as tx:
        record = tx.get_instance(instance_key)
    assert record is not None
    return record.state


def test_declared_and_detected_values_are_sealed_and_read_back() -> None:
    with Engine(store=MemoryStore(), keyring=RING, sensitive=IbanDetector()) as engine:
        engine.deploy(services_in_sequence(("a", "work")))
        engine.register("work", lambda job: {"payout": {"iban": IBAN, "amount": 5}})
        key = engine.start("p", variables={"secret": "s3cr3t", "plain": "visible"}).key
        engine.run_until_idle()
        variables = raw_state(engine, key)["variables"][str(key)]
        assert set(variables["secret"]) == {SEALED}
        assert set(variables["payout"]["iban"]) == {SEALED}
        assert variables["payout"]["amount"] == 5 and variables["plain"] == "visible"
        history = raw_history(engine, key)
        assert "s3cr3t" not in history and IBAN not in history and "visible" in history
        assert engine.instance(key).variables == {
            "secret": "s3cr3t",
            "plain": "visible",
            "payout": {"iban": IBAN, "amount": 5},
        }


def test_an_operators_edit_of_a_sensitive_variable_is_sealed_both_sides() -> None:
    with Engine(store=MemoryStore(), keyring=RING, sensitive=IbanDetector()) as engine:
        engine.deploy(services_in_sequence(("a", "work")))
        key = engine.start("p", variables={"secret": "old-value"}).key
        engine.set_variables(key, {"secret": "new-value", "note": "fine"}, by="olga")
        history = raw_history(engine, key)
        assert "old-value" not in history and "new-value" not in history
        assert '"fine"' in history
        edits = [e for e in engine.history(key) if e.event_type == "VariablesEdited"]
        assert edits[0].details["changes"]["secret"] == {"old": "old-value", "new": "new-value"}


def test_everything_seals_message_and_variable_values_alike() -> None:
    with Engine(store=MemoryStore(), keyring=RING, encryption="everything") as engine:
        engine.deploy(services_in_sequence(("a", "work")))
        key = engine.start("p", variables={"plain": "visible"}).key
        assert "visible" not in json.dumps(raw_state(engine, key))
        assert "visible" not in raw_history(engine, key)
        engine.publish_message("m", "c", {"x": "in-a-message"}, time_to_live=timedelta(hours=1))
        store = engine.store
        assert isinstance(store, SealedStore)
        with store.inner.transaction() as tx:
            (message,) = tx.find_messages("m", "c", engine.clock.now())
        assert "in-a-message" not in json.dumps(message.variables)
        with engine.store.transaction() as tx:
            (opened,) = tx.find_messages("m", "c", engine.clock.now())
        assert opened.variables == {"x": "in-a-message"}


class Declared:
    """A definition registry whose models declare ``ssn``."""

    def known_sensitive_paths(self, process_id: str) -> frozenset[SensitivePath]:
        return frozenset({("ssn",)}) if process_id == "p" else frozenset()


def test_the_models_declarations_and_another_selector_combine() -> None:
    declared = DeclaredSensitivity(Declared())  # type: ignore[arg-type]
    assert selector_of(declared, None) is declared
    combined = selector_of(declared, IbanDetector())
    assert set(combined.paths("p")) == {("ssn",), ("secret",)}
    assert set(combined.paths("other")) == {("secret",)}
    assert combined.detect(IBAN) and not combined.detect("DE12")
    assert not declared.detect(IBAN)


class RouteSensitive:
    detects = False

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        return {("route",)}

    def detect(self, text: str) -> bool:
        return False


def test_a_decision_result_that_holds_a_sensitive_value_is_sealed_in_the_cockpit_copy() -> None:
    with Engine(store=MemoryStore(), keyring=RING, sensitive=RouteSensitive()) as engine:
        engine.deploy(CREDIT_DMN)
        engine.deploy(DECIDE)
        key = engine.start("decider", variables={"score": 800}).key
        assert engine.instance(key).variables["route"] == "approve"
        assert "approve" not in raw_history(engine, key)
        store = engine.store
        assert isinstance(store, SealedStore)
        with store.inner.transaction() as tx:
            (raw,) = tx.list_decision_evaluations("approval", after=None, limit=10)
        assert "approve" not in json.dumps(raw.result)
        (shown,) = engine.decision_evaluations("approval").evaluations
        assert "approve" in json.dumps(shown.result)


DECIDE = process(
    '<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="decide"><bpmn:extensionElements>'
    '<zeebe:calledDecision decisionId="approval" resultVariable="route"/>'
    '</bpmn:extensionElements></bpmn:businessRuleTask><bpmn:endEvent id="e"/>'
    + chain("s", "decide", "e"),
    process_id="decider",
)


class TwoFlags:
    detects = False

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        return {("a",), ("b",)}

    def detect(self, text: str) -> bool:
        return False


def test_equal_values_get_their_own_ciphertexts_and_an_unchanged_one_keeps_its_own() -> None:
    with Engine(store=MemoryStore(), keyring=RING, sensitive=TwoFlags()) as engine:
        engine.deploy(services_in_sequence(("t", "work")))
        key = engine.start("p", variables={"a": True, "b": True}).key
        before = raw_state(engine, key)["variables"][str(key)]
        assert before["a"] != before["b"]
        engine.set_variables(key, {"other": 1})
        after = raw_state(engine, key)["variables"][str(key)]
        assert (after["a"], after["b"]) == (before["a"], before["b"])
        engine.set_variables(key, {"a": False})
        assert raw_state(engine, key)["variables"][str(key)]["a"] != before["a"]
        assert engine.instance(key).variables == {"a": False, "b": True, "other": 1}
