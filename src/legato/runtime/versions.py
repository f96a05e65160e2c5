"""Process versions side by side (mixed into :class:`~legato.runtime.engine.Engine`): list
them with their tags, state and instances, suspend and resume one, compare two, and set the
rollout rule that chooses the version of new instances (see :mod:`legato.runtime.rollout`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.arguments import checked_arguments
from legato.runtime.clock import Clock
from legato.runtime.definitions import DECISION_PREFIX, DefinitionRegistry
from legato.runtime.diff import VersionDiff, diff_processes
from legato.runtime.rollout import (
    Rollout,
    VersionChooser,
    checked_split,
    compile_rule,
    rollout_of,
)
from legato.store.records import RolloutRecord

if TYPE_CHECKING:
    from legato.runtime.deploy import Deployer
    from legato.store.ports import Store

CYCLE_TIME_SAMPLE = 1_000
"""How many of a process's latest completed instances the cycle times are taken from."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One version of a process, with its instances."""

    process_id: str
    version: int
    definition_key: int
    version_tag: str | None
    suspended: bool
    """No new instance starts on it; its running instances go on."""
    name: str | None
    resource_name: str
    deployed_at: datetime
    active_instances: int
    completed_instances: int
    terminated_instances: int
    open_incidents: int
    rollout_percent: int | None
    """Its share of new instances under a percentage split (None without one)."""
    cycle_time_mean: float | None
    """Mean seconds from start to end of its completed instances among the process's latest
    :data:`CYCLE_TIME_SAMPLE` completed ones (None when there are none)."""
    cycle_time_median: float | None
    cycle_time_sample: int
    """How many completed instances the cycle times are taken from."""

    @property
    def label(self) -> str:
        """``v3`` or ``v3 (1.2.0)``."""
        return f"v{self.version} ({self.version_tag})" if self.version_tag else f"v{self.version}"


@checked_arguments
class VersionMethods:
    """Versions and rollout (mixed into the engine)."""

    store: Store
    clock: Clock
    _definitions: DefinitionRegistry
    _deployer: Deployer
    _versions: VersionChooser

    def process_versions(self, process_id: str) -> list[VersionInfo]:
        """Every version of a process, oldest first, with its tag, suspended state, rollout
        share, instance counts and cycle times.

        Raises:
            NotFoundError: no such process is deployed.
        """
        with self.store.transaction() as tx:
            records = [d for d in tx.list_definitions() if d.process_id == process_id]
            counts = tx.counts_by_definition()
            rollout = tx.get_rollout(process_id)
            cycles = tx.recent_cycle_times(process_id, CYCLE_TIME_SAMPLE)
        if not records or process_id.startswith(DECISION_PREFIX):
            raise NotFoundError(f"no process with id '{process_id}' is deployed")
        shares = dict(rollout.split) if rollout is not None and rollout.split else None
        by_version: dict[int, list[float]] = {}
        for version, seconds in cycles:
            by_version.setdefault(version, []).append(seconds)
        found = []
        for r in records:
            active, completed, terminated, incidents = counts.get(r.definition_key, (0, 0, 0, 0))
            times = by_version.get(r.version, [])
            found.append(
                VersionInfo(
                    process_id=r.process_id,
                    version=r.version,
                    definition_key=r.definition_key,
                    version_tag=r.version_tag,
                    suspended=r.suspended,
                    name=r.name,
                    resource_name=r.resource_name,
                    deployed_at=r.deployed_at,
                    active_instances=active,
                    completed_instances=completed,
                    terminated_instances=terminated,
                    open_incidents=incidents,
                    rollout_percent=shares.get(r.version, 0) if shares is not None else None,
                    cycle_time_mean=statistics.fmean(times) if times else None,
                    cycle_time_median=statistics.median(times) if times else None,
                    cycle_time_sample=len(times),
                )
            )
        return found

    def suspend_version(self, process_id: str, version: int) -> None:
        """Start no new instance on a process version: starts that name it, or reach it as
        the latest or through the rollout, are refused, and its message, signal and timer
        start events start nothing. Its running instances go on.

        Raises:
            NotFoundError: no such process version.
            InvalidCommandError: the rollout gives the version a share of new instances.
        """
        with self.store.transaction() as tx:
            rollout = tx.get_rollout(process_id)
        if rollout is not None and dict(rollout.split).get(version):
            raise InvalidCommandError(
                f"the rollout of process '{process_id}' gives version {version}"
                f" {dict(rollout.split)[version]}% of new instances: change it first"
            )
        self._deployer.set_suspended(process_id, version, True)
        self._versions.forget(process_id)

    def resume_version(self, process_id: str, version: int) -> None:
        """Let new instances start on a suspended process version again.

        Raises:
            NotFoundError: no such process version.
        """
        self._deployer.set_suspended(process_id, version, False)
        self._versions.forget(process_id)

    def tag_version(self, process_id: str, version: int, version_tag: str | None) -> None:
        """Give a process version a version tag (or, with None, take its tag away), e.g. one
        deployed before its model named one; starts can then name it (``version_tag=``).

        Raises:
            NotFoundError: no such process version.
            InvalidCommandError: another version of the process has that tag, or the tag is
                empty or longer than 255 characters.
        """
        if version_tag is not None and not 0 < len(version_tag.strip()) <= 255:
            raise InvalidCommandError("a version tag has 1 to 255 characters")
        with self.store.transaction() as tx:
            record = tx.find_definition(process_id, version)
            if record is None or process_id.startswith(DECISION_PREFIX):
                raise NotFoundError(f"process '{process_id}' has no version {version}")
            if version_tag is not None:
                taken = tx.find_tagged_definition(process_id, version_tag)
                if taken is not None and taken.version != version:
                    raise InvalidCommandError(
                        f"process '{process_id}' already has version tag '{version_tag}'"
                        f" (version {taken.version})"
                    )
            tx.set_definition_tag(record.definition_key, version_tag)
        self._versions.forget(process_id)

    def diff_versions(self, process_id: str, a: int, b: int) -> VersionDiff:
        """What changed from version ``a`` to version ``b`` of a process: elements and flows
        added, removed and changed (each change named).

        Raises:
            NotFoundError: no such process version.
        """
        with self.store.transaction() as tx:
            older = tx.find_definition(process_id, a)
            newer = tx.find_definition(process_id, b)
        for number, record in ((a, older), (b, newer)):
            if record is None or process_id.startswith(DECISION_PREFIX):
                raise NotFoundError(f"process '{process_id}' has no version {number}")
        assert older is not None and newer is not None
        return diff_processes(
            self._definitions.get(older.definition_key).process,
            self._definitions.get(newer.definition_key).process,
            a,
            b,
        )

    def rollout(self, process_id: str) -> Rollout | None:
        """A process's rollout rule (None: new instances get the latest version)."""
        with self.store.transaction() as tx:
            record = tx.get_rollout(process_id)
        return rollout_of(record) if record is not None else None

    def set_rollout(
        self,
        process_id: str,
        split: Mapping[int, int] | None = None,
        *,
        rule: str | None = None,
        by: str | None = None,
    ) -> Rollout:
        """Choose the version of new instances that name none: a percentage split
        (``{1: 90, 2: 10}``) or a FEEL ``rule`` over the start variables and ``businessKey``
        giving a version number or tag (``if region = "EU" then 2 else 1``). It applies at
        once; setting the previous rule again is the rollback.

        Raises:
            InvalidCommandError: neither or both are given; the split does not add up to 100
                or gives a suspended version a share; the rule is not FEEL (naming the line
                and column).
            NotFoundError: no such process, or a version of the split is not deployed.
        """
        if (split is None) == (rule is None):
            raise InvalidCommandError("give a rollout a percentage split or a rule (one)")
        with self.store.transaction() as tx:
            versions = tx.version_summaries(process_id)
            previous = tx.get_rollout(process_id)
            if not versions or process_id.startswith(DECISION_PREFIX):
                raise NotFoundError(f"no process with id '{process_id}' is deployed")
            pairs = checked_split(process_id, split, versions) if split is not None else ()
            if rule is not None:
                compile_rule(process_id, rule)
            record = RolloutRecord(
                process_id=process_id,
                split=pairs,
                rule=rule,
                revision=previous.revision + 1 if previous is not None else 1,
                updated_at=self.clock.now(),
                updated_by=by,
            )
            tx.put_rollout(record)
        self._versions.forget(process_id)
        return rollout_of(record)

    def clear_rollout(self, process_id: str) -> bool:
        """Remove a process's rollout rule: new instances get the latest version again.

        Returns False when the process had none.
        """
        with self.store.transaction() as tx:
            removed = tx.delete_rollout(process_id)
        self._versions.forget(process_id)
        return removed

    @property
    def rollout_refresh(self) -> float:
        """Seconds a node keeps a process's versions and rollout rule before reading them
        again (one by default): other nodes' changes apply within that time."""
        return self._versions.refresh

    @rollout_refresh.setter
    def rollout_refresh(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidCommandError("rollout_refresh cannot be negative")
        self._versions.refresh = seconds
