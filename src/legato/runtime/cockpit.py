"""The cockpit's read side of :class:`~legato.runtime.engine.Engine`: instance search,
element statistics for the diagram overlays, instance detail, incident groups, decision
evaluations and process versions with their counts.

Everything here reads; nothing changes an instance. The queries stay fast at millions of
instances because each one reads an index range or a small table kept in step with the
history (see :mod:`legato.store.derived`): the instance search walks the instances newest
first and pages by position (an opaque cursor), never by offset; the element statistics sum
a few counter rows per element.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato.engine import values
from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.arguments import check_one_of, checked_arguments
from legato.runtime.definitions import DECISION_PREFIX
from legato.runtime.types import InstanceInfo
from legato.security import VARIABLES_REVEAL
from legato.security.sensitive import Viewer
from legato.store.derived import indexed_value
from legato.store.rebuild import rebuild_derived
from legato.store.records import (
    INSTANCE_FILTER_STATUSES,
    SUSPENDED,
    DecisionEvaluationRecord,
    ElementCountsRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
)
from legato.store.schema import from_micros, to_micros

if TYPE_CHECKING:
    from legato.security.sensitive import SensitiveData
    from legato.store.history import History
    from legato.store.ports import Store

MAX_PAGE = 500
"""The largest page any cockpit query returns."""

DEFAULT_COUNT_CAP = 10_000
"""How far :meth:`CockpitMethods.search_instances` counts by default."""

_NONE = (0, 0, 0, 0)

INCIDENT_SCAN_LIMIT = 100_000
"""The exact causes the grouping reads at most; the open incidents a group lists at most."""


@dataclass(frozen=True, slots=True)
class InstanceCount:
    """How many instances a search finds, counted up to a cap."""

    count: int
    capped: bool
    """True when the count reached the cap (there may be more)."""

    @property
    def label(self) -> str:
        """``1,234``, or ``10,000+`` when capped."""
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


@dataclass(frozen=True, slots=True)
class InstancePage:
    """One page of an instance search, newest first."""

    instances: list[InstanceInfo]
    next_cursor: str | None
    """Pass as ``after`` for the next page; None on the last page."""
    count: InstanceCount | None = None
    """The bounded count of every instance the filters find (when asked for)."""


@dataclass(frozen=True, slots=True)
class InstancePath:
    """Where an instance went: for the diagram's highlighting."""

    completed_elements: tuple[str, ...]
    """Ids of the elements that completed at least once, in order of first completion."""
    active_elements: tuple[str, ...]
    """Ids of the elements that hold a token now (the current tokens)."""
    taken_flows: tuple[str, ...]
    """Ids of the sequence flows a token took, in order of first use (the history records
    the flow of every activation and every token arriving at a joining gateway)."""
    visits: dict[str, int] = field(default_factory=dict)
    """How often each element was entered."""


@dataclass(frozen=True, slots=True)
class InstanceDetail:
    """Everything the page of one instance shows except its history (see
    :meth:`~legato.runtime.engine.Engine.history`)."""

    instance: InstanceInfo
    path: InstancePath
    calling: InstanceInfo | None
    """The instance whose call activity started this one."""
    called: list[InstanceInfo]
    """The instances this one's call activities started (newest first, up to 500)."""
    incidents: list[IncidentRecord]
    """Every incident of the instance, open and resolved, oldest first (with message and
    details: the stack trace)."""


@dataclass(frozen=True, slots=True)
class IncidentGroup:
    """Open incidents with one cause: the same process, element, error type and message
    (numbers and ids in the message replaced by ``<n>`` and ``<id>``)."""

    key: str
    """Opaque; names the group for :meth:`CockpitMethods.group_incidents`."""
    process_id: str
    element_id: str
    error_type: str
    message: str
    """The normalised message."""
    count: int
    oldest_at: datetime
    newest_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One page of the incidents of a group, oldest first."""

    incidents: list[IncidentRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DecisionVersionInfo:
    """One deployed version of a DMN decision."""

    decision_id: str
    version: int
    definition_key: int
    name: str | None
    resource_name: str
    deployed_at: datetime
    source: str
    """The DMN XML of the resource (for the decision table viewer)."""


@dataclass(frozen=True, slots=True)
class DecisionEvaluationPage:
    """One page of a decision's evaluations, newest first."""

    evaluations: list[DecisionEvaluationRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ProcessVersionInfo:
    """One deployed version of a process with what runs on it now."""

    process_id: str
    version: int
    definition_key: int
    name: str | None
    resource_name: str
    deployed_at: datetime
    active_instances: int
    completed_instances: int
    """Completed since the counters began (the database's first run, or the upgrade that
    added them); instances removed by retention stay counted."""
    terminated_instances: int
    open_incidents: int
    version_tag: str | None = None
    """The model's version tag (``zeebe:versionTag``, ``camunda:versionTag``)."""
    suspended: bool = False
    """No new instance starts on this version (see ``Engine.suspend_version``)."""


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_ID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b"
)


def normalise_message(message: str) -> str:
    """An incident message with its ids (UUIDs, long hex strings) as ``<id>`` and its
    numbers as ``<n>``: messages that differ only there have one cause."""
    return _NUMBER.sub("<n>", _ID.sub("<id>", message))


@checked_arguments
class CockpitMethods:
    """The cockpit's queries (mixed into the engine)."""

    store: Store
    sensitive: SensitiveData
    shown_incidents: Callable[[Sequence[IncidentRecord], Viewer], list[IncidentRecord]]

    # -- instances --------------------------------------------------------------------------
    def refused_filter(
        self,
        variable: tuple[str, Any] | None,
        *,
        process_id: str | None = None,
        viewer: Viewer | None = None,
    ) -> str | None:
        """Why ``viewer`` (None: nobody in particular) may not filter instances by
        ``variable`` (name, value) in ``process_id`` (or in any deployed process), or None
        when it may: the answer to such a filter tells the value (is there an instance whose
        ``ssn`` is ...), so a filter on a variable that is sensitive there, or on a value a
        detector recognises, needs the reveal permission. The message names the variable,
        the process and the permission."""
        if variable is None:
            return None
        name, value = variable
        if process_id is not None:
            process_ids = [process_id]
        else:
            with self.store.transaction() as tx:
                process_ids = sorted({r.process_id for r in tx.list_definitions()})
        shown_to = viewer or Viewer()
        detected = isinstance(value, str) and self.sensitive.detect(value)
        for pid in process_ids:
            sensitive = detected or any(path[0] == name for path in self.sensitive.paths(pid))
            if sensitive and not shown_to.reveals(pid):
                return (
                    f"'{name}' is sensitive in {pid}: filtering by its value needs "
                    f"'{VARIABLES_REVEAL}'"
                )
        return None

    def search_instances(
        self,
        *,
        process_id: str | None = None,
        version: int | None = None,
        status: str | None = None,
        business_key: str | None = None,
        variable: tuple[str, Any] | None = None,
        started_from: datetime | None = None,
        started_before: datetime | None = None,
        ended_from: datetime | None = None,
        ended_before: datetime | None = None,
        parent_instance_key: int | None = None,
        after: str | None = None,
        limit: int = 50,
        with_count: bool = False,
        count_cap: int = DEFAULT_COUNT_CAP,
    ) -> InstancePage:
        """Instances that match every filter given, newest first (start time, then key).

        Args:
            status: ``active``, ``completed``, ``terminated``, ``incident`` (active with
                at least one open incident) or ``suspended``.
            variable: (name, value): a root variable equal to a string, number or boolean.
            started_from: started at or after this; ``started_before``: before this (the
                same for ``ended_*``).
            after: the ``next_cursor`` of the previous page.
            limit: 1 to 500.
            with_count: also count what the filters find (page position aside), up to
                ``count_cap``.

        Raises:
            InvalidCommandError: an unknown status, a variable value that is not a string,
                number or boolean (or too long to be indexed), a naive time, a cursor that
                is not one, ``limit`` or ``count_cap`` out of range; the message names the
                argument.
        """
        check_one_of("status", status, INSTANCE_FILTER_STATUSES)
        _check_limit(limit)
        for name, moment in (
            ("started_from", started_from),
            ("started_before", started_before),
            ("ended_from", ended_from),
            ("ended_before", ended_before),
        ):
            if moment is not None and moment.utcoffset() is None:
                raise InvalidCommandError(f"{name} must be an aware datetime, got {moment}")
        if count_cap < 1:
            raise InvalidCommandError(f"count_cap must be at least 1, got {count_cap}")
        query = InstanceQuery(
            process_id=process_id,
            version=version,
            status=status,
            business_key=business_key,
            variable=None if variable is None else _variable_filter(variable),
            started_from=started_from,
            started_before=started_before,
            ended_from=ended_from,
            ended_before=ended_before,
            parent_instance_key=parent_instance_key,
            after=None if after is None else _decode_instance_cursor(after),
            limit=limit + 1,
        )
        with self.store.transaction() as tx:
            found = tx.search_instances(query)
            page = found[:limit]
            states = {r.instance_key: r for r in tx.get_instances([r.instance_key for r in page])}
            count = None
            if with_count:
                unpaged = dataclasses.replace(query, after=None)
                counted = tx.count_instances_upto(unpaged, count_cap + 1)
                count = InstanceCount(min(counted, count_cap), counted > count_cap)
        infos = [instance_info(states.get(r.instance_key, r)) for r in page]
        cursor = _instance_cursor(page[-1]) if len(found) > limit else None
        return InstancePage(infos, cursor, count)

    def instance_path(self, instance_key: int) -> InstancePath:
        """The elements an instance passed and the flows it took (from its history), and
        where its tokens are now.

        Raises:
            NotFoundError: no such instance.
        """
        with self.store.transaction() as tx:
            record = tx.get_instance(instance_key)
            if record is None:
                raise NotFoundError(f"no instance with key {instance_key}")
            return _path(tx, record)

    def instance_detail(self, instance_key: int) -> InstanceDetail:
        """An instance with its path, the instances it called and the one that called it,
        and its incidents.

        Raises:
            NotFoundError: no such instance.
        """
        with self.store.transaction() as tx:
            record = tx.get_instance(instance_key)
            if record is None:
                raise NotFoundError(f"no instance with key {instance_key}")
            path = _path(tx, record)
            parent_key = record.parent_instance_key
            parent = tx.get_instance(parent_key) if parent_key is not None else None
            children = tx.search_instances(
                InstanceQuery(parent_instance_key=instance_key, limit=MAX_PAGE)
            )
            incidents = tx.list_incidents(state=None, instance_key=instance_key)
        return InstanceDetail(
            instance=instance_info(record),
            path=path,
            calling=instance_info(parent) if parent is not None else None,
            called=[instance_info(child) for child in children],
            incidents=incidents,
        )

    # -- processes --------------------------------------------------------------------------
    def process_definitions(self) -> list[ProcessVersionInfo]:
        """Every deployed process version (by process id, then version) with its active
        instances and open incidents now."""
        with self.store.transaction() as tx:
            records = tx.list_definitions()
            counts = tx.counts_by_definition()
        return [
            ProcessVersionInfo(
                process_id=r.process_id,
                version=r.version,
                definition_key=r.definition_key,
                name=r.name,
                resource_name=r.resource_name,
                deployed_at=r.deployed_at,
                active_instances=counts.get(r.definition_key, _NONE)[0],
                completed_instances=counts.get(r.definition_key, _NONE)[1],
                terminated_instances=counts.get(r.definition_key, _NONE)[2],
                open_incidents=counts.get(r.definition_key, _NONE)[3],
                version_tag=r.version_tag,
                suspended=r.suspended,
            )
            for r in records
            if not r.process_id.startswith(DECISION_PREFIX)
        ]

    def element_statistics(
        self, process_id: str, version: int | None = None
    ) -> list[ElementCountsRecord]:
        """Per element of a process (one version, or all versions summed): element
        instances active there now, completed, terminated, and open incidents there. Only
        elements that were ever entered (or have an incident) are listed, by id.

        Raises:
            NotFoundError: no such process (or version).
        """
        with self.store.transaction() as tx:
            if version is None:
                keys = [
                    d.definition_key for d in tx.list_definitions() if d.process_id == process_id
                ]
            else:
                found = tx.find_definition(process_id, version)
                keys = [found.definition_key] if found is not None else []
            if not keys or process_id.startswith(DECISION_PREFIX):
                shown = process_id if version is None else f"{process_id} version {version}"
                raise NotFoundError(f"no process {shown} is deployed")
            return tx.element_counts(keys)

    # -- incidents --------------------------------------------------------------------------
    def incident_groups(self, *, viewer: Viewer | None = None) -> list[IncidentGroup]:
        """Open incidents across all processes grouped by cause, largest group first (of
        the first 100,000 exact causes). With a ``viewer``, a message that quotes a sensitive
        value of its instance is masked before it is grouped, in the processes whose values
        the viewer may not see (their incidents are read one by one, with their instances'
        variables)."""
        with self.store.transaction() as tx:
            causes = tx.open_incident_causes(INCIDENT_SCAN_LIMIT)
        masked = self._masked_processes(viewer, {cause[0] for cause in causes})
        if viewer is not None and masked:
            causes = [cause for cause in causes if cause[0] not in masked]
            causes += [
                (pid, i.element_id, i.error_type, i.message, 1, i.created_at, i.created_at)
                for pid, i in self._shown_open_incidents(viewer, masked)
            ]
        groups: dict[tuple[str, str, str, str], list[Any]] = {}
        for process_id, element_id, error_type, message, count, oldest, newest in causes:
            place = (process_id, element_id, error_type, normalise_message(message))
            found = groups.get(place)
            if found is None:
                groups[place] = [count, oldest, newest]
            else:
                found[0] += count
                found[1] = min(found[1], oldest)
                found[2] = max(found[2], newest)
        found_groups = [
            IncidentGroup(
                key=_group_key(place),
                process_id=place[0],
                element_id=place[1],
                error_type=place[2],
                message=place[3],
                count=count,
                oldest_at=oldest,
                newest_at=newest,
            )
            for place, (count, oldest, newest) in groups.items()
        ]
        found_groups.sort(key=lambda g: (-g.count, g.oldest_at, g.key))
        return found_groups

    def group_incidents(
        self,
        group: str,
        *,
        after: str | None = None,
        limit: int = 50,
        viewer: Viewer | None = None,
    ) -> IncidentPage:
        """The open incidents of a group (its :attr:`IncidentGroup.key`), oldest first.
        With a ``viewer``, the group is one of :meth:`incident_groups` for that viewer (its
        messages masked before they are compared) and so are the incidents returned.

        Raises:
            InvalidCommandError: ``group`` or ``after`` is not one this engine made, or
                ``limit`` is not 1 to 500.
        """
        _check_limit(limit)
        place = _decode_group_key(group)
        position = None if after is None else _decode_instance_cursor(after)
        if viewer is not None and self._masked_processes(viewer, {place[0]}):
            candidates = self._shown_open_incidents(viewer, {place[0]})
        else:
            candidates = self._open_incidents()
        members = [
            incident
            for process_id, incident in candidates
            if (process_id, incident.element_id, incident.error_type) == place[:3]
            and normalise_message(incident.message) == place[3]
            and (position is None or (incident.created_at, incident.incident_key) > position)
        ]
        page = members[:limit]
        cursor = _incident_cursor(page[-1]) if len(members) > limit else None
        return IncidentPage(page, cursor)

    def _masked_processes(self, viewer: Viewer | None, process_ids: set[str]) -> set[str]:
        """Those of ``process_ids`` that have sensitive data ``viewer`` may not see."""
        if viewer is None:
            return set()
        detecting = self.sensitive.detecting
        return {
            pid
            for pid in process_ids
            if not viewer.reveals(pid) and (detecting or self.sensitive.paths(pid))
        }

    def _shown_open_incidents(
        self, viewer: Viewer, process_ids: set[str]
    ) -> list[tuple[str, IncidentRecord]]:
        """The open incidents of ``process_ids`` as ``viewer`` may see them."""
        found = [(pid, i) for pid, i in self._open_incidents() if pid in process_ids]
        shown = self.shown_incidents([incident for _, incident in found], viewer)
        return [(pid, incident) for (pid, _), incident in zip(found, shown, strict=True)]

    def _open_incidents(self) -> list[tuple[str, IncidentRecord]]:
        with self.store.transaction() as tx:
            return tx.open_incidents_with_process(INCIDENT_SCAN_LIMIT)

    # -- decisions --------------------------------------------------------------------------
    def decision_definitions(self) -> list[DecisionVersionInfo]:
        """Every deployed version of every DMN decision, by decision id then version."""
        with self.store.transaction() as tx:
            records = tx.list_definitions()
        return [
            DecisionVersionInfo(
                decision_id=r.process_id.removeprefix(DECISION_PREFIX),
                version=r.version,
                definition_key=r.definition_key,
                name=r.name,
                resource_name=r.resource_name,
                deployed_at=r.deployed_at,
                source=r.source,
            )
            for r in records
            if r.process_id.startswith(DECISION_PREFIX)
        ]

    def decision_evaluations(
        self, decision_id: str, *, after: str | None = None, limit: int = 50
    ) -> DecisionEvaluationPage:
        """A decision's evaluations by business rule tasks, newest first, with the rules
        that matched and the result. (Calls of ``evaluate_decision`` are not recorded.)

        Raises:
            InvalidCommandError: a cursor that is not one, or ``limit`` not 1 to 500.
        """
        _check_limit(limit)
        position = None if after is None else _decode_evaluation_cursor(after)
        with self.store.transaction() as tx:
            found = tx.list_decision_evaluations(decision_id, after=position, limit=limit + 1)
        page = found[:limit]
        cursor = None
        if len(found) > limit:
            last = page[-1]
            cursor = _encode_cursor(
                [to_micros(last.evaluated_at), last.instance_key, last.position]
            )
        return DecisionEvaluationPage(page, cursor)

    # -- maintenance ------------------------------------------------------------------------
    def rebuild_derived(self) -> int:
        """Recompute the cockpit's tables (root variables, element counts, decision
        evaluations) from the stored history; returns how many instances were read. The
        store does this itself when it adds those tables to an existing database."""
        with self.store.transaction() as tx:
            return rebuild_derived(tx)


def instance_info(record: InstanceRecord) -> InstanceInfo:
    """An instance as the engine shows it, read from its stored JSON (not a whole state)."""
    stored = record.state
    variables = {
        name: values.decode(value)
        for name, value in stored.get("variables", {}).get(str(record.instance_key), {}).items()
    }
    active = tuple(
        e["element_id"]
        for e in stored.get("elements", ())
        if e.get("parent_key") is not None and not e.get("children")
    )
    return InstanceInfo(
        key=record.instance_key,
        process_id=record.process_id,
        version=record.version,
        status=SUSPENDED if record.suspended else record.status,
        business_key=record.business_key,
        started_at=record.started_at,
        ended_at=record.ended_at,
        variables=variables,
        active_elements=active,
        incidents=record.incident_count,
        version_reason=stored.get("version_reason"),
        parent_instance_key=record.parent_instance_key,
    )


def _path(tx: History, record: InstanceRecord) -> InstancePath:
    completed: dict[str, None] = {}
    flows: dict[str, None] = {}
    visits: dict[str, int] = {}
    for event in tx.history(record.instance_key):
        kind, payload = event.event_type, event.payload
        if kind == "ElementActivated":
            visits[payload["element_id"]] = visits.get(payload["element_id"], 0) + 1
            if payload.get("flow_id"):
                flows[payload["flow_id"]] = None
        elif kind == "JoinTokenArrived":
            flows[payload["flow_id"]] = None
        elif kind == "ElementCompleted":
            completed[payload["element_id"]] = None
    return InstancePath(
        completed_elements=tuple(completed),
        active_elements=instance_info(record).active_elements,
        taken_flows=tuple(flows),
        visits=visits,
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidCommandError(f"limit must be 1 to {MAX_PAGE}, got {limit}")


def _variable_filter(variable: tuple[str, Any]) -> tuple[str, str]:
    name, value = variable
    try:
        indexed = indexed_value(values.encode(value))
    except (TypeError, ValueError):
        indexed = None
    if not isinstance(name, str) or not name or indexed is None:
        raise InvalidCommandError(
            "variable must be a name and a string, number or boolean value "
            f"(up to 200 characters as JSON), got {variable!r:.80}"
        )
    return name, indexed


def _encode_cursor(parts: Sequence[Any]) -> str:
    text = json.dumps(list(parts), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(name: str, cursor: str, arity: int, kinds: Callable[[Any], bool]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        parts = None
    if not isinstance(parts, list) or len(parts) != arity or not all(map(kinds, parts)):
        raise InvalidCommandError(f"{name} is not a cursor of this list: {cursor!r:.80}")
    return parts


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63


def instance_cursor(started_at: datetime, instance_key: int) -> str:
    """The cursor that continues an instance search after this instance (the ``after`` of
    :meth:`CockpitMethods.search_instances`): for a page that starts at a chosen point."""
    return _encode_cursor([to_micros(started_at), instance_key])


def _instance_cursor(record: InstanceRecord) -> str:
    return instance_cursor(record.started_at, record.instance_key)


def _instant(micros: int, cursor: str) -> datetime:
    try:
        return from_micros(micros)
    except OverflowError:
        raise InvalidCommandError(f"after is not a cursor of this list: {cursor!r:.80}") from None


def _decode_instance_cursor(cursor: str) -> tuple[datetime, int]:
    micros, key = _decode_cursor("after", cursor, 2, _is_int)
    return _instant(micros, cursor), key


def _incident_cursor(incident: IncidentRecord) -> str:
    return _encode_cursor([to_micros(incident.created_at), incident.incident_key])


def _decode_evaluation_cursor(cursor: str) -> tuple[datetime, int, int]:
    micros, key, position = _decode_cursor("after", cursor, 3, _is_int)
    return _instant(micros, cursor), key, position


def _group_key(place: tuple[str, str, str, str]) -> str:
    return _encode_cursor(place)


def _decode_group_key(group: str) -> tuple[str, str, str, str]:
    parts = _decode_cursor("group", group, 4, lambda part: isinstance(part, str))
    return parts[0], parts[1], parts[2], parts[3]
