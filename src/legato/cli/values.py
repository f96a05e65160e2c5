"""Parsing command-line variables and printing values."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import typer


def parse_vars(pairs: list[str] | None, json_text: str | None = None) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (VALUE read as JSON when it is JSON, else as text) and a JSON object."""
    variables: dict[str, Any] = {}
    if json_text:
        try:
            loaded = json.loads(json_text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--vars is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--vars must be a JSON object")
        variables.update(loaded)
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected NAME=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError:
            value = text
        variables[name.strip()] = value
    return variables


def to_json(value: Any) -> Any:
    """A value as plain JSON for ``--json`` output."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_json(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def show(value: Any) -> str:
    """A short human form of a value."""
    if isinstance(value, str):
        return value
    return json.dumps(to_json(value), ensure_ascii=False)
