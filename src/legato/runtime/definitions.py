"""Deployed process versions, parsed once and cached by definition key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from legato import dmn
from legato.bpmn import load_for_deployment
from legato.dmn import DecisionModel
from legato.engine.context import DeployedDecision, DeployedProcess
from legato.errors import BpmnValidationError, SourceLocation, ValidationIssue
from legato.model import Definitions, ProcessDefinition
from legato.model.sensitive import SensitivePath
from legato.store.definitions import Definitions as StoredDefinitions
from legato.store.ports import Store, Transaction
from legato.store.records import DefinitionRecord

DECISION_PREFIX = "dmn:"
"""Decisions are stored as definitions under this prefix, versioned like processes."""


@dataclass(frozen=True, slots=True)
class DeployedForm:
    """One deployed version of a Camunda form."""

    form_key: int
    form_id: str
    version: int
    resource_name: str


@dataclass(frozen=True, slots=True)
class Deployment:
    """What one deploy call did."""

    resource_name: str
    processes: tuple[DeployedProcess, ...]
    """The deployed processes (new versions, or the existing ones for unchanged content)."""
    decisions: tuple[DeployedDecision, ...] = ()
    """The deployed DMN decisions (for a DMN file)."""
    warnings: tuple[ValidationIssue, ...] = ()
    """Broken rules the engine's validation profile accepts (``severity="warning"``): in the
    compatible profile, e.g. a timer without ``xsi:type='tFormalExpression'`` (EXT012)."""
    forms: tuple[DeployedForm, ...] = ()
    """The deployed Camunda forms (for a ``.form`` file or a directory holding some)."""


class DefinitionRegistry:
    """Implements the engine's definition lookup over the store, with a parse cache."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_key: dict[int, DeployedProcess] = {}
        self._latest: dict[str, int] = {}
        self._decisions: dict[int, DeployedDecision] = {}
        self._latest_decision: dict[str, int] = {}
        self._transaction: Transaction | None = None
        self._sensitive: dict[str, tuple[SensitivePath, ...]] = {}
        self._known_sensitive: dict[str, frozenset[SensitivePath]] = {}

    def use(self, transaction: Transaction | None) -> None:
        """Read through ``transaction`` while it is open (transactions do not nest)."""
        self._transaction = transaction

    def _read(
        self, read: Callable[[Transaction], DefinitionRecord | None]
    ) -> DefinitionRecord | None:
        if self._transaction is not None:
            return read(self._transaction)
        with self._store.transaction() as tx:
            return read(tx)

    def get(self, definition_key: int) -> DeployedProcess:
        """A version by key (parsed from the stored XML on first use)."""
        deployed = self._by_key.get(definition_key)
        if deployed is None:
            record = self._read(lambda tx: tx.get_definition(definition_key))
            if record is None:
                raise KeyError(definition_key)
            deployed = self._remember(record)
        return deployed

    def get_in(self, tx: StoredDefinitions, definition_key: int) -> DeployedProcess | None:
        """A version by key, read through ``tx`` when it is not known yet (for readers on
        other threads than the executor's, which shares its transaction here); None when
        there is no such version."""
        deployed = self._by_key.get(definition_key)
        if deployed is None:
            record = tx.get_definition(definition_key)
            if record is None:
                return None
            deployed = self._remember(record)
        return deployed

    def latest(self, process_id: str) -> DeployedProcess | None:
        """The newest version of a process."""
        key = self._latest.get(process_id)
        if key is not None:
            return self._by_key[key]
        record = self._read(lambda tx: tx.find_definition(process_id))
        return self._remember(record) if record is not None else None

    def _note_sensitive(self, deployed: DeployedProcess) -> None:
        if deployed.process.sensitive:
            known = self._known_sensitive.get(deployed.process_id, frozenset())
            self._known_sensitive[deployed.process_id] = known | frozenset(
                deployed.process.sensitive
            )

    def known_sensitive_paths(self, process_id: str) -> frozenset[SensitivePath]:
        """The sensitive paths that the versions of a process this registry has read declare
        (every version that has an instance was read before its instance is saved). Never
        reads the store: the store's own writes ask it."""
        return self._known_sensitive.get(process_id, frozenset())

    def forget_latest(self) -> None:
        """Drop the cache of latest versions (another node may have deployed)."""
        self._latest.clear()
        self._latest_decision.clear()

    def decision(self, decision_id: str) -> DeployedDecision | None:
        """The newest version of a deployed DMN decision, by id."""
        key = self._latest_decision.get(decision_id)
        if key is not None:
            return self._decisions[key]
        record = self._read(lambda tx: tx.find_definition(DECISION_PREFIX + decision_id))
        return self._remember_decision(record) if record is not None else None

    def latest_form_key(
        self, form_id: str, version_tag: str | None = None, version: int | None = None
    ) -> int | None:
        """The key of the newest deployed version of a Camunda form (read through the
        transaction in use: forms are few and read once per user task created)."""
        if self._transaction is not None:
            found = self._transaction.find_form(form_id, version_tag=version_tag, version=version)
        else:
            with self._store.transaction() as tx:
                found = tx.find_form(form_id, version_tag=version_tag, version=version)
        return found.form_key if found is not None else None

    def _remember_decision(self, record: DefinitionRecord) -> DeployedDecision:
        decision_id = record.process_id.removeprefix(DECISION_PREFIX)
        deployed = DeployedDecision(
            record.definition_key, decision_id, record.version, dmn.load(record.source.encode())
        )
        self._decisions[record.definition_key] = deployed
        current = self._latest_decision.get(decision_id)
        if current is None or self._decisions[current].version <= record.version:
            self._latest_decision[decision_id] = record.definition_key
        return deployed

    def deploy_decisions(
        self,
        tx: StoredDefinitions,
        model: DecisionModel,
        source: str,
        resource_name: str,
        new_key: Callable[[], int],
        now: datetime,
    ) -> list[DeployedDecision]:
        """Store each decision of a DMN model as a new version unless the file is unchanged.

        Decisions are kept beside the processes, under the id ``dmn:<decision id>``, and
        versioned the same way.
        """
        checksum = hashlib.sha256(source.encode("utf-8")).hexdigest()
        deployed: list[DeployedDecision] = []
        for decision in model.decisions:
            key = DECISION_PREFIX + decision.element_id
            latest = tx.find_definition(key)
            if latest is not None and latest.checksum == checksum:
                deployed.append(self._remember_decision(latest))
                continue
            record = DefinitionRecord(
                definition_key=new_key(),
                process_id=key,
                version=(latest.version + 1) if latest else 1,
                resource_name=resource_name,
                source=source,
                checksum=checksum,
                deployed_at=now,
                name=decision.name,
            )
            tx.insert_definition(record)
            deployed.append(
                DeployedDecision(record.definition_key, decision.element_id, record.version, model)
            )
        return deployed

    def remember_decisions(self, decisions: list[DeployedDecision]) -> None:
        """After the deploy transaction committed: make the new decision versions visible."""
        for version in decisions:
            self._decisions[version.definition_key] = version
            current = self._latest_decision.get(version.decision_id)
            if current is None or self._decisions[current].version <= version.version:
                self._latest_decision[version.decision_id] = version.definition_key

    def _remember(self, record: DefinitionRecord) -> DeployedProcess:
        # Stored models were checked when they were deployed, in whatever profile: reading
        # them back must not refuse what was accepted then.
        definitions = load_for_deployment(record.source.encode("utf-8"), "compatible")
        for process in definitions.processes:
            if process.process_id == record.process_id:
                deployed = DeployedProcess(
                    record.definition_key, record.process_id, record.version, process
                )
                self._by_key[record.definition_key] = deployed
                self._sensitive.pop(record.process_id, None)
                self._note_sensitive(deployed)
                current = self._latest.get(record.process_id)
                if current is None or self._by_key[current].version < record.version:
                    self._latest[record.process_id] = record.definition_key
                return deployed
        raise KeyError(record.process_id)

    def deploy(
        self,
        tx: StoredDefinitions,
        definitions: Definitions,
        source: str,
        resource_name: str,
        new_key: Callable[[], int],
        now: datetime,
        warnings: tuple[ValidationIssue, ...] = (),
    ) -> Deployment:
        """Store each executable process as a new version unless its content is unchanged."""
        checksum = hashlib.sha256(source.encode("utf-8")).hexdigest()
        deployed: list[DeployedProcess] = []
        for process in definitions.executable_processes:
            latest = tx.find_definition(process.process_id)
            if latest is not None and latest.checksum == checksum:
                deployed.append(self._remember(latest))
                continue
            _check_tag_free(tx, process, resource_name)
            record = DefinitionRecord(
                definition_key=new_key(),
                process_id=process.process_id,
                version=(latest.version + 1) if latest else 1,
                resource_name=resource_name,
                source=source,
                checksum=checksum,
                deployed_at=now,
                name=process.name,
                version_tag=process.version_tag,
            )
            tx.insert_definition(record)
            version = DeployedProcess(
                record.definition_key, process.process_id, record.version, process
            )
            deployed.append(version)
        return Deployment(resource_name, tuple(deployed), warnings=warnings)

    def latest_in(self, tx: StoredDefinitions, process_id: str) -> DeployedProcess | None:
        """The newest version of a process as the store has it now (read through ``tx``: it
        may be newer than this registry's latest when another node deployed)."""
        record = tx.find_definition(process_id)
        if record is None:
            return None
        return self._by_key.get(record.definition_key) or self._remember(record)

    def sensitive_paths(self, process_id: str) -> tuple[SensitivePath, ...]:
        """The sensitive paths that any deployed version of a process declares (an instance
        migrated between versions keeps its protection). Cached per process; a version this
        registry has not seen yet drops the cache of its process."""
        cached = self._sensitive.get(process_id)
        if cached is not None:
            return cached
        if self._transaction is not None:
            versions = self._transaction.version_summaries(process_id)
        else:
            with self._store.transaction() as tx:
                versions = tx.version_summaries(process_id)
        found: dict[SensitivePath, None] = {}
        for version in versions:
            found.update(dict.fromkeys(self.get(version.definition_key).process.sensitive))
        paths = self._sensitive[process_id] = tuple(found)
        return paths

    def remember(self, deployment: Deployment) -> None:
        """After the deploy transaction committed: make the new versions visible."""
        for version in deployment.processes:
            self._sensitive.pop(version.process_id, None)
            self._by_key[version.definition_key] = version
            self._note_sensitive(version)
            current = self._latest.get(version.process_id)
            if current is None or self._by_key[current].version <= version.version:
                self._latest[version.process_id] = version.definition_key


def _check_tag_free(tx: StoredDefinitions, process: ProcessDefinition, resource: str) -> None:
    """Refuse a new version whose version tag another version of the process has."""
    tag = process.version_tag
    if tag is None:
        return
    taken = tx.find_tagged_definition(process.process_id, tag)
    if taken is not None:
        message = (
            f"process '{process.process_id}' already has version tag '{tag}' (version "
            f"{taken.version}); a changed model needs a new tag"
        )
        location = SourceLocation(process.source_file or resource, process.line, process.process_id)
        raise BpmnValidationError([ValidationIssue("version-tag-taken", message, location)])
