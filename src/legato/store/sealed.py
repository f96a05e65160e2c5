"""A store that keeps sensitive values encrypted: :class:`SealedStore` wraps any store.

Every write that can carry a variable value goes through :class:`~legato.store.sealing.Sealing`
on its way in (instance states, history events, the cockpit's derived rows and the analytics
facts, buffered messages, incidents, job errors) and every read that returns one is opened
on its way out, so everything above the store (the runtime, the engine, the API) sees
plaintext and the database sees ciphertext. Any other part of a transaction passes through
unchanged.

Associated data: ``state/<instance>``, ``history/<instance>``, ``incident/<instance>``,
``job/<instance>``, ``message/<message key>``. The cockpit's decision results and the
analytics facts are copies of history events (a rebuild copies them from the history as
stored), so their sealed parts are sealed as history: ``history/<instance>``.

A variable filter of the instance lists cannot match a sealed variable: its indexed copy
(``instance_variables``) is not written, so the filter finds no instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from legato.engine.event_base import event_type, payload_fields
from legato.store.derived import DerivedRows
from legato.store.facts import DerivedFacts
from legato.store.ports import Listener, Store, Transaction
from legato.store.records import (
    DecisionEvaluationRecord,
    HistoryChunk,
    HistoryRecord,
    InstanceRecord,
)
from legato.store.sealed_work import SealedWork, context_of, is_sealed_text, text_of
from legato.store.sealing import Sealing

__all__ = ["SealedStore", "SealedTransaction"]

_VALUE_FIELDS = ("items", "result")
"""Event payload fields that hold values other than variables."""
_TEXT_FIELDS = ("message", "error_message", "details", "error_details")
"""Event payload fields that hold free texts."""
_VALUE_KEYS = frozenset({"value", "variables", "changes", *_VALUE_FIELDS, *_TEXT_FIELDS})
_CARRIES: dict[str, bool] = {}


def _carries_values(name: str) -> bool:
    """Whether events of this type have a field that may hold a value or a free text (most
    do not: they are passed by without a look). An unknown type is looked at."""
    found = _CARRIES.get(name)
    if found is None:
        try:
            found = bool(_VALUE_KEYS.intersection(payload_fields(event_type(name))))
        except KeyError:
            found = True
        _CARRIES[name] = found
    return found


class SealedStore:
    """``store`` with values sealed by ``sealing`` (see the module's text)."""

    def __init__(self, store: Store, sealing: Sealing) -> None:
        self.inner = store
        self.sealing = sealing
        self._process_of: dict[int, str] = {}
        self.quotes: dict[int, frozenset[str]] = {}
        """The texts of each instance's sensitive values, as last written or read: a free
        text (an error, an incident) that holds one of them is sealed."""

    def listen(self, wake: Callable[[], None]) -> Listener | None:
        return self.inner.listen(wake)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.inner.transaction() as tx:
            yield cast(Transaction, SealedTransaction(tx, self))

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # What a particular store offers beyond the port (the SQL store's URL, ...).
        return getattr(self.inner, name)

    def remember_quotes(self, instance_key: int, quotes: frozenset[str]) -> None:
        if len(self.quotes) > 200_000:
            self.quotes.clear()
        self.quotes[instance_key] = quotes

    def remember(self, instance_key: int, process_id: str) -> None:
        if len(self._process_of) > 200_000:
            self._process_of.clear()
        self._process_of[instance_key] = process_id


class SealedTransaction(SealedWork):
    """One transaction of a :class:`SealedStore`: the sealing parts of the port, and the
    inner transaction's own methods for the rest."""

    def __init__(self, inner: Transaction, store: SealedStore) -> None:
        self._inner = inner
        self._store = store
        self._sealing = store.sealing

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        setattr(self, name, found)
        return found

    # -- instances ------------------------------------------------------------------------

    def insert_instance(self, record: InstanceRecord) -> None:
        self._inner.insert_instance(self._seal_instance(record))

    def update_instance(self, record: InstanceRecord) -> None:
        self._inner.update_instance(self._seal_instance(record))

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        self._inner.insert_instances([self._seal_instance(r) for r in records])

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        self._inner.update_instances([self._seal_instance(r) for r in records])

    def update_instance_states(self, records: Sequence[InstanceRecord]) -> None:
        self._inner.update_instance_states([self._seal_instance(r) for r in records])

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        found = self._inner.get_instance(instance_key)
        return None if found is None else self._open_instance(found)

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        return [self._open_instance(r) for r in self._inner.get_instances(instance_keys)]

    def _seal_instance(self, record: InstanceRecord) -> InstanceRecord:
        key, sealing, store = record.instance_key, self._sealing, self._store
        store.remember(key, record.process_id)
        state = record.state
        context = context_of(b"state/", key)
        quotes: set[str] = set()
        variables = state.get("variables")
        sealed_variables: dict[str, Any] | None = None
        for scope, values in (variables or {}).items():
            sealed = sealing.seal_variables(values, record.process_id, context, quotes, scope)
            if sealed is not None:
                if sealed_variables is None:
                    sealed_variables = dict(variables or {})
                sealed_variables[scope] = sealed
        changed: dict[str, Any] = {}
        if sealed_variables is not None:
            changed["variables"] = sealed_variables
        if sealing.may_quote(quotes):
            incidents = self._seal_state_incidents(state.get("incidents"), context, quotes)
            if incidents is not None:
                changed["incidents"] = incidents
            elements = self._seal_items(state.get("elements"), context, quotes)
            if elements is not None:
                changed["elements"] = elements
        store.remember_quotes(key, frozenset(quotes))
        if not changed:
            return record
        return dataclasses.replace(record, state={**state, **changed})

    def _seal_state_incidents(
        self, incidents: list[list[Any]] | None, context: bytes, quotes: set[str]
    ) -> list[list[Any]] | None:
        if not incidents:
            return None
        sealing, result = self._sealing, None
        for index, incident in enumerate(incidents):
            message = incident[4]
            if isinstance(message, str) and sealing.quotes(message, quotes):
                if result is None:
                    result = list(incidents)
                result[index] = [*incident[:4], sealing.seal_text(message, context), *incident[5:]]
        return result

    def _seal_items(
        self, elements: list[dict[str, Any]] | None, context: bytes, quotes: set[str]
    ) -> list[dict[str, Any]] | None:
        """Elements with their multi-instance collections sealed where they quote a
        sensitive value."""
        if not elements:
            return None
        sealing, result = self._sealing, None
        for index, element in enumerate(elements):
            items = element.get("mi_items")
            if items and sealing.quotes(text_of(items), quotes):
                if result is None:
                    result = list(elements)
                result[index] = {**element, "mi_items": sealing.seal(items, context)}
        return result

    def _open_instance(self, record: InstanceRecord) -> InstanceRecord:
        self._store.remember(record.instance_key, record.process_id)
        state = record.state
        if not state:
            return record
        quotes: set[str] = set()
        opened = self._sealing.open(state, context_of(b"state/", record.instance_key), quotes)
        self._store.remember_quotes(record.instance_key, frozenset(quotes))
        incidents = opened.get("incidents")
        if incidents and any(is_sealed_text(i[4]) for i in incidents):
            context = context_of(b"state/", record.instance_key)
            opened = {
                **opened,
                "incidents": [
                    [*i[:4], self._sealing.open_text(i[4], context), *i[5:]] for i in incidents
                ],
            }
        return record if opened is state else dataclasses.replace(record, state=opened)

    # -- history --------------------------------------------------------------------------

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        self._inner.append_history(
            [
                dataclasses.replace(r, payload=self._seal_event(r.instance_key, r))
                if _carries_values(r.event_type)
                else r
                for r in records
            ]
        )

    def append_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        self._inner.append_history_chunks([self._seal_chunk(chunk) for chunk in chunks])

    def history(self, instance_key: int) -> list[HistoryRecord]:
        context = context_of(b"history/", instance_key)
        return [
            dataclasses.replace(r, payload=self._open_payload(r.payload, context))
            if _carries_values(r.event_type)
            else r
            for r in self._inner.history(instance_key)
        ]

    def history_chunks(
        self, instance_keys: Sequence[int], *, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryChunk]:
        chunks = self._inner.history_chunks(instance_keys, after=after, limit=limit)
        return [self._open_chunk(chunk) for chunk in chunks]

    def _seal_chunk(self, chunk: HistoryChunk) -> HistoryChunk:
        if not any(_carries_values(event[0]) for event in chunk.events):
            return chunk
        process_id = self._process_id(chunk.instance_key)
        context = context_of(b"history/", chunk.instance_key)
        quotes = set(self._quotes(chunk.instance_key))
        events = []
        for event in chunk.events:
            kind = event[0]
            if _carries_values(kind):
                sealed = self._seal_payload(event[2], process_id, context, quotes)
                event = [kind, event[1], sealed]
            events.append(event)
        return chunk._replace(events=events)

    def _seal_event(self, instance_key: int, record: HistoryRecord) -> dict[str, Any]:
        return self._seal_payload(
            record.payload,
            self._process_id(instance_key),
            context_of(b"history/", instance_key),
            set(self._quotes(instance_key)),
        )

    def _seal_payload(
        self, payload: dict[str, Any], process_id: str, context: bytes, quotes: set[str]
    ) -> dict[str, Any]:
        sealing, changed = self._sealing, {}
        if "value" in payload and "name" in payload:
            sealed = sealing.seal_variables(
                {payload["name"]: payload["value"]}, process_id, context, quotes
            )
            if sealed is not None:
                changed["value"] = sealed[payload["name"]]
        variables = payload.get("variables")
        if isinstance(variables, dict) and variables:
            sealed = sealing.seal_variables(variables, process_id, context, quotes)
            if sealed is not None:
                changed["variables"] = sealed
        edits = payload.get("changes")
        if isinstance(edits, dict) and edits:
            changed["changes"] = {
                name: {
                    side: self._seal_one(name, value, process_id, context, quotes)
                    for side, value in edit.items()
                }
                for name, edit in edits.items()
            }
        for field in _VALUE_FIELDS:
            value = payload.get(field)
            if value is not None and sealing.quotes(text_of(value), quotes):
                changed[field] = sealing.seal(value, context)
        for field in _TEXT_FIELDS:
            text = payload.get(field)
            if isinstance(text, str) and text and sealing.quotes(text, quotes):
                changed[field] = sealing.seal_text(text, context)
        return {**payload, **changed} if changed else payload

    def _seal_one(
        self, name: str, value: Any, process_id: str, context: bytes, quotes: set[str]
    ) -> Any:
        sealed = self._sealing.seal_variables({name: value}, process_id, context, quotes)
        return value if sealed is None else sealed[name]

    def _open_chunk(self, chunk: HistoryChunk) -> HistoryChunk:
        context = context_of(b"history/", chunk.instance_key)
        return chunk._replace(
            events=[
                [kind, element_id, self._open_payload(payload, context)]
                if _carries_values(kind)
                else [kind, element_id, payload]
                for kind, element_id, payload in chunk.events
            ]
        )

    def _open_payload(self, payload: dict[str, Any], context: bytes) -> dict[str, Any]:
        opened: dict[str, Any] = self._sealing.open(payload, context)
        texts = {
            field: self._sealing.open_text(opened[field], context)
            for field in _TEXT_FIELDS
            if is_sealed_text(opened.get(field))
        }
        return {**opened, **texts} if texts else opened

    def _quotes(self, instance_key: int) -> frozenset[str]:
        """The texts of an instance's sensitive values (read from its state when this store
        has not seen it yet)."""
        found = self._store.quotes.get(instance_key)
        if found is None:
            self.get_instance(instance_key)
            found = self._store.quotes.get(instance_key, frozenset())
        return found

    def _process_id(self, instance_key: int) -> str:
        found = self._store._process_of.get(instance_key)
        if found is None:
            summaries = self._inner.instance_summaries([instance_key])
            found = summaries[0].process_id if summaries else ""
            self._store.remember(instance_key, found)
        return found

    # -- derived rows and facts -------------------------------------------------------------

    def write_derived(self, rows: DerivedRows, shard: int) -> None:
        sealing = self._sealing
        for key in list(rows.variables):
            instance_key, name = key
            indexed = rows.variables[key]
            if indexed is None:
                continue
            quotes = self._quotes(instance_key)
            if sealing.is_sensitive_name(self._process_id(instance_key), name) or (
                sealing.quotes(indexed.strip('"'), quotes)
            ):
                rows.variables[key] = None
        rows.evaluations = [self._seal_evaluation(e) for e in rows.evaluations]
        self._inner.write_derived(rows, shard)

    def _seal_evaluation(self, record: DecisionEvaluationRecord) -> DecisionEvaluationRecord:
        quotes = self._quotes(record.instance_key)
        if record.result is None or not self._sealing.quotes(text_of(record.result), quotes):
            return record
        context = context_of(b"history/", record.instance_key)
        return dataclasses.replace(record, result=self._sealing.seal(record.result, context))

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        found = self._inner.list_decision_evaluations(decision_id, after=after, limit=limit)
        return [
            dataclasses.replace(
                r, result=self._sealing.open(r.result, context_of(b"history/", r.instance_key))
            )
            for r in found
        ]

    def write_facts(self, facts: DerivedFacts, shard: int) -> None:
        sealing = self._sealing
        for row in facts.incidents.values():
            message = row.get("message")
            quotes = self._quotes(row["instance_key"])
            if isinstance(message, str) and sealing.quotes(message, quotes):
                row["message"] = sealing.seal_text(
                    message, context_of(b"history/", row["instance_key"])
                )
        self._inner.write_facts(facts, shard)
