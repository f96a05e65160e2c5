"""The in-memory adapter of :class:`~legato.store.retention.Retention`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from legato.store._memory_base import MemoryTransactionBase
from legato.store._rules import ENDED_STATUSES, utc
from legato.store.records import InstanceRecord


class MemoryRetention(MemoryTransactionBase):
    """The retention part of an in-memory transaction."""

    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        """Keys of up to ``limit`` removable instances (see the port), ascending."""
        self._check_open()
        cutoff = utc(ended_before)
        found = sorted(
            summary.instance_key
            for summary, _ in self._instances.values()
            if self._is_expired(summary, cutoff)
        )
        return found[: max(limit, 0)]

    def _is_expired(self, summary: InstanceRecord, cutoff: datetime) -> bool:
        if summary.status not in ENDED_STATUSES or summary.ended_at is None:
            return False
        if summary.ended_at >= cutoff:
            return False
        parent_key = summary.parent_instance_key
        parent = None if parent_key is None else self._instances.get(parent_key)
        return parent is None or parent[0].status in ENDED_STATUSES

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        """Delete these ended instances and their rows; others are skipped."""
        self._check_open()
        ended = set()
        for key in instance_keys:
            stored = self._instances.get(key)
            if stored is not None and stored[0].status in ENDED_STATUSES:
                ended.add(key)
        for key in ended:
            self._delete_history(key)
            for timer in self._timers.lookup(("instance", key)):
                self._timers.delete(timer.timer_key)
            for subscription in self._subscriptions.lookup(("instance", key)):
                self._subscriptions.delete(subscription.subscription_key)
            self._instances.delete(key)
        # One pass over each unindexed table for the whole batch.
        for job in list(self._jobs.values()):
            if job.instance_key in ended:
                self._jobs.delete(job.job_key)
        for task in list(self._user_tasks.values()):
            if task.instance_key in ended:
                self._user_tasks.delete(task.user_task_key)
        for incident in list(self._incidents.values()):
            if incident.instance_key in ended:
                self._incidents.delete(incident.incident_key)
        for overlay in (self._instance_variables, self._decision_evaluations):
            for ident in [*overlay.base, *overlay.changes]:
                if ident[0] in ended:
                    overlay.delete(ident)
        for item in [*self._batch_items.base, *self._batch_items.changes]:
            if item[1] in ended:
                self._batch_items.delete(item)
        # The analytics facts go with their instances; the rollups are aggregates and stay.
        for facts in (self._instance_facts, self._element_facts, self._incident_facts):
            for key, fact in [*facts.base.items(), *facts.changes.items()]:
                if fact is not None and fact.instance_key in ended:
                    facts.delete(key)
        for alert in list(self._alerts.values()):
            if alert.instance_key in ended:
                self._alerts.delete(alert.alert_key)
                self._alert_dedupe_keys.delete(alert.dedupe_key)
        requests = self._start_requests  # a table of start requests, not the HTTP library
        for request_id, owner in [*requests.base.items(), *requests.changes.items()]:
            if owner in ended and requests.get(request_id) == owner:  # nosec B113
                requests.delete(request_id)  # nosec B113
        return len(ended)

    def _delete_history(self, instance_key: int) -> None:
        committed = self._tables.history_positions.get(instance_key, ())
        for position in [*committed, *self._new_positions.pop(instance_key, ())]:
            self._history.delete((instance_key, position))
        # The committed position list goes at commit (it is shared, not an overlay).
        self._purged_instances.append(instance_key)
