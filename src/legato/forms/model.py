"""A Camunda form as frozen objects: its id and its input fields, read once at deploy time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from legato import feel
from legato.errors import FormParseError, SourceLocation

MAX_FORM_BYTES = 2 * 1024 * 1024
"""The largest form file read (form-js forms are a few kilobytes)."""
MAX_COMPONENTS = 5_000
"""The most components a form may have, nested ones included."""
MAX_NESTING = 32
"""How deep groups and dynamic lists may nest."""

DISPLAY_TYPES = frozenset(
    {"text", "html", "image", "button", "separator", "spacer", "expression", "iframe", "table"}
)
"""Component types that hold no submitted value."""
CONTAINER_TYPES = frozenset({"group", "dynamiclist"})


@dataclass(frozen=True, slots=True)
class FormField:
    """One component of a form that holds a value, or a group of such components."""

    type: str
    key: str | None
    """Where the value goes, a dotted path relative to the enclosing group's path."""
    label: str | None = None
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    minimum: Any = None
    maximum: Any = None
    pattern: str | None = None
    validation_type: str | None = None
    """``email`` or ``phone``."""
    options: tuple[Any, ...] | None = None
    """The static option values (None: any value, options come from data)."""
    decimal_digits: int | None = None
    increment: Any = None
    serialize_to_string: bool = False
    subtype: str | None = None
    """Of a ``datetime``: ``date``, ``time`` or ``datetime``."""
    disabled: bool = False
    hide: feel.CompiledExpression | None = field(default=None, repr=False)
    """``conditional.hide``: the field is hidden (and not checked) when this is true."""
    path: str | None = None
    """Of a group or dynamic list: where its components' values are kept."""
    components: tuple[FormField, ...] = ()


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed Camunda form."""

    form_id: str
    components: tuple[FormField, ...]
    schema: dict[str, Any] = field(repr=False)
    """The whole JSON document, as deployed."""
    resource_name: str = "<string>"


def parse_form(text: str | bytes, resource_name: str = "<string>") -> Form:
    """Read a form-js form (the JSON of a ``.form`` file).

    Raises:
        FormParseError: the text is not JSON, too large or too deeply nested, is not a JSON
            object, has no string ``id``, or a component is malformed; the message names
            ``resource_name``.
    """
    location = SourceLocation(file=resource_name)
    if len(text) > MAX_FORM_BYTES:
        raise FormParseError(
            f"the form is larger than {MAX_FORM_BYTES} bytes ({len(text)})", location
        )
    try:
        schema = json.loads(text)
    except RecursionError:
        raise FormParseError("the form is nested too deeply", location) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormParseError(f"the form is not valid JSON: {exc}", location) from None
    if not isinstance(schema, dict):
        raise FormParseError("a form must be a JSON object", location)
    form_id = schema.get("id")
    if not isinstance(form_id, str) or not form_id.strip():
        raise FormParseError("the form has no id", location)
    reader = _Reader(location)
    components = reader.components(schema.get("components", []), depth=0)
    return Form(form_id, components, schema, resource_name)


class _Reader:
    def __init__(self, location: SourceLocation) -> None:
        self.location = location
        self.count = 0

    def fail(self, message: str) -> FormParseError:
        return FormParseError(message, self.location)

    def components(self, raw: Any, depth: int) -> tuple[FormField, ...]:
        if not isinstance(raw, list):
            raise self.fail("components must be a list")
        if depth > MAX_NESTING:
            raise self.fail(f"components are nested more than {MAX_NESTING} deep")
        return tuple(f for item in raw if (f := self.component(item, depth)) is not None)

    def component(self, raw: Any, depth: int) -> FormField | None:
        self.count += 1
        if self.count > MAX_COMPONENTS:
            raise self.fail(f"the form has more than {MAX_COMPONENTS} components")
        if not isinstance(raw, dict):
            raise self.fail("a component must be a JSON object")
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise self.fail(f"component {raw.get('id') or raw.get('key')!r} has no type")
        if kind in DISPLAY_TYPES:
            return None
        hide = self._hide(raw)
        if kind in CONTAINER_TYPES:
            path = _text(raw.get("path"))
            return FormField(
                type=kind,
                key=None,
                label=_text(raw.get("label")),
                hide=hide,
                path=path,
                disabled=raw.get("disabled") is True,
                components=self.components(raw.get("components", []), depth + 1),
            )
        key = _text(raw.get("key"))
        if key is None:
            return None  # a component without a key submits nothing
        validate = raw.get("validate") if isinstance(raw.get("validate"), dict) else {}
        assert isinstance(validate, dict)
        return FormField(
            type=kind,
            key=key,
            label=_text(raw.get("label")),
            required=validate.get("required") is True,
            min_length=_integer(validate.get("minLength")),
            max_length=_integer(validate.get("maxLength")),
            minimum=_number(validate.get("min")),
            maximum=_number(validate.get("max")),
            pattern=_text(validate.get("pattern")),
            validation_type=_text(validate.get("validationType")),
            options=_options(raw),
            decimal_digits=_integer(raw.get("decimalDigits")),
            increment=_number(raw.get("increment")),
            serialize_to_string=raw.get("serializeToString") is True,
            subtype=_text(raw.get("subtype")),
            disabled=raw.get("disabled") is True,
            hide=hide,
        )

    def _hide(self, raw: dict[str, Any]) -> feel.CompiledExpression | None:
        conditional = raw.get("conditional")
        if not isinstance(conditional, dict):
            return None
        text = _text(conditional.get("hide"))
        if text is None:
            return None
        try:
            return feel.compile(text.removeprefix("=").strip())
        except feel.FeelError as exc:
            name = raw.get("key") or raw.get("id")
            raise self.fail(f"conditional.hide of {name!r} does not compile: {exc}") from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _number(value: Any) -> Any:
    from decimal import Decimal, InvalidOperation

    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _options(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    if raw.get("valuesKey") or raw.get("valuesExpression"):
        return None
    values = raw.get("values")
    if not isinstance(values, list):
        return None
    return tuple(v.get("value") for v in values if isinstance(v, dict) and "value" in v)
