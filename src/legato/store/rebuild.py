"""Rebuilding the derived tables (:mod:`legato.store.derived`) from the stored history.

Kept apart from the derivation itself: the rebuild reads and writes through the store's
transaction port, whose ``write_derived`` takes the derived rows, so one module holding both
would be an import circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from legato.store.derived import DerivedRows
from legato.store.ports import Transaction
from legato.store.records import InstanceQuery


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
