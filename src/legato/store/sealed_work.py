"""The parts of a :class:`~legato.store.sealed.SealedTransaction` for the rows beside an
instance: incidents, jobs' errors and buffered messages (see :mod:`legato.store.sealed`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from legato.store._rules import dump_json
from legato.store.ports import Transaction
from legato.store.records import IncidentRecord, JobRecord, MessageRecord
from legato.store.sealing import SEALED_TEXT, Sealing

ENCRYPTED_MESSAGE = "[encrypted message]"
"""What a grouped listing of incident messages shows for a sealed one (it cannot be opened
without its row)."""


def context_of(kind: bytes, key: int) -> bytes:
    """The associated data of a row's sealed parts: ``state/42``."""
    return b"%s%d" % (kind, key)


def is_sealed_text(text: Any) -> bool:
    """Whether a text column holds a sealed text."""
    return isinstance(text, str) and text.startswith(SEALED_TEXT)


def text_of(value: Any) -> str:
    """A value as text, to look for quoted sensitive values in it."""
    return value if isinstance(value, str) else dump_json(value)


class SealedWork:
    """Incidents, jobs and messages, sealed on the way in and opened on the way out."""

    _inner: Transaction
    _sealing: Sealing

    def _quotes(self, instance_key: int) -> frozenset[str]:
        raise NotImplementedError

    # -- incidents and jobs -------------------------------------------------------------------

    def upsert_incident(self, record: IncidentRecord) -> None:
        context = context_of(b"incident/", record.instance_key)
        quotes = self._quotes(record.instance_key)
        self._inner.upsert_incident(
            dataclasses.replace(
                record,
                message=self._seal_free(record.message, context, quotes) or "",
                details=self._seal_free(record.details, context, quotes),
            )
        )

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        found = self._inner.get_incident(incident_key)
        return None if found is None else self._open_incident(found)

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        found = self._inner.list_incidents(state=state, instance_key=instance_key)
        return [self._open_incident(r) for r in found]

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        found = self._inner.open_incidents_with_process(limit)
        return [(process_id, self._open_incident(r)) for process_id, r in found]

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        return [
            (p, e, t, ENCRYPTED_MESSAGE if is_sealed_text(m) else m, n, first, last)
            for p, e, t, m, n, first, last in self._inner.open_incident_causes(limit)
        ]

    def _open_incident(self, record: IncidentRecord) -> IncidentRecord:
        if not (is_sealed_text(record.message) or is_sealed_text(record.details)):
            return record
        context = context_of(b"incident/", record.instance_key)
        return dataclasses.replace(
            record,
            message=self._sealing.open_text(record.message, context) or "",
            details=self._sealing.open_text(record.details, context),
        )

    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        self._inner.insert_jobs([self._seal_job(r) for r in records])

    def update_job(self, record: JobRecord) -> None:
        self._inner.update_job(self._seal_job(record))

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        found = self._inner.get_job(job_key, for_update=for_update)
        return None if found is None else self._open_job(found)

    def find_fetchable_jobs(self, *args: Any, **kwargs: Any) -> list[JobRecord]:
        return [self._open_job(r) for r in self._inner.find_fetchable_jobs(*args, **kwargs)]

    def lease_jobs(self, *args: Any, **kwargs: Any) -> list[JobRecord]:
        return [self._open_job(r) for r in self._inner.lease_jobs(*args, **kwargs)]

    def activate_jobs(self, *args: Any, **kwargs: Any) -> list[JobRecord]:
        return [self._open_job(r) for r in self._inner.activate_jobs(*args, **kwargs)]

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        found = self._inner.list_jobs(instance_key=instance_key, state=state)
        return [self._open_job(r) for r in found]

    def _seal_job(self, record: JobRecord) -> JobRecord:
        if record.error_message is None and record.error_details is None:
            return record
        context = context_of(b"job/", record.instance_key)
        quotes = self._quotes(record.instance_key)
        return dataclasses.replace(
            record,
            error_message=self._seal_free(record.error_message, context, quotes),
            error_details=self._seal_free(record.error_details, context, quotes),
        )

    def _open_job(self, record: JobRecord) -> JobRecord:
        if not (is_sealed_text(record.error_message) or is_sealed_text(record.error_details)):
            return record
        context = context_of(b"job/", record.instance_key)
        return dataclasses.replace(
            record,
            error_message=self._sealing.open_text(record.error_message, context),
            error_details=self._sealing.open_text(record.error_details, context),
        )

    def _seal_free(self, text: str | None, context: bytes, quotes: frozenset[str]) -> str | None:
        if not text or is_sealed_text(text) or not self._sealing.quotes(text, quotes):
            return text
        return self._sealing.seal_text(text, context)

    # -- messages -------------------------------------------------------------------------

    def insert_message(self, record: MessageRecord) -> MessageRecord:
        sealed = record
        if record.variables:
            context = context_of(b"message/", record.message_key)
            sealed = dataclasses.replace(
                record, variables={"$": self._sealing.seal(record.variables, context)}
            )
        return self._open_message(self._inner.insert_message(sealed))

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        found = self._inner.find_messages(name, correlation_key, now)
        return [self._open_message(r) for r in found]

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        return [self._open_message(r) for r in self._inner.expire_messages(now)]

    def list_messages(self, *, after: int | None, limit: int) -> list[MessageRecord]:
        found = self._inner.list_messages(after=after, limit=limit)
        return [self._open_message(r) for r in found]

    def _open_message(self, record: MessageRecord) -> MessageRecord:
        sealed = record.variables.get("$") if len(record.variables) == 1 else None
        if sealed is None:
            return record
        context = context_of(b"message/", record.message_key)
        return dataclasses.replace(record, variables=self._sealing.open(sealed, context))
