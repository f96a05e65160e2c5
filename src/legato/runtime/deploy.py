"""Deployment: BPMN processes, DMN decisions and Camunda forms become stored versions.

:class:`Deployer` is the service behind :meth:`legato.Engine.deploy`: it validates a model,
stores each executable process (decision, form) as a new version unless its content is the
latest version's, moves the start events' timers and subscriptions to the new version, and
tells the definition cache and the timer delivery about it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from legato import dmn
from legato.bpmn import Profile, check_for_deployment
from legato.engine.executable import unsupported
from legato.errors import (
    BpmnParseError,
    BpmnValidationError,
    DmnValidationError,
    FormParseError,
    NotFoundError,
    SourceLocation,
)
from legato.forms import MAX_FORM_BYTES, Form, parse_form
from legato.runtime.definitions import (
    DECISION_PREFIX,
    DefinitionRegistry,
    DeployedForm,
    Deployment,
)
from legato.runtime.keys import KeyAllocator
from legato.runtime.starts import remove_start_waits, replace_start_waits
from legato.safexml import ModelSource, parse_xml, read_source
from legato.store.ports import Store
from legato.store.records import DefinitionRecord, FormRecord


class Deployer:
    """Deploys models into a store (see :meth:`legato.Engine.deploy`).

    Args:
        store: where versions are stored.
        definitions: the cache of deployed versions, told about each new one.
        keys: where new keys come from.
        now: the clock.
        validation: the validation profile in force (read at each deployment).
        lock: held while a process is deployed, so that no command runs against half of it.
        timers_changed: called after a process deployment (its start timers may have moved).
    """

    def __init__(
        self,
        store: Store,
        definitions: DefinitionRegistry,
        keys: KeyAllocator,
        now: Callable[[], datetime],
        validation: Callable[[], Profile],
        lock: threading.RLock | threading.Lock,
        timers_changed: Callable[[], None],
    ) -> None:
        self.store = store
        self._definitions = definitions
        self._keys = keys
        self._now = now
        self._validation = validation
        self._lock = lock
        self._timers_changed = timers_changed

    def deploy(self, source: ModelSource) -> Deployment:
        """Deploy a BPMN, DMN or form file, or a directory's files (see
        :meth:`legato.Engine.deploy`)."""
        if is_form_source(source):
            return self._deploy_form(source)
        directory = _directory(source)
        if directory is not None:
            return self._deploy_directory(directory)
        data, file_name = read_source(source, BpmnParseError)
        if _is_dmn(data, file_name):
            return self._deploy_decisions(data, file_name)
        checked = check_for_deployment(Path(file_name) if file_name else data, self._validation())
        definitions = checked.definitions
        issues = [i for p in definitions.executable_processes for i in unsupported(p)]
        if issues:
            raise BpmnValidationError(issues)
        text = data.decode("utf-8")
        resource = Path(file_name).name if file_name else "<string>"
        keys = self._keys
        with self._lock, keys.transaction(self.store) as tx:
            previous = {}
            for process in definitions.executable_processes:
                latest = tx.find_definition(process.process_id)
                previous[process.process_id] = latest.definition_key if latest else None
            deployment = self._definitions.deploy(
                tx, definitions, text, resource, keys.new_key, self._now(), checked.warnings
            )
            for version in deployment.processes:
                before = previous.get(version.process_id)
                if before != version.definition_key:
                    replace_start_waits(tx, before, version, keys.new_key, self._now())
        self._definitions.remember(deployment)
        self._timers_changed()
        return deployment

    def set_suspended(self, process_id: str, version: int, suspended: bool) -> DefinitionRecord:
        """Suspend or resume a process version (see :meth:`legato.Engine.suspend_version`).

        The triggered start events (timers, messages, signals) belong to the latest version:
        suspending it takes them out of their tables, resuming it puts them back (a timer
        start event's schedule starts again from now).

        Raises:
            NotFoundError: no such process version.
        """
        keys = self._keys
        with self._lock, keys.transaction(self.store) as tx:
            record = tx.find_definition(process_id, version)
            if record is None or process_id.startswith(DECISION_PREFIX):
                raise NotFoundError(f"process '{process_id}' has no version {version}")
            if record.suspended == suspended:
                return record
            tx.set_definition_suspended(record.definition_key, suspended)
            latest = tx.find_definition(process_id)
            if latest is not None and latest.definition_key == record.definition_key:
                if suspended:
                    remove_start_waits(tx, record.definition_key)
                else:
                    deployed = self._definitions.get_in(tx, record.definition_key)
                    assert deployed is not None
                    replace_start_waits(tx, None, deployed, keys.new_key, self._now())
        self._timers_changed()
        return replace(record, suspended=suspended)

    def _deploy_directory(self, directory: Path) -> Deployment:
        """A directory's ``.form``, then ``.dmn``, then ``.bpmn`` files, each by name."""
        parts = [
            self.deploy(path)
            for suffix in (".form", ".dmn", ".bpmn")
            for path in sorted(directory.iterdir())
            if path.suffix.lower() == suffix and path.is_file()
        ]
        if not parts:
            raise BpmnParseError(
                "the directory holds no .form, .dmn or .bpmn file", SourceLocation(str(directory))
            )
        return Deployment(
            directory.name,
            tuple(p for part in parts for p in part.processes),
            tuple(d for part in parts for d in part.decisions),
            tuple(w for part in parts for w in part.warnings),
            tuple(f for part in parts for f in part.forms),
        )

    def _deploy_decisions(self, data: bytes, file_name: str | None) -> Deployment:
        model = dmn.load(Path(file_name) if file_name else data)
        if model.definitions.unknown_functions:
            raise DmnValidationError(list(model.definitions.unknown_functions))
        resource = Path(file_name).name if file_name else "<string>"
        with self._lock, self._keys.transaction(self.store) as tx:
            decisions = self._definitions.deploy_decisions(
                tx, model, data.decode("utf-8"), resource, self._keys.new_key, self._now()
            )
        self._definitions.remember_decisions(decisions)
        return Deployment(resource, (), tuple(decisions))

    def _deploy_form(self, source: ModelSource) -> Deployment:
        """Store a Camunda form as a new version of its id, unless it is unchanged."""
        text, resource = _read_form(source)
        form = parse_form(text, resource)
        checksum = _form_checksum(form)
        with self._keys.transaction(self.store) as tx:
            latest = tx.find_form(form.form_id)
            if latest is not None and latest.checksum == checksum:
                record = latest
            else:
                record = FormRecord(
                    form_key=self._keys.new_key(),
                    form_id=form.form_id,
                    version=latest.version + 1 if latest is not None else 1,
                    resource_name=resource,
                    schema=form.schema,
                    deployed_at=self._now(),
                    checksum=checksum,
                    version_tag=_version_tag(form.schema),
                )
                tx.insert_form(record)
        deployed = DeployedForm(record.form_key, record.form_id, record.version, resource)
        return Deployment(resource, (), forms=(deployed,))


def _directory(source: ModelSource) -> Path | None:
    """The directory a deploy source names, if it names one (XML text never does, however
    long)."""
    if isinstance(source, bytes) or (isinstance(source, str) and source.lstrip()[:1] == "<"):
        return None
    path = Path(source)
    try:
        return path if path.is_dir() else None
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return None


def _is_dmn(data: bytes, file_name: str | None) -> bool:
    """Whether a model file is DMN: its root element is in a DMN namespace."""
    root = parse_xml(data, file_name, BpmnParseError)
    tag = root.tag if isinstance(root.tag, str) else ""
    return "/spec/DMN/" in tag.partition("}")[0]


def is_form_source(source: object) -> bool:
    """Whether a deploy source is a Camunda form: a ``.form`` path, or JSON text."""
    if isinstance(source, bytes):
        return source.lstrip()[:1] == b"{"
    if isinstance(source, str) and source.lstrip()[:1] == "{":
        return True
    if isinstance(source, str | os.PathLike):
        return Path(source).suffix.lower() == ".form"
    return False


def _read_form(source: ModelSource) -> tuple[str, str]:
    if isinstance(source, bytes):
        return _decoded(source, "<string>"), "<string>"
    if isinstance(source, str) and source.lstrip()[:1] == "{":
        return source, "<string>"
    path = Path(os.fspath(source))
    location = SourceLocation(file=str(path))
    try:
        size = path.stat().st_size
        if size > MAX_FORM_BYTES:
            message = f"the form is larger than {MAX_FORM_BYTES} bytes ({size})"
            raise FormParseError(message, location)
        return _decoded(path.read_bytes(), str(path)), path.name
    except OSError as exc:
        raise FormParseError(f"cannot read the form file: {exc.strerror}", location) from None


def _decoded(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormParseError(f"the form is not UTF-8: {exc}", SourceLocation(file=name)) from None


def _version_tag(schema: dict[str, Any]) -> str | None:
    tag = schema.get("versionTag")
    return tag if isinstance(tag, str) and tag else None


def _form_checksum(form: Form) -> str:
    canonical = json.dumps(form.schema, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
