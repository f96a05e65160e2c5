"""The event log of chosen instances, read from their history a page at a time.

A case is an instance; its events are the starts and ends of its element instances, in
history order:

* ``start`` when a token enters an element (``ElementActivated``);
* ``complete`` when the element finishes its work (``ElementCompleted``), with the user who
  completed a user task as the resource;
* ``ate_abort`` when it is ended before finishing (``ElementTerminated``: the instance was
  cancelled, a boundary event interrupted it, a terminate end event ended its scope). An
  element instance starts when it is entered, so none is withdrawn before its start.

A multi-instance activity contributes its inner instances (its body is left out, it would
double them), sub-processes their own element and those inside. The instances of a called
process are cases of their own, with the calling instance's key.

:func:`read_event_log` yields each :class:`LogCase` followed by its :class:`LogEvent` items,
reading a page of instances and then their history in pages ordered by (instance, position),
each page in a short transaction of its own: memory stays flat however large the log, and
the engine is never held up by an export for more than a page's read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from legato.bpmn import read_bpmn
from legato.errors import InvalidCommandError, LegatoError, NotFoundError
from legato.model import ElementKind
from legato.store.history import EventLogQuery
from legato.store.ports import Store, Transaction
from legato.store.records import INSTANCE_STATUSES, DefinitionRecord, InstanceRecord

Window = Literal["started", "ended"]
"""What a time window bounds: when the instances started, or when they ended."""
ActivityLabel = Literal["name", "id"]
"""What names an activity: the element's name (its id where it has none), or its id."""

WINDOWS: tuple[Window, ...] = ("started", "ended")
ACTIVITY_LABELS: tuple[ActivityLabel, ...] = ("name", "id")

ACTIVITY_KINDS = frozenset(
    {
        ElementKind.TASK,
        ElementKind.MANUAL_TASK,
        ElementKind.SERVICE_TASK,
        ElementKind.SEND_TASK,
        ElementKind.RECEIVE_TASK,
        ElementKind.SCRIPT_TASK,
        ElementKind.USER_TASK,
        ElementKind.BUSINESS_RULE_TASK,
        ElementKind.SUB_PROCESS,
        ElementKind.TRANSACTION,
        ElementKind.AD_HOC_SUB_PROCESS,
        ElementKind.CALL_ACTIVITY,
    }
)
"""The element kinds that are activities (``activities_only`` keeps these, no events or
gateways)."""

INSTANCE_PAGE = 100
"""Instances read per transaction."""
HISTORY_PAGE = 200
"""History rows read per transaction (a row holds a command's events for one instance).

With 100 and 200 an export of 200,000 events peaked at about 2 MB of Python allocations
(about 1 MB more with 200 and 500, no faster: a page costs one short transaction)."""


class HasStore(Protocol):
    """An engine (:class:`legato.Engine`, the testing kit's), or anything else with a store."""

    @property
    def store(self) -> Store: ...


Source = Store | HasStore
"""Where a log is read from: a store, or an engine (its store)."""


def store_of(source: Source) -> Store:
    """The store of an engine, or the store itself."""
    store = getattr(source, "store", None)
    return store if store is not None else source  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventLogSelection:
    """Which instances go into a log, and how its events are named.

    Every filter given must hold. ``since`` and ``until`` bound the ``window``: when the
    instances started (the default) or when they ended (leaving out those still running);
    ``since`` is inclusive, ``until`` exclusive, both aware datetimes.
    """

    process_id: str | None = None
    versions: tuple[int, ...] | None = None
    """Versions of ``process_id`` (any of them); every version when None."""
    statuses: tuple[str, ...] | None = None
    """``active``, ``completed``, ``terminated`` (any of them); all when None."""
    instance_keys: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    window: Window = "started"
    activity: ActivityLabel = "name"
    activities_only: bool = False
    """Only tasks, sub-processes and call activities: no events, no gateways."""

    def query(self) -> EventLogQuery:
        """The store query of the selection."""
        started = self.window == "started"
        return EventLogQuery(
            process_id=self.process_id,
            versions=self.versions,
            statuses=self.statuses,
            instance_keys=self.instance_keys,
            started_from=self.since if started else None,
            started_before=self.until if started else None,
            ended_from=None if started else self.since,
            ended_before=None if started else self.until,
        )


class LogCase(NamedTuple):
    """A case of the log: one instance (its events follow it)."""

    instance: InstanceRecord
    """The instance, its state left out."""


class LogEvent(NamedTuple):
    """One event of a case: an element instance started, completed or was aborted."""

    instance_key: int
    activity: str
    transition: str
    """``start``, ``complete`` or ``ate_abort`` (XES's standard lifecycle transitions)."""
    at: datetime
    resource: str | None
    """Who completed a user task (on its ``complete`` event)."""
    element_id: str
    element_type: str
    """The BPMN element kind: ``userTask``, ``exclusiveGateway`` ..."""
    element_instance_key: int
    position: int
    """The event's position in the instance's history."""


LogItem = LogCase | LogEvent


def check_selection(store: Store, selection: EventLogSelection) -> None:
    """Refuse a selection that cannot mean what it says, naming what is wrong.

    Raises:
        InvalidCommandError: an unknown status, window or activity label; versions without
            a process; a naive or empty time window.
        NotFoundError: an unknown process, version of it, or instance key.
    """
    _check_words(selection)
    _check_window(selection.since, selection.until)
    with store.transaction() as tx:
        if selection.process_id is not None:
            _check_process(tx, selection.process_id, selection.versions)
        elif selection.versions is not None:
            raise InvalidCommandError("versions select versions of a process: name the process")
        if selection.instance_keys is not None:
            _check_instances(tx, selection.instance_keys)


def _check_words(selection: EventLogSelection) -> None:
    for what, given, allowed in (
        ("status", selection.statuses or (), INSTANCE_STATUSES),
        ("window", (selection.window,), WINDOWS),
        ("activity label", (selection.activity,), ACTIVITY_LABELS),
    ):
        for word in given:
            if word not in allowed:
                raise InvalidCommandError(
                    f"unknown {what} {word!r}: expected one of {', '.join(allowed)}"
                )


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise InvalidCommandError(
                f"{name} {value.isoformat()} has no time zone: give an aware datetime"
            )
    if since is not None and until is not None and since >= until:
        raise InvalidCommandError(
            f"the time window is empty: since {since.isoformat()} is not before "
            f"until {until.isoformat()}"
        )


def _check_process(tx: Transaction, process_id: str, versions: tuple[int, ...] | None) -> None:
    deployed = sorted(d.version for d in tx.list_definitions() if d.process_id == process_id)
    if not deployed:
        raise NotFoundError(f"no process {process_id!r} is deployed")
    missing = sorted(set(versions or ()) - set(deployed))
    if missing:
        raise NotFoundError(
            f"process {process_id!r} has no version {', '.join(map(str, missing))} "
            f"(deployed: {', '.join(map(str, deployed))})"
        )


def _check_instances(tx: Transaction, keys: Sequence[int]) -> None:
    found = {record.instance_key for record in tx.instance_summaries(keys)}
    missing = sorted(set(keys) - found)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise NotFoundError(f"no instance with key {shown}")


def read_event_log(source: Source, selection: EventLogSelection) -> Iterator[LogItem]:
    """The log of the selected instances: each case by key ascending, then its events.

    The selection is taken as it is (see :func:`check_selection` for the checks a caller
    wants first). Instances that start while the log is read may or may not be in it.
    """
    store = store_of(source)
    query = selection.query()
    labels = _Labels(selection.activity)
    after: int | None = None
    while True:
        # Each page in a transaction of its own, closed before anything is yielded: a slow
        # reader of the log must not hold the database (SQLite's write lock) meanwhile.
        with store.transaction() as tx:
            page = tx.event_log_instances(query, after=after, limit=INSTANCE_PAGE)
            versions = labels.read_new(tx, {record.definition_key for record in page})
        labels.learn(versions)  # models are parsed outside the transaction
        if not page:
            return
        after = page[-1].instance_key
        yield from _page_items(store, page, labels, selection.activities_only)


def _page_items(
    store: Store, page: list[InstanceRecord], labels: _Labels, activities_only: bool
) -> Iterator[LogItem]:
    """The cases of one page of instances, each followed by its events."""
    keys = [record.instance_key for record in page]
    waiting = iter(page)
    case: _CaseEvents | None = None
    after: tuple[int, int] | None = None
    while True:
        with store.transaction() as tx:
            chunks = tx.history_chunks(keys, after=after, limit=HISTORY_PAGE)
        for chunk in chunks:
            if case is None or chunk.instance_key != case.instance_key:
                # Instances without history (none, unless history was deleted) get a case
                # without events, so that every selected instance is a case.
                for record in waiting:
                    yield LogCase(record)
                    if record.instance_key == chunk.instance_key:
                        labelled = labels.of(record.definition_key)
                        case = _CaseEvents(record, labelled, activities_only)
                        break
            if case is not None and case.instance_key == chunk.instance_key:
                yield from case.events(chunk.position, chunk.at, chunk.events)
        if len(chunks) < HISTORY_PAGE:
            break
        last = chunks[-1]
        after = (last.instance_key, last.position + len(last.events) - 1)
    for record in waiting:
        yield LogCase(record)


class _Labels:
    """The activity label and kind of each element of each process version, by definition
    key (a model is read once per version, and only when names are asked for)."""

    def __init__(self, activity: ActivityLabel) -> None:
        self._by_name = activity == "name"
        self._labels: dict[int, dict[str, tuple[str, str]]] = {}

    def read_new(self, tx: Transaction, definition_keys: set[int]) -> list[DefinitionRecord]:
        """The stored versions among ``definition_keys`` not labelled yet."""
        new = sorted(key for key in definition_keys if key not in self._labels)
        if not self._by_name:
            for key in new:
                self._labels[key] = {}  # ids label themselves: no model to read
            return []
        return [record for key in new if (record := tx.get_definition(key)) is not None]

    def learn(self, versions: list[DefinitionRecord]) -> None:
        """Label the elements of these versions from their models."""
        for record in versions:
            labels: dict[str, tuple[str, str]] = {}
            try:
                model = read_bpmn(record.source.encode("utf-8")).process(record.process_id)
            except (LegatoError, KeyError):
                model = None  # deployed once, so readable; ids are the fallback regardless
            if model is not None:
                for element_id, element in model.elements.items():
                    labels[element_id] = (element.name or element_id, str(element.kind))
            self._labels[record.definition_key] = labels

    def of(self, definition_key: int) -> dict[str, tuple[str, str]]:
        return self._labels.get(definition_key, {})


class _CaseEvents:
    """Turns one instance's history, in order, into its log events.

    It remembers only what is open: the element instances started and not yet ended, and
    the user tasks not yet completed.
    """

    __slots__ = (
        "_labels",
        "_open",
        "_resources",
        "_skipped",
        "_tasks",
        "activities_only",
        "instance_key",
    )

    def __init__(
        self,
        instance: InstanceRecord,
        labels: dict[str, tuple[str, str]],
        activities_only: bool,
    ) -> None:
        self.instance_key = instance.instance_key
        self.activities_only = activities_only
        self._labels = labels
        self._open: dict[int, tuple[str, str, str]] = {}
        """Element instance key -> (element id, activity label, element kind)."""
        self._skipped: set[int] = set()
        """Element instances not in the log: multi-instance bodies, non-activities."""
        self._tasks: dict[int, int] = {}
        """User task key -> its element instance key."""
        self._resources: dict[int, str] = {}
        """Element instance key -> who completed its user task."""

    def events(self, first: int, at: datetime, events: list[list[Any]]) -> Iterator[LogEvent]:
        """The log events of a history chunk (events from position ``first``, all at
        ``at``)."""
        for offset, (event_type, element_id, payload) in enumerate(events):
            if event_type == "ElementActivated":
                started = self._started(payload)
                if started is not None:
                    yield self._event(started, "start", at, first + offset, payload["key"], None)
            elif event_type in _ENDINGS:
                key = payload["key"]
                if key in self._skipped:
                    self._skipped.discard(key)
                    continue
                ended = self._open.pop(key, None) or self._unopened(element_id or "")
                resource = self._resources.pop(key, None)
                transition = _ENDINGS[event_type]
                yield self._event(ended, transition, at, first + offset, key, resource)
            elif event_type == "UserTaskCreated":
                self._tasks[payload["user_task_key"]] = payload["element_instance_key"]
            elif event_type == "UserTaskCompleted":
                element_instance = self._tasks.pop(payload["user_task_key"], None)
                if element_instance is not None and payload.get("completed_by") is not None:
                    self._resources[element_instance] = payload["completed_by"]

    def _started(self, payload: dict[str, Any]) -> tuple[str, str, str] | None:
        key, element_id, kind = payload["key"], payload["element_id"], payload["element_kind"]
        if payload.get("is_mi_body") or (self.activities_only and kind not in ACTIVITY_KINDS):
            self._skipped.add(key)
            return None
        label = self._labels.get(element_id, (element_id, kind))[0]
        opened = self._open[key] = (element_id, label, kind)
        return opened

    def _unopened(self, element_id: str) -> tuple[str, str, str]:
        """An element instance whose start is not in the history read (kept for safety: the
        history of a selected instance is read whole)."""
        label, kind = self._labels.get(element_id, (element_id, ""))
        return element_id, label, kind

    def _event(
        self,
        element: tuple[str, str, str],
        transition: str,
        at: datetime,
        position: int,
        element_instance_key: int,
        resource: str | None,
    ) -> LogEvent:
        element_id, label, kind = element
        return LogEvent(
            self.instance_key,
            label,
            transition,
            at,
            resource,
            element_id,
            kind,
            element_instance_key,
            position,
        )


_ENDINGS = {"ElementCompleted": "complete", "ElementTerminated": "ate_abort"}
"""The events that end an element instance, and their lifecycle transitions."""
