"""Which version of a process a new instance gets: the caller's, the rollout rule's, or the
latest; suspended versions refused.

A process may have one rollout rule (table ``rollouts``): a percentage split over versions
(``{1: 90, 2: 10}``) or a FEEL expression over the start variables and ``businessKey`` that
returns a version number or tag (``if region = "EU" then 2 else 1``). It applies whenever a
start names no version; changing it changes where the next instances go, and setting it back
is the rollback.

A split is deterministic per instance: with a business key, a hash of the process id and the
business key places the instance (the same business key always gets the same version); without
one, the starts of a process take the points of a golden-ratio sequence in turn, so any run of
starts is split within a fraction of a percent of the percentages.

Each instance records why it got its version (:data:`EXPLICIT`, :data:`LATEST`, ``"rollout:
10% split"``, :data:`RULE`), shown as ``InstanceInfo.version_reason``.

Every node reads a process's versions and rule from the store and keeps them for
:attr:`VersionChooser.refresh` seconds (one second by default); changes made through this
engine take effect at once, other nodes' changes within that time.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from legato import feel
from legato.errors import InvalidCommandError, NotFoundError
from legato.store.ports import Store
from legato.store.records import RolloutRecord, VersionSummary

EXPLICIT = "explicit version"
"""The reason of an instance whose caller named its version."""
EXPLICIT_TAG = "explicit version tag"
"""The reason of an instance whose caller named its version tag."""
LATEST = "latest"
"""The reason of an instance started on the latest version (no rollout rule)."""
RULE = "rollout rule"
"""The reason of an instance whose version the rollout's FEEL rule chose."""

_GOLDEN = (5**0.5 - 1) / 2


def split_reason(percent: int) -> str:
    """The reason of an instance that a percentage split placed."""
    return f"rollout: {percent}% split"


@dataclass(frozen=True, slots=True)
class Rollout:
    """A process's rollout rule (see :meth:`legato.Engine.set_rollout`)."""

    process_id: str
    split: dict[int, int]
    """Percent by version (empty for a FEEL rule)."""
    rule: str | None
    """The FEEL rule (None for a split)."""
    revision: int
    """Counts the changes of the process's rollout."""
    updated_at: datetime | None
    updated_by: str | None

    @property
    def description(self) -> str:
        """``v1 90%, v2 10%`` or ``rule: <expression>``."""
        if self.rule is not None:
            return f"rule: {self.rule}"
        return ", ".join(f"v{version} {percent}%" for version, percent in self.split.items())


def rollout_of(record: RolloutRecord) -> Rollout:
    """The public view of a stored rollout rule."""
    return Rollout(
        record.process_id,
        dict(record.split),
        record.rule,
        record.revision,
        record.updated_at,
        record.updated_by,
    )


def compile_rule(process_id: str, rule: str) -> feel.CompiledExpression:
    """Compile a rollout rule.

    Raises:
        InvalidCommandError: the rule is not FEEL (naming the line and column) or calls an
            unknown function.
    """
    try:
        compiled = feel.compile(rule)
    except feel.FeelSyntaxError as exc:
        raise InvalidCommandError(
            f"the rollout rule of process '{process_id}' is not valid FEEL at line {exc.line},"
            f" column {exc.column}: {exc.reason}"
        ) from None
    if compiled.unknown_functions:
        names = ", ".join(sorted(compiled.unknown_functions))
        raise InvalidCommandError(
            f"the rollout rule of process '{process_id}' calls unknown functions: {names}"
        )
    return compiled


def checked_split(
    process_id: str, split: Mapping[int, int], versions: list[VersionSummary]
) -> tuple[tuple[int, int], ...]:
    """A split as stored: (version, percent) by version.

    Raises:
        InvalidCommandError: a percentage is not a whole number from 0 to 100, they do not add
            up to 100, or a version with a share is suspended.
        NotFoundError: a version of the split is not deployed.
    """
    known = {v.version: v for v in versions}
    pairs: list[tuple[int, int]] = []
    for version, percent in sorted(split.items()):
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidCommandError(
                f"the rollout of process '{process_id}' gives version {version} {percent!r}:"
                " a share is a whole percentage from 0 to 100"
            )
        summary = known.get(version)
        if summary is None:
            raise NotFoundError(f"process '{process_id}' has no version {version}")
        if summary.suspended and percent:
            raise InvalidCommandError(
                f"version {version} of process '{process_id}' is suspended: it cannot take"
                " new instances"
            )
        pairs.append((version, percent))
    total = sum(percent for _, percent in pairs)
    if total != 100:
        raise InvalidCommandError(
            f"the rollout of process '{process_id}' adds up to {total}%, not 100%"
        )
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class _Entry:
    loaded_at: float
    versions: list[VersionSummary]
    rollout: RolloutRecord | None
    rule: feel.CompiledExpression | None


class VersionChooser:
    """Chooses the version of each new instance (see the module's documentation).

    Args:
        store: where versions and rollout rules are read.
        feel_limits: what one evaluation of a rule may do at most (read per evaluation).
        now: the engine clock (for ``now()`` in a rule).
    """

    def __init__(
        self,
        store: Store,
        feel_limits: Callable[[], feel.FeelLimits | None],
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._feel_limits = feel_limits
        self._now = now
        self._entries: dict[str, _Entry] = {}
        self._sequences: dict[str, Iterator[int]] = {}
        self._lock = threading.Lock()
        self.refresh = 1.0
        """Seconds a node keeps a process's versions and rollout rule before reading them
        again (changes made through this engine apply at once)."""

    def forget(self, process_id: str | None = None) -> None:
        """Read a process's (every process's) versions and rule again at its next start."""
        with self._lock:
            if process_id is None:
                self._entries.clear()
            else:
                self._entries.pop(process_id, None)

    def choose(
        self,
        process_id: str,
        *,
        version: int | None = None,
        version_tag: str | None = None,
        variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
    ) -> tuple[int, str]:
        """The definition key of the version a new instance gets, and why.

        Raises:
            NotFoundError: no such process, version or version tag.
            InvalidCommandError: the version is suspended; the rollout rule gave no version.
        """
        entry = self._entry(process_id)
        if version is not None and version_tag is not None:
            raise InvalidCommandError("give a version or a version tag, not both")
        if version is not None:
            return self._startable(
                process_id, entry, _by_version(process_id, entry, version)
            ), EXPLICIT
        if version_tag is not None:
            found = next((v for v in entry.versions if v.version_tag == version_tag), None)
            if found is None:
                raise NotFoundError(f"process '{process_id}' has no version tagged '{version_tag}'")
            return self._startable(process_id, entry, found), f"{EXPLICIT_TAG} '{version_tag}'"
        rollout = entry.rollout
        if rollout is not None and rollout.split:
            chosen, percent = self._split(process_id, rollout.split, business_key)
            summary = _by_version(process_id, entry, chosen)
            return self._startable(process_id, entry, summary), split_reason(percent)
        if rollout is not None and entry.rule is not None:
            summary = self._ruled(process_id, entry, entry.rule, variables, business_key)
            return self._startable(process_id, entry, summary), RULE
        latest = entry.versions[-1]
        if latest.suspended:
            raise InvalidCommandError(
                f"the latest version ({latest.version}) of process '{process_id}' is suspended"
                " and no rollout rule chooses another: start a version explicitly, resume it,"
                " or set a rollout"
            )
        return latest.definition_key, LATEST

    def _entry(self, process_id: str) -> _Entry:
        entry = self._entries.get(process_id)
        if entry is not None and time.monotonic() - entry.loaded_at < self.refresh:
            return entry
        with self._store.transaction() as tx:
            versions = tx.version_summaries(process_id)
            rollout = tx.get_rollout(process_id)
        if not versions:
            raise NotFoundError(f"no process with id '{process_id}' is deployed")
        rule = compile_rule(process_id, rollout.rule) if rollout and rollout.rule else None
        entry = _Entry(time.monotonic(), versions, rollout, rule)
        with self._lock:
            self._entries[process_id] = entry
        return entry

    def _split(
        self, process_id: str, split: tuple[tuple[int, int], ...], business_key: str | None
    ) -> tuple[int, int]:
        if business_key is not None:
            text = f"{process_id}\x1f{business_key}".encode()
            digest = hashlib.blake2b(text, digest_size=8).digest()
            point = int.from_bytes(digest, "big") / 2**64 * 100
        else:
            with self._lock:
                sequence = self._sequences.setdefault(process_id, itertools.count(1))
                n = next(sequence)
            point = (n * _GOLDEN) % 1.0 * 100
        reached = 0
        for version, percent in split:
            reached += percent
            if point < reached:
                return version, percent
        return next((v, p) for v, p in reversed(split) if p)

    def _ruled(
        self,
        process_id: str,
        entry: _Entry,
        rule: feel.CompiledExpression,
        variables: Mapping[str, Any] | None,
        business_key: str | None,
    ) -> VersionSummary:
        context = dict(variables or {})
        context["businessKey"] = business_key
        result = rule.evaluate(context, now=self._now(), limits=self._feel_limits())
        if isinstance(result, Decimal | int) and not isinstance(result, bool):
            if result != int(result):
                raise InvalidCommandError(
                    f"the rollout rule of process '{process_id}' gave {result}: not a version"
                )
            return _by_version(process_id, entry, int(result))
        if isinstance(result, str):
            found = next((v for v in entry.versions if v.version_tag == result), None)
            if found is not None:
                return found
            raise NotFoundError(
                f"the rollout rule of process '{process_id}' gave '{result}': no version has"
                " that tag"
            )
        raise InvalidCommandError(
            f"the rollout rule of process '{process_id}' gave {result!r} for this start:"
            " it must give a version number or tag"
        )

    @staticmethod
    def _startable(process_id: str, entry: _Entry, summary: VersionSummary) -> int:
        if summary.suspended:
            raise InvalidCommandError(
                f"version {summary.version} of process '{process_id}' is suspended: it takes"
                " no new instances"
            )
        return summary.definition_key


def _by_version(process_id: str, entry: _Entry, version: int) -> VersionSummary:
    found = next((v for v in entry.versions if v.version == version), None)
    if found is None:
        raise NotFoundError(f"process '{process_id}' has no version {version}")
    return found
