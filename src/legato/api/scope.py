"""The engine as a principal limited to some processes sees it: one place for every surface.

A user or API key may be limited to some processes (:attr:`Principal.processes`, ids or
prefixes ending ``*``), the way a Camunda 7 authorization on process definitions limits a
team to its own processes. :func:`engine_for` gives every route (native, Camunda 7, v2 and
the web app, through :func:`legato.api.deps.engine_of`) a :class:`ScopedEngine` instead of
the engine for such a principal; unlimited principals get the engine itself, at no cost.

What the view does, for every method of the engine and of a transaction of its store:

* a call whose first argument names one thing (``instance_key``, ``job_key``,
  ``user_task_key``, ``incident_key``, ``alert_key``, ``process_id``) is refused with
  :class:`~legato.errors.NotFoundError` when the thing belongs to another process: a key of
  another team's instance answers 404 exactly as an unknown key does, so its existence does
  not leak;
* a result is filtered: a record of another process (its ``process_id``, else the process
  of its ``instance_key``) leaves a list; a single one is not found (None from a
  transaction's ``get_…``);
* job fetching is narrowed to the deployed processes the principal may see before anything
  is locked; a deployment of a process outside the limit is refused (403); batch operations
  must name instances (each checked) or a process within the limit;
* methods that act beyond processes (webhooks, engine lifecycle) are refused (403).

A page stays a page: a search keeps its cursor, so the next page goes on after the last
record looked at, and the count of matches is left out (it would count hidden ones).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, cast

from legato.api.problems import Forbidden
from legato.bpmn.reader import read_definitions
from legato.errors import BpmnParseError, NotFoundError
from legato.runtime.deploy import is_form_source
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceFilter, JobRequest
from legato.safexml import ModelSource, parse_xml, read_source
from legato.security import Principal

_REFUSED = frozenset(
    {
        "add_webhook",
        "remove_webhook",
        "webhooks",
        "webhook_deliveries",
        "activate_jobs",
        "register",
        "register_module",
        "task",
        "serve",
        "stop",
        "close",
        "rebuild_derived",
        "run_until_idle",
        "run_once",
    }
)
"""Engine methods a principal limited to some processes may not call (they reach beyond
processes, or run the engine itself)."""

_SUBJECTS = ("instance_key", "job_key", "user_task_key", "incident_key", "alert_key", "process_id")
"""First parameters that name the one thing a call is about."""


def engine_for(engine: Engine, principal: Principal | None) -> Engine:
    """``engine`` as ``principal`` may see it: itself when the principal is not limited to
    some processes (or unknown: before authentication), else a :class:`ScopedEngine`."""
    if principal is None or principal.processes is None:
        return engine
    # The view answers every method of the engine the way the engine does (or refuses).
    return cast(Engine, ScopedEngine(engine, principal))


class _Scope:
    """What a limited principal may see: process ids, and instances looked up once each."""

    def __init__(self, principal: Principal, instance_process: Callable[[int], str | None]):
        self.principal = principal
        self._instance_process = instance_process
        self._seen: dict[int, str | None] = {}

    def sees(self, process_id: str | None) -> bool:
        return process_id is not None and self.principal.sees_process(process_id)

    def sees_instance(self, instance_key: int) -> bool:
        if instance_key not in self._seen:
            self._seen[instance_key] = self._instance_process(instance_key)
        return self.sees(self._seen[instance_key])

    def allows(self, record: object) -> bool:
        """Whether a record (of any kind) is within the limit; records that belong to no
        process (nodes, decisions, forms) are."""
        process_id = getattr(record, "process_id", None)
        if isinstance(process_id, str) and process_id:
            return self.sees(process_id)
        instance_key = getattr(record, "instance_key", None)
        if isinstance(instance_key, int) and not isinstance(instance_key, bool):
            return self.sees_instance(instance_key)
        return True

    def filtered(self, value: Any, hidden: Callable[[], Any]) -> Any:
        """``value`` without what the principal may not see; ``hidden()`` stands for a single
        record that it may not see."""
        if isinstance(value, list):
            return [v for v in value if self.allows(v)]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(v for v in value if self.allows(v))
        if not self.allows(value):
            return hidden()
        if is_dataclass(value) and not isinstance(value, type) and _is_page(value):
            changes: dict[str, Any] = {}
            for f in fields(value):
                item = getattr(value, f.name)
                if isinstance(item, list):
                    changes[f.name] = [v for v in item if self.allows(v)]
                elif f.name == "count":
                    changes[f.name] = None  # would count what is hidden
            return replace(value, **changes)
        return value


def _is_page(value: object) -> bool:
    return any(f.name == "next_cursor" for f in fields(value))  # type: ignore[arg-type]


def _not_found(what: str) -> Callable[[], Any]:
    def hidden() -> Any:
        raise NotFoundError(what)

    return hidden


class ScopedEngine:
    """An :class:`~legato.runtime.engine.Engine` seen by a principal limited to some
    processes (see the module docstring)."""

    def __init__(self, engine: Engine, principal: Principal) -> None:
        self._engine = engine
        self._principal = principal
        self._scope = _Scope(principal, self._instance_process)

    @property
    def store(self) -> Any:
        """The engine's store, whose transactions filter what they read."""
        return _ScopedStore(self._engine.store, self._principal)

    def _instance_process(self, instance_key: int) -> str | None:
        try:
            return self._engine.instance(instance_key).process_id
        except NotFoundError:
            return None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._engine, name)
        if not callable(attribute):
            return attribute
        if name in _REFUSED:
            raise Forbidden(
                f"'{self._principal.name}' is limited to some processes and may not use {name}"
            )
        special = _SPECIAL.get(name)
        if special is not None:
            return special(self, attribute)
        if inspect.iscoroutinefunction(attribute):
            return self._async_call(name, attribute)
        return self._call(name, attribute)

    def _call(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._check_subject(method, args, kwargs)
            return self._scope.filtered(method(*args, **kwargs), _not_found(f"no such {name}"))

        return call

    def _async_call(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self._check_subject(method, args, kwargs)
            result = await method(*args, **kwargs)
            return self._scope.filtered(result, _not_found(f"no such {name}"))

        return call

    def _check_subject(self, method: Callable[..., Any], args: Any, kwargs: Any) -> None:
        """Refuse (not found) a call about one thing of another process."""
        parameters = list(inspect.signature(method).parameters)
        if not parameters or parameters[0] not in _SUBJECTS:
            return
        subject = parameters[0]
        value = args[0] if args else kwargs.get(subject)
        if value is None:
            return
        if not self._sees(subject, value):
            raise NotFoundError(f"no {subject.removesuffix('_key').replace('_', ' ')} {value}")

    def _sees(self, subject: str, value: Any) -> bool:
        engine, scope = self._engine, self._scope
        if subject == "process_id":
            return scope.sees(value)
        if subject == "instance_key":
            return scope.sees_instance(value)
        lookups: dict[str, Callable[[Any], Any]] = {
            "job_key": engine.job,
            "user_task_key": engine.user_task,
            "alert_key": engine.alert,
            "incident_key": self._incident,
        }
        try:
            return scope.allows(lookups[subject](value))
        except NotFoundError:
            return True  # let the engine answer "not found" itself

    def _incident(self, incident_key: int) -> object:
        with self._engine.store.transaction() as tx:
            record = tx.get_incident(incident_key)
        if record is None:
            raise NotFoundError(f"no incident {incident_key}")
        return record

    # -- the calls that need more than the rules above ----------------------------------
    def visible_process_ids(self) -> list[str]:
        """The ids of the deployed processes the principal may see."""
        ids = {p.process_id for p in self._engine.process_definitions()}
        return sorted(i for i in ids if self._scope.sees(i))

    def narrowed(self, requests: Sequence[JobRequest]) -> list[JobRequest]:
        """Job requests narrowed to the processes the principal may see (none left: none)."""
        visible = self.visible_process_ids()
        narrowed = []
        for request in requests:
            asked = visible if not request.process_ids else request.process_ids
            allowed = [p for p in asked if p in visible]
            if allowed:
                narrowed.append(replace(request, process_ids=allowed))
        return narrowed

    def check_deployable(self, source: ModelSource) -> None:
        """Refuse (403) a deployment holding a process outside the principal's limit."""
        for process_id in _deployed_process_ids(source):
            if not self._scope.sees(process_id):
                raise Forbidden(
                    f"'{self._principal.name}' may not deploy the process {process_id!r}: "
                    "it is outside the processes it is limited to"
                )

    def check_instances(self, keys: Iterable[int] | None, filter: InstanceFilter | None) -> None:
        """Refuse a batch over instances unless each is within the limit (not found
        otherwise) or the filter names a process within it."""
        for key in keys or ():
            if not self._scope.sees_instance(key):
                raise NotFoundError(f"no instance {key}")
        if keys is None and (filter is None or not self._scope.sees(filter.process_id)):
            raise Forbidden(
                f"'{self._principal.name}' is limited to some processes: "
                "name the instances, or filter by a process it may act on"
            )


def _fetch(view: ScopedEngine, method: Callable[..., Any]) -> Callable[..., Any]:
    async def fetch(requests: Sequence[JobRequest], **kwargs: Any) -> Any:
        narrowed = view.narrowed(requests)
        return [] if not narrowed else await method(narrowed, **kwargs)

    def fetch_now(requests: Sequence[JobRequest], **kwargs: Any) -> Any:
        narrowed = view.narrowed(requests)
        return [] if not narrowed else method(narrowed, **kwargs)

    return fetch if inspect.iscoroutinefunction(method) else fetch_now


def _deploy(view: ScopedEngine, method: Callable[..., Any]) -> Callable[..., Any]:
    def deploy(source: ModelSource) -> Any:
        view.check_deployable(source)
        return method(source)

    return deploy


def _batch(view: ScopedEngine, method: Callable[..., Any]) -> Callable[..., Any]:
    def batch(kind: str, *, keys: Any = None, filter: Any = None, **kwargs: Any) -> Any:
        view.check_instances(keys, filter)
        return method(kind, keys=keys, filter=filter, **kwargs)

    return batch


def _migration(view: ScopedEngine, method: Callable[..., Any]) -> Callable[..., Any]:
    def migrate(plan: Any, instance_keys: Any = None, **kwargs: Any) -> Any:
        filter = kwargs.get("filter")
        view.check_instances(instance_keys, filter)
        for process_id in (plan.source_process_id, plan.target_process_id):
            if not view._scope.sees(process_id):
                raise NotFoundError(f"no process {process_id!r}")
        return method(plan, instance_keys, **kwargs)

    return migrate


_SPECIAL: dict[str, Callable[[ScopedEngine, Callable[..., Any]], Callable[..., Any]]] = {
    "fetch_jobs": _fetch,
    "fetch_jobs_async": _fetch,
    "deploy": _deploy,
    "batch": _batch,
    "migrate": _migration,
    "migrate_in_batch": _migration,
    "check_migration": _migration,
}


def _deployed_process_ids(source: ModelSource) -> list[str]:
    """The ids of the processes a deployment source holds (none for forms and DMN)."""
    if is_form_source(source):
        return []
    if not isinstance(source, bytes) and not (isinstance(source, str) and "<" in source[:1024]):
        path = Path(source)
        if path.is_dir():
            return [i for f in sorted(path.glob("*.bpmn")) for i in _deployed_process_ids(f)]
    data, file_name = read_source(source, BpmnParseError)
    root = parse_xml(data, file_name, BpmnParseError)
    tag = root.tag if isinstance(root.tag, str) else ""
    if "/spec/DMN/" in tag.partition("}")[0]:
        return []
    definitions = read_definitions(root, file_name)
    return [p.process_id for p in definitions.processes]


class _ScopedStore:
    """A store whose transactions filter what they read (see :class:`ScopedEngine`)."""

    def __init__(self, store: Any, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def transaction(self) -> Any:
        return _ScopedTransactionContext(self._store.transaction(), self._principal)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class _ScopedTransactionContext:
    def __init__(self, context: Any, principal: Principal) -> None:
        self._context = context
        self._principal = principal

    def __enter__(self) -> Any:
        return _ScopedTransaction(self._context.__enter__(), self._principal)

    def __exit__(self, *exc: Any) -> Any:
        return self._context.__exit__(*exc)


class _ScopedTransaction:
    """A transaction whose reads leave out the records of processes the principal may not
    see (a single one reads as None: not found); a read about one process (its first
    parameter ``process_id``: analytics, versions) of another is not found."""

    def __init__(self, tx: Any, principal: Principal) -> None:
        self._tx = tx
        self._scope = _Scope(principal, self._instance_process)

    def _instance_process(self, instance_key: int) -> str | None:
        record = self._tx.get_instance(instance_key)
        return None if record is None else cast(str, record.process_id)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._tx, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            parameters = list(inspect.signature(attribute).parameters)
            if parameters and parameters[0] == "process_id":
                process_id = args[0] if args else kwargs.get("process_id")
                if isinstance(process_id, str) and not self._scope.sees(process_id):
                    raise NotFoundError(f"no process {process_id!r}")
            return self._scope.filtered(attribute(*args, **kwargs), lambda: None)

        return call
