"""The variables a scope sees: its own over its parents' over the root's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from legato.engine import events as ev
from legato.engine.appliers import replay

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """The pure core needs no store: these tests run once, not once per store."""


def _element(key: int, element_id: str, parent_key: int) -> ev.Event:
    return ev.ElementActivated(
        at=NOW, key=key, element_id=element_id, element_kind="task", parent_key=parent_key
    )


def _set(scope_key: int, name: str, value: int) -> ev.Event:
    return ev.VariableSet(at=NOW, scope_key=scope_key, name=name, value=value)


def test_each_scope_sees_its_own_variables_over_those_of_the_scopes_around_it() -> None:
    state = replay(
        1,
        [
            ev.InstanceCreated(at=NOW, instance_key=1, definition_key=1, process_id="p", version=1),
            _set(1, "x", 1),
            _set(1, "y", 1),
            _element(2, "task", 1),
            _set(2, "y", 2),
            _element(3, "sub", 1),
            _set(3, "z", 3),
            _element(4, "inner", 3),
            _set(4, "x", 4),
            _element(5, "plain", 1),
        ],
    )

    assert state.visible_variables(1) == {"x": 1, "y": 1}
    assert state.visible_variables(2) == {"x": 1, "y": 2}
    assert state.visible_variables(4) == {"x": 4, "y": 1, "z": 3}
    assert state.visible_variables(5) == {"x": 1, "y": 1}
    seen = state.visible_variables(5)
    seen["x"] = 9  # a copy: the state is not changed through it
    assert state.variables[1]["x"] == 1 and state.visible_variables(5) == {"x": 1, "y": 1}
