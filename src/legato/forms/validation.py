"""Checking a submission (the variables a user completes a task with) against its form."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from legato import feel
from legato.errors import FieldError
from legato.forms.model import Form, FormField

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE = re.compile(r"(\+|00)[0-9][0-9 ()./-]{5,}")
_MAX_PATTERN_INPUT = 10_000
"""Longer text is not matched against a form's pattern (bounds the regular expression's work)."""
_MISSING = object()


def validate_submission(form: Form, variables: Mapping[str, Any]) -> list[FieldError]:
    """The fields of ``variables`` that ``form`` refuses, one error per field, in form order.

    Variables the form does not name are accepted as they are.
    """
    data = dict(variables)
    return list(_check_all(form.components, data, data, ""))


def _check_all(
    fields: tuple[FormField, ...], scope: Mapping[str, Any], root: Mapping[str, Any], prefix: str
) -> Iterator[FieldError]:
    for field in fields:
        if field.disabled or _hidden(field, scope, root):
            continue
        if field.type == "group":
            yield from _check_group(field, scope, root, prefix)
        elif field.type == "dynamiclist":
            yield from _check_list(field, scope, root, prefix)
        else:
            assert field.key is not None
            message = _problem(field, _lookup(scope, field.key))
            if message is not None:
                yield FieldError(prefix + field.key, message)


def _check_group(
    field: FormField, scope: Mapping[str, Any], root: Mapping[str, Any], prefix: str
) -> Iterator[FieldError]:
    if field.path is None:
        yield from _check_all(field.components, scope, root, prefix)
        return
    inner = _lookup(scope, field.path)
    if inner is _MISSING or inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        yield FieldError(prefix + field.path, "must be an object")
        return
    yield from _check_all(field.components, inner, root, f"{prefix}{field.path}.")


def _check_list(
    field: FormField, scope: Mapping[str, Any], root: Mapping[str, Any], prefix: str
) -> Iterator[FieldError]:
    path = field.path or ""
    items = _lookup(scope, path) if path else _MISSING
    if items is _MISSING or items is None:
        return
    if not isinstance(items, list):
        yield FieldError(prefix + path, "must be a list")
        return
    for index, item in enumerate(items):
        where = f"{prefix}{path}[{index}]"
        if not isinstance(item, Mapping):
            yield FieldError(where, "must be an object")
            continue
        yield from _check_all(field.components, item, root, where + ".")


def _lookup(scope: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key (``a.b``: ``scope["a"]["b"]``)."""
    value: Any = scope
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _hidden(field: FormField, scope: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if field.hide is None:
        return False
    try:
        return field.hide.evaluate({**root, **scope}) is True
    except feel.FeelError:
        return False


def _problem(field: FormField, value: Any) -> str | None:
    """What is wrong with one field's value (None: nothing)."""
    if _is_empty(field, value):
        return "is required" if field.required else None
    check = _TYPE_CHECKS.get(field.type, _check_text if field.type in _TEXT else None)
    return check(field, value) if check is not None else None


def _is_empty(field: FormField, value: Any) -> bool:
    if value is _MISSING or value is None or value == "":
        return True
    if field.type == "checkbox" and value is False:
        return field.required  # an unticked required checkbox is missing, as in form-js
    return isinstance(value, list) and not value


def _check_text(field: FormField, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    if field.min_length is not None and len(value) < field.min_length:
        return f"must have at least {field.min_length} characters"
    if field.max_length is not None and len(value) > field.max_length:
        return f"must have at most {field.max_length} characters"
    if field.pattern is not None and not _full_match(field.pattern, value):
        return f"must match the pattern {field.pattern}"
    if field.validation_type == "email" and not _EMAIL.fullmatch(value):
        return "must be an e-mail address"
    if field.validation_type == "phone" and not _PHONE.fullmatch(value):
        return "must be a phone number in international form (+ or 00 and the country code)"
    return _check_option(field, value)


def _full_match(pattern: str, value: str) -> bool:
    if len(value) > _MAX_PATTERN_INPUT:
        return False
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return True  # a pattern Python cannot read is not held against the user


def _check_number(field: FormField, value: Any) -> str | None:
    number = _as_decimal(value, field.serialize_to_string)
    if number is None:
        return "must be a number"
    if field.minimum is not None and number < field.minimum:
        return f"must be at least {field.minimum}"
    if field.maximum is not None and number > field.maximum:
        return f"must be at most {field.maximum}"
    if field.decimal_digits is not None:
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > field.decimal_digits:
            return f"must have at most {field.decimal_digits} decimal digits"
    if field.increment is not None and field.increment > 0:
        base = field.minimum if field.minimum is not None else Decimal(0)
        if (number - base) % field.increment != 0:
            return f"must be a multiple of {field.increment}"
    return None


def _as_decimal(value: Any, strings: bool) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not strings:
            return None
    elif not isinstance(value, int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _check_checkbox(field: FormField, value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _check_choice(field: FormField, value: Any) -> str | None:
    if isinstance(value, list | dict):
        return "must be a single value"
    return _check_option(field, value)


def _check_option(field: FormField, value: Any) -> str | None:
    if field.options is None or value in field.options:
        return None
    shown = ", ".join(repr(option) for option in field.options[:20])
    return f"must be one of {shown}"


def _check_many(field: FormField, value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list"
    for item in value:
        problem = _check_option(field, item)
        if problem is not None:
            return f"{item!r} is not an option: each value {problem}"
    return None


def _check_datetime(field: FormField, value: Any) -> str | None:
    subtype = field.subtype or "date"
    if isinstance(value, datetime):
        return None if subtype == "datetime" else f"must be a {subtype}"
    if isinstance(value, date):
        return None if subtype == "date" else f"must be a {subtype}"
    if isinstance(value, time):
        return None if subtype == "time" else f"must be a {subtype}"
    if not isinstance(value, str):
        return f"must be a {subtype} as ISO 8601 text"
    parse = {"date": date.fromisoformat, "time": time.fromisoformat}.get(
        subtype, datetime.fromisoformat
    )
    try:
        parse(value.replace("Z", "+00:00"))
    except ValueError:
        return f"must be a {subtype} as ISO 8601 text, got {value!r}"
    return None


_TEXT = frozenset({"textfield", "textarea", "password"})
_TYPE_CHECKS = {
    "number": _check_number,
    "checkbox": _check_checkbox,
    "radio": _check_choice,
    "select": _check_choice,
    "checklist": _check_many,
    "taglist": _check_many,
    "datetime": _check_datetime,
}
