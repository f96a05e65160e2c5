"""Rebuilding the derived tables (:mod:`legato.store.derived`) and the analytics facts
(:mod:`legato.store.facts`) from the stored history.

Kept apart from the derivation itself: the rebuild reads and writes through the store's
transaction port, whose ``write_derived`` takes the derived rows, so one module holding both
would be an import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from legato.store.derived import DerivedRows
from legato.store.facts import DerivedFacts, FactInstance
from legato.store.ports import Transaction
from legato.store.records import InstanceQuery, InstanceRecord


def rebuild_derived(tx: Transaction, *, batch: int = 500) -> int:
    """Recompute every derived table from the stored history (replacing what they hold).

    Reads the instances ``batch`` at a time and writes their rows as it goes; the counts are
    written once at the end (into shard 0). Returns how many instances were read.
    """
    tx.clear_derived()
    counts = DerivedRows()
    seen = 0
    for keys in _instance_key_pages(tx, batch):
        rows = DerivedRows()
        known = {
            s.instance_key: (s.definition_key, s.started_at) for s in tx.instance_summaries(keys)
        }
        for key in keys:
            rows.add(tx.history(key), known.get, lambda _: None)
        rows.incident_elements.clear()
        for place, delta in rows.counts.items():
            total = counts.counts.setdefault(place, [0, 0, 0, 0])
            for slot, value in enumerate(delta):
                total[slot] += value
        rows.counts = {}
        tx.write_derived(rows, 0)
        seen += len(keys)
    tx.write_derived(counts, 0)
    return seen


def _instance_key_pages(tx: Transaction, batch: int) -> Iterable[Sequence[int]]:
    after = None
    while True:
        page = tx.search_instances(InstanceQuery(after=after, limit=batch))
        if not page:
            return
        yield [record.instance_key for record in page]
        after = (page[-1].started_at, page[-1].instance_key)


def rebuild_facts(tx: Transaction, *, batch: int = 500) -> int:
    """Recompute the analytics facts (:mod:`legato.store.facts`) from the stored history,
    in one transaction (replacing what they hold).

    Reads the instances ``batch`` at a time and writes their facts as it goes, the rollups
    into shard 0. Returns how many instances were read. The rollups are recomputed from the
    instances still stored: what retention removed is no longer counted in them.
    """
    tx.clear_facts()
    seen = 0
    after: tuple[datetime, int] | None = None
    while (page := tx.search_instances(InstanceQuery(after=after, limit=batch))) != []:
        after = _rebuild_page(tx, page)
        seen += len(page)
    return seen


def rebuild_facts_in_steps(
    transaction: Callable[[], AbstractContextManager[Transaction]],
    *,
    batch: int = 500,
    after: tuple[datetime, int] | None = None,
    on_batch: Callable[[int, tuple[datetime, int]], None] | None = None,
) -> int:
    """:func:`rebuild_facts` with one ``batch`` of instances per transaction, so that a
    rebuild of millions of instances holds no transaction open for long.

    Without ``after`` the facts are emptied first (in the first transaction). ``on_batch``
    is told the running count and the position (start time, key; the list is newest first)
    of the last instance written; passing that position as ``after`` resumes an interrupted
    rebuild there. Returns how many instances were read.
    """
    seen = 0
    first = after is None
    while True:
        with transaction() as tx:
            if first:
                tx.clear_facts()
                first = False
            page = tx.search_instances(InstanceQuery(after=after, limit=batch))
            if not page:
                return seen
            after = _rebuild_page(tx, page)
        seen += len(page)
        if on_batch is not None:
            on_batch(seen, after)


def _rebuild_page(tx: Transaction, page: Sequence[InstanceRecord]) -> tuple[datetime, int]:
    facts = DerivedFacts()
    known = {
        s.instance_key: FactInstance(s.definition_key, s.started_at, s.process_id, s.version)
        for s in page
    }
    for record in page:
        facts.add(tx.history(record.instance_key), known.get, _unknown_element)
    facts.settle()
    tx.write_facts(facts, 0)
    return page[-1].started_at, page[-1].instance_key


def _unknown_element(_kind: str, _key: int) -> None:
    """A whole history is read: every job and user task was seen created."""
