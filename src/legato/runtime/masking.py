"""The read side's masking: what the engine's queries return, as a viewer may see it.

Every read of :mod:`legato.runtime.queries` that carries variables or texts made from them
(an instance's variables, its state's scopes, its history, incident messages and details,
a job's error) goes through :class:`Masking` when a viewer is given, and so do the outputs
built on them (the API, the web app, the command line, the exports). The rules themselves
(what is sensitive, who may see it) are :mod:`legato.security.sensitive`'s.

Variables are masked where a sensitive path or a detector reaches them; texts (an incident's
message, an exception's stack trace, a history event's message) are masked by looking for
the sensitive values of the instance in them, since a handler's error may quote a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from legato.engine.state import InstanceState
from legato.engine.values import decode
from legato.runtime.types import HistoryEntry, InstanceInfo
from legato.security.sensitive import (
    MASK,
    SensitiveData,
    Viewer,
    mask_text,
    mask_variables,
    sensitive_texts,
    view_variables,
)
from legato.store.records import IncidentRecord, JobRecord

__all__ = ["Masking"]


class Masking:
    """Masks the engine's read results for a :class:`~legato.security.sensitive.Viewer`."""

    def __init__(self, selector: SensitiveData) -> None:
        self.selector = selector

    def variables(
        self,
        viewer: Viewer,
        process_id: str,
        variables: Mapping[str, Any],
        instance_key: int | None = None,
    ) -> dict[str, Any]:
        """Variables (of one scope) as ``viewer`` may see them."""
        shown = view_variables(self.selector, viewer, process_id, variables, instance_key)
        return shown if isinstance(shown, dict) else dict(shown)

    def instance(self, viewer: Viewer, info: InstanceInfo) -> InstanceInfo:
        """An instance with its root variables as ``viewer`` may see them."""
        shown = self.variables(viewer, info.process_id, info.variables, info.key)
        return info if shown is info.variables else replace(info, variables=shown)

    def state(self, viewer: Viewer, state: InstanceState) -> InstanceState:
        """A state whose every scope's variables are as ``viewer`` may see them (a copy:
        the stored state is never changed)."""
        scopes = {
            scope: self.variables(viewer, state.process_id, values, state.instance_key)
            for scope, values in state.variables.items()
        }
        if all(scopes[scope] is values for scope, values in state.variables.items()):
            return state
        copy = InstanceState.from_json(state.to_json())
        copy.variables = scopes
        return copy

    def texts(
        self, viewer: Viewer, process_id: str, variable_sets: Iterable[Mapping[str, Any]]
    ) -> list[str]:
        """The sensitive values found in ``variable_sets`` as they would appear in a text;
        empty for a viewer who may see them."""
        if viewer.reveals(process_id):
            return []
        found: list[str] = []
        for values in variable_sets:
            found += sensitive_texts(self.selector, process_id, values)
        return found

    def history(
        self,
        viewer: Viewer,
        process_id: str,
        entries: list[HistoryEntry],
        known: Iterable[Mapping[str, Any]] = (),
        instance_key: int | None = None,
    ) -> list[HistoryEntry]:
        """An instance's history as ``viewer`` may see it: the variables an event carries
        masked, and every text of an event cleared of the instance's sensitive values (those
        of ``known`` variable sets and of the events themselves)."""
        sets = list(known)
        for entry in entries:
            sets += _variable_sets(entry.details)
        if viewer.reveals(process_id):
            for values in sets:  # notes what is revealed
                view_variables(self.selector, viewer, process_id, values, instance_key)
            return entries
        texts = self.texts(viewer, process_id, sets)
        shown: list[HistoryEntry] = []
        for entry in entries:
            details = self._details(process_id, entry.details, texts)
            shown.append(entry if details is entry.details else replace(entry, details=details))
        return shown

    def archived(
        self, process_id: str, state: Mapping[str, Any], payloads: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An ended instance's stored state and history payloads with every sensitive value
        masked, for an archive that leaves the database (see
        :mod:`legato.runtime.retention`)."""
        scopes = state.get("variables", {})
        masked_scopes = {
            scope: dict(mask_variables(self.selector, process_id, values))
            for scope, values in scopes.items()
        }
        sets: list[Mapping[str, Any]] = [
            {k: decode(v) for k, v in values.items()} for values in scopes.values()
        ]
        for payload in payloads:
            sets += _variable_sets(payload)
        texts = self.texts(Viewer(), process_id, sets)
        shown_state = _strip_texts({**state, "variables": masked_scopes}, texts)
        return shown_state, [self._details(process_id, p, texts) for p in payloads]

    def _details(
        self, process_id: str, details: dict[str, Any], texts: list[str]
    ) -> dict[str, Any]:
        out = dict(details)
        if isinstance(out.get("name"), str) and "value" in out:
            out["value"] = mask_variables(self.selector, process_id, {out["name"]: out["value"]})[
                out["name"]
            ]
        if isinstance(out.get("variables"), Mapping):
            out["variables"] = dict(mask_variables(self.selector, process_id, out["variables"]))
        changes = out.get("changes")
        if isinstance(changes, Mapping):
            out["changes"] = {
                name: _masked_change(self.selector, process_id, name, change)
                for name, change in changes.items()
            }
        out = _strip_texts(out, texts)
        return details if out == details else out

    def incident(self, record: IncidentRecord, texts: list[str]) -> IncidentRecord:
        """An incident whose message and details hold none of ``texts``."""
        if not texts:
            return record
        return replace(
            record,
            message=mask_text(record.message, texts),
            details=None if record.details is None else mask_text(record.details, texts),
        )

    def job(self, record: JobRecord, texts: list[str]) -> JobRecord:
        """A job whose error message and details hold none of ``texts``."""
        if not texts:
            return record
        return replace(
            record,
            error_message=_masked_or_none(record.error_message, texts),
            error_details=_masked_or_none(record.error_details, texts),
        )


def _masked_or_none(text: str | None, texts: list[str]) -> str | None:
    return None if text is None else mask_text(text, texts)


def _variable_sets(details: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The variables an event's details carry, decoded, as sets of named values."""
    sets: list[Mapping[str, Any]] = []
    if isinstance(details.get("name"), str) and "value" in details:
        sets.append({details["name"]: decode(details["value"])})
    variables = details.get("variables")
    if isinstance(variables, Mapping):
        sets.append({k: decode(v) for k, v in variables.items()})
    changes = details.get("changes")
    if isinstance(changes, Mapping):
        for name, change in changes.items():
            if isinstance(change, Mapping):
                sets += [{name: decode(change.get(side))} for side in ("old", "new")]
    return sets


def _masked_change(selector: SensitiveData, process_id: str, name: str, change: Any) -> Any:
    if not isinstance(change, Mapping):
        return change
    return {
        side: mask_variables(selector, process_id, {name: value})[name]
        for side, value in change.items()
    }


def _strip_texts(value: Any, texts: list[str]) -> Any:
    """``value`` with every string cleared of ``texts`` (at any depth)."""
    if not texts:
        return value
    if isinstance(value, str):
        return value if value == MASK else mask_text(value, texts)
    if isinstance(value, Mapping):
        return {k: _strip_texts(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_texts(v, texts) for v in value]
    return value
