"""The encoded parts of an instance's JSON snapshot, kept while what they encode is unchanged.

The runtime saves an instance's state after every batch that touched it, and most of the state
did not change since the last save: the variables of scopes that no event wrote to, the element
instances that still wait. :class:`EncodedParts` keeps what :meth:`InstanceState.to_json
<legato.engine.state.InstanceState.to_json>` encoded before; the appliers (the only code that
changes a state) tell it what their event changed, and only that is encoded again. The encoding
is the same either way: a test holds the cached snapshot to the freshly encoded one after each
kind of change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from legato.engine.values import encode


class _Encodable(Protocol):
    key: int

    def to_json(self) -> dict[str, Any]: ...


class EncodedParts:
    """What a state's snapshot encoded before, by part, until an applier changes the part."""

    __slots__ = (
        "_scope_names",
        "_stale",
        "_started",
        "_started_at",
        "elements_encoded",
        "scopes_encoded",
    )

    def __init__(self) -> None:
        self.scopes_encoded: dict[int, dict[str, Any]] = {}
        """Per scope key, its variables encoded, in the scope's order. What happens to a scope
        not in it (none, before the first snapshot) need not be told: the hottest appliers
        look here before they call :meth:`variable_set` or :meth:`scope_removed`."""
        self._stale: dict[int, dict[str, None]] = {}
        """Per scope key, the names set since its variables were encoded (in order)."""
        self._scope_names: dict[int, str] = {}
        self.elements_encoded: dict[int, dict[str, Any]] = {}
        """Per element instance key, its encoding. The hottest appliers drop a changed
        element's entry themselves (``elements_encoded.pop(key, None)``, what
        :meth:`element_changed` does, without a call)."""
        self._started: datetime | None = None
        self._started_at: str | None = None

    def variable_set(self, scope_key: int, name: str) -> None:
        """A variable of a scope was created or changed."""
        if scope_key in self.scopes_encoded:
            stale = self._stale.get(scope_key)
            if stale is None:
                self._stale[scope_key] = {name: None}
            else:
                stale[name] = None

    def scope_removed(self, scope_key: int) -> None:
        """An element instance (a scope) and its variables are gone."""
        self.elements_encoded.pop(scope_key, None)
        if self.scopes_encoded.pop(scope_key, None) is not None:
            self._stale.pop(scope_key, None)
            self._scope_names.pop(scope_key, None)

    def element_changed(self, key: int) -> None:
        """An element instance changed (or is gone)."""
        self.elements_encoded.pop(key, None)

    def clear(self) -> None:
        """Everything changed."""
        self.scopes_encoded.clear()
        self._stale.clear()
        self.elements_encoded.clear()

    def started_at(self, started_at: datetime | None) -> str | None:
        """``started_at`` in ISO format (encoded once: it is set once)."""
        if started_at is None:
            return None
        if started_at is not self._started:
            self._started, self._started_at = started_at, started_at.isoformat()
        return self._started_at

    def variables(self, variables: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The variables of every scope, encoded (those of unchanged scopes as before).

        A scope changed since its last encoding has only the names set since encoded again:
        a name set before keeps its place in the scope (and in its encoding), a new one is
        added at the end of both, in the order the names were set.
        """
        encoded: dict[str, dict[str, Any]] = {}
        scopes, names = self.scopes_encoded, self._scope_names
        for scope_key, scope_variables in variables.items():
            part = scopes.get(scope_key)
            if part is None:
                part = scopes[scope_key] = _encoded_scope(scope_variables)
                names[scope_key] = str(scope_key)
            else:
                stale = self._stale.get(scope_key)
                if stale is not None:
                    part = self._refresh(scope_key, part, stale, scope_variables)
            encoded[names[scope_key]] = part
        return encoded

    def _refresh(
        self,
        scope_key: int,
        part: dict[str, Any],
        stale: dict[str, None],
        scope_variables: dict[str, Any],
    ) -> dict[str, Any]:
        for name in stale:
            part[name] = encode(scope_variables[name])
        if len(part) != len(scope_variables):
            # Not the scope encoded before plus what was set since: encoded whole.
            part = self.scopes_encoded[scope_key] = _encoded_scope(scope_variables)
        del self._stale[scope_key]
        return part

    def elements(self, elements: Iterable[_Encodable]) -> list[dict[str, Any]]:
        """The element instances encoded (the unchanged ones as before)."""
        cached = self.elements_encoded
        encoded: list[dict[str, Any]] = []
        append: Callable[[dict[str, Any]], None] = encoded.append
        for element in elements:
            part = cached.get(element.key)
            if part is None:
                part = cached[element.key] = element.to_json()
            append(part)
        return encoded


def _encoded_scope(scope_variables: dict[str, Any]) -> dict[str, Any]:
    return {name: encode(value) for name, value in scope_variables.items()}
