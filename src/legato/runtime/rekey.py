"""Key rotation: every stored ciphertext encrypted again with the key ring's primary key, in
the background, resumable; and what each key still encrypts.

A rotation is a durable batch operation (kind ``rekey``, see
:mod:`legato.runtime.migration_batches` for the facility): one item per instance, each done
in one transaction that encrypts again, with the primary key, every ciphertext of another
key in the instance's state, history, incidents and jobs. The state is saved with its
revision checked, so an engine that changes the instance at the same time makes one of the
two retry (the engine does so by itself; the rotation takes the instance again in its next
chunk). After a crash the batch resumes at its first pending instance; a chunk that was
rolled back left its instances pending.

The work is done on the raw store (ciphertexts stay ciphertexts, only their key changes),
so it needs no selector: what was sealed stays sealed, and nothing else is. Buffered
messages are encrypted again first (each put back whole under its key; idempotent, so a
resumed rotation does them again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from legato.errors import InvalidCommandError
from legato.security.keyring import KeyRing
from legato.store.ports import Store, Transaction
from legato.store.records import BatchOperationRecord, InstanceQuery
from legato.store.sealing import SEALED, SEALED_TEXT, key_id_of, sealed_tokens

__all__ = ["KIND", "KeyUse", "Rekey"]

KIND = "rekey"
"""The kind of the batch operations of a rotation."""
CHUNK = 100
"""Instances encrypted again per transaction."""
_PAGE = 1000
_HISTORY_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class KeyUse:
    """What one key encrypts: how many values, in how many rows of each kind."""

    key_id: str
    values: int = 0
    rows: Counter[str] | None = None

    def describe(self) -> str:
        rows = self.rows or Counter()
        places = ", ".join(f"{count} {place}" for place, count in sorted(rows.items()))
        return f"{self.values} values ({places or 'no rows'})"


class Rekey:
    """Rotation over ``store`` (the plain store, not a sealed one) with ``ring``."""

    def __init__(self, store: Store, ring: KeyRing, now: Callable[[], datetime]) -> None:
        self.store = store
        self.ring = ring
        self.now = now

    # -- the batch ----------------------------------------------------------------------------

    def start(self, created_by: str | None = None) -> BatchOperationRecord:
        """A new rotation batch over every instance there is now (or the running one)."""
        running = self.running()
        if running is not None:
            return running
        keys = list(self._instance_keys())
        now = self.now()
        with self.store.transaction() as tx:
            batch_key = tx.reserve_keys(1)[0]
            record = BatchOperationRecord(
                batch_key=batch_key,
                kind=KIND,
                status="running" if keys else "completed",
                spec={"key_id": self.ring.primary_key_id},
                total=len(keys),
                created_at=now,
                updated_at=now,
                created_by=created_by,
                ended_at=None if keys else now,
            )
            tx.insert_batch_operation(record)
            tx.add_batch_items(batch_key, keys)
        return record

    def running(self) -> BatchOperationRecord | None:
        """The rotation that is running, if any (a crashed one is still running)."""
        with self.store.transaction() as tx:
            for record in tx.list_batch_operations(limit=1000, status="running"):
                if record.kind == KIND:
                    return record
        return None

    def run(
        self,
        batch_key: int,
        progress: Callable[[BatchOperationRecord], None] | None = None,
        *,
        max_chunks: int | None = None,
    ) -> BatchOperationRecord:
        """Encrypt the buffered messages again, then run a rotation's chunks until it
        completes (or ``max_chunks`` of them ran)."""
        self.rekey_messages()
        chunks = 0
        while True:
            record = self.run_chunk(batch_key)
            chunks += 1
            if progress is not None:
                progress(record)
            if record.status != "running" or (max_chunks is not None and chunks >= max_chunks):
                return record

    def run_chunk(self, batch_key: int) -> BatchOperationRecord:
        """Encrypt the next :data:`CHUNK` pending instances again, in one transaction."""
        with self.store.transaction() as tx:
            record = tx.get_batch_operation(batch_key)
            if record is None or record.kind != KIND:
                raise InvalidCommandError(f"there is no key rotation {batch_key}")
            if record.status != "running" or not tx.try_lock(f"batch:{batch_key}"):
                return record
            pending = tx.pending_batch_items(batch_key, CHUNK)
            for instance_key in pending:
                self._rekey_instance(tx, instance_key)
            return tx.finish_batch_items(batch_key, pending, {}, self.now())

    def rekey_messages(self) -> int:
        """Encrypt the buffered messages again (a page per transaction: a message is put
        back whole, under its key); returns how many changed. Running it again is harmless."""
        changed, after = 0, None
        while True:
            with self.store.transaction() as tx:
                page = tx.list_messages(after=after, limit=CHUNK)
                for message in page:
                    variables = self._again(message.variables, b"message/%d" % message.message_key)
                    if variables is not message.variables:
                        tx.delete_messages([message.message_key])
                        tx.insert_message(replace(message, variables=variables))
                        changed += 1
            if len(page) < CHUNK:
                return changed
            after = page[-1].message_key

    def _rekey_instance(self, tx: Transaction, instance_key: int) -> None:
        state_context = b"state/%d" % instance_key
        record = tx.get_instance(instance_key)
        if record is not None:
            state = self._again(record.state, state_context)
            if state is not record.state:
                tx.update_instance(replace(record, state=state, revision=record.revision + 1))
        history_context = b"history/%d" % instance_key
        changed = []
        for chunk in self._chunks(tx, [instance_key]):
            events = self._again(chunk.events, history_context)
            if events is not chunk.events:
                changed.append(chunk._replace(events=events))
        tx.rewrite_history_chunks(changed)
        incident_context = b"incident/%d" % instance_key
        for incident in tx.list_incidents(state=None, instance_key=instance_key):
            message = self._again(incident.message, incident_context)
            details = self._again(incident.details, incident_context)
            if message is not incident.message or details is not incident.details:
                tx.upsert_incident(replace(incident, message=message, details=details))
        job_context = b"job/%d" % instance_key
        for job in tx.list_jobs(instance_key=instance_key):
            error = self._again(job.error_message, job_context)
            details = self._again(job.error_details, job_context)
            if error is not job.error_message or details is not job.error_details:
                held = tx.get_job(job.job_key, for_update=True) or job
                tx.update_job(replace(held, error_message=error, error_details=details))

    def _again(self, value: Any, context: bytes) -> Any:
        """``value`` with each ciphertext of another key than the primary one encrypted
        again with the primary key (the same object when there is none)."""
        ring, primary = self.ring, self.ring.primary_key_id
        if isinstance(value, str):
            if value.startswith(SEALED_TEXT):
                text = value[len(SEALED_TEXT) :]
                if key_id_of(text) != primary:
                    return SEALED_TEXT + ring.encrypt(ring.decrypt(text, context), context)
            return value
        if isinstance(value, dict):
            token = value.get(SEALED)
            if isinstance(token, str) and len(value) == 1:
                if key_id_of(token) == primary:
                    return value
                return {SEALED: ring.encrypt(ring.decrypt(token, context), context)}
            result: dict[str, Any] | None = None
            for key, item in value.items():
                new = self._again(item, context)
                if new is not item:
                    if result is None:
                        result = dict(value)
                    result[key] = new
            return value if result is None else result
        if isinstance(value, list):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                new = self._again(item, context)
                if new is not item:
                    if items is None:
                        items = list(value)
                    items[index] = new
            return value if items is None else items
        return value

    # -- what each key encrypts ---------------------------------------------------------------

    def usage(self) -> dict[str, KeyUse]:
        """Per key id, the values it encrypts and the rows holding them (instance states,
        history chunks, incidents, jobs, buffered messages)."""
        values: Counter[str] = Counter()
        rows: dict[str, Counter[str]] = {}

        def count(place: str, value: Any) -> None:
            seen: set[str] = set()
            for token in sealed_tokens(value):
                key_id = key_id_of(token)
                values[key_id] += 1
                seen.add(key_id)
            for key_id in seen:
                rows.setdefault(key_id, Counter())[place] += 1

        keys = list(self._instance_keys())
        for start in range(0, len(keys), _PAGE):
            page = keys[start : start + _PAGE]
            with self.store.transaction() as tx:
                for record in tx.get_instances(page):
                    count("instance states", record.state)
                for chunk in self._chunks(tx, page):
                    count("history chunks", chunk.events)
                for instance_key in page:
                    for incident in tx.list_incidents(state=None, instance_key=instance_key):
                        count("incidents", [incident.message, incident.details])
                    for job in tx.list_jobs(instance_key=instance_key):
                        count("jobs", [job.error_message, job.error_details])
        after: int | None = None
        while True:
            with self.store.transaction() as tx:
                messages = tx.list_messages(after=after, limit=_PAGE)
            for message in messages:
                count("buffered messages", message.variables)
            if len(messages) < _PAGE:
                break
            after = messages[-1].message_key
        return {
            key_id: KeyUse(key_id, values[key_id], rows.get(key_id, Counter()))
            for key_id in sorted(set(values) | set(self.ring.key_ids))
        }

    def _chunks(self, tx: Transaction, keys: list[int]) -> Iterator[Any]:
        after: tuple[int, int] | None = None
        while True:
            chunks = tx.history_chunks(keys, after=after, limit=_HISTORY_PAGE)
            yield from chunks
            if len(chunks) < _HISTORY_PAGE:
                return
            last = chunks[-1]
            after = (last.instance_key, last.position + len(last.events) - 1)

    def _instance_keys(self) -> Iterator[int]:
        after: tuple[datetime, int] | None = None
        while True:
            with self.store.transaction() as tx:
                page = tx.search_instances(InstanceQuery(after=after, limit=_PAGE))
            for record in page:
                yield record.instance_key
            if len(page) < _PAGE:
                return
            after = (page[-1].started_at, page[-1].instance_key)
