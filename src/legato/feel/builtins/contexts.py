"""Context functions."""

from __future__ import annotations

from typing import Any

from legato.feel.builtins.registry import builtin, fail


@builtin("get value", "m: context", "key: string")
def get_value(context: dict[str, Any], key: str) -> Any:
    return context.get(key)


@builtin("get value", "m: context", "keys: list")
def get_value_path(context: dict[str, Any], keys: list[Any]) -> Any:
    value: Any = context
    for key in keys:
        if not isinstance(value, dict) or not isinstance(key, str):
            return None
        value = value.get(key)
    return value


@builtin("get entries", "m: context")
def get_entries(context: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in context.items()]


@builtin("context put", "context: context", "key: string", "value: any")
def context_put(context: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**context, key: value}


@builtin("context put", "context: context", "keys: list", "value: any")
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


@builtin("context merge", "contexts: list")
def context_merge(contexts: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for context in contexts:
        if not isinstance(context, dict):
            raise fail("expects a list of contexts")
        merged.update(context)
    return merged
