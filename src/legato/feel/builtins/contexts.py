"""Context functions."""

from __future__ import annotations

from typing import Any

from legato.feel.builtins.registry import builtin, fail, null_error
from legato.feel.runtime import Run
from legato.feel.semantics import type_name


@builtin("get value", "m: context", "key: string")
def get_value(context: dict[str, Any], key: str) -> Any:
    return context.get(key)


@builtin("get value", "m: context", "keys: list")
def get_value_path(context: dict[str, Any], keys: list[Any]) -> Any:
    # A single key that is not a string arrives here as a one-item list.
    value: Any = context
    for key in keys:
        if not isinstance(key, str):
            raise null_error(f"a context key must be a string, got {type_name(key)}")
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


@builtin("get entries", "m: context", needs_run=True)
def get_entries(run: Run, context: dict[str, Any]) -> list[dict[str, Any]]:
    budget = run.budget or run.open_budget()
    budget.collection(len(context))
    budget.items(2 * len(context))  # a key and a value in each entry
    return [{"key": key, "value": value} for key, value in context.items()]


@builtin("context put", "context: context", "key: string", "value: any", builds=True)
def context_put(context: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**context, key: value}


@builtin("context put", "context: context", "keys: list", "value: any", builds=True)
def context_put_path(context: dict[str, Any], keys: list[Any], value: Any) -> dict[str, Any]:
    if not keys or not all(isinstance(key, str) for key in keys):
        raise fail("keys must be a non-empty list of strings")
    head, rest = keys[0], keys[1:]
    if not rest:
        return {**context, head: value}
    inner = context.get(head)
    if not isinstance(inner, dict):
        raise fail(f"entry {head!r} is not a context")
    return {**context, head: context_put_path(inner, rest, value)}


@builtin("context merge", "contexts: list", needs_run=True)
def context_merge(run: Run, contexts: list[Any]) -> dict[str, Any]:
    if not all(isinstance(context, dict) for context in contexts):
        raise fail("expects a list of contexts")
    (run.budget or run.open_budget()).collection(sum(map(len, contexts)))  # at most
    merged: dict[str, Any] = {}
    for context in contexts:
        merged.update(context)
    return merged
