"""Camunda forms: reading form-js JSON and checking submissions against its rules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from legato.errors import FieldError, FormParseError
from legato.forms import MAX_FORM_BYTES, parse_form, validate_submission


def form(*components: dict[str, Any], form_id: str = "f") -> str:
    return json.dumps({"id": form_id, "type": "default", "components": list(components)})


def errors(text: str, variables: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in validate_submission(parse_form(text), variables)]


# -- reading -----------------------------------------------------------------------------------


def test_a_form_is_read_with_its_id_and_input_fields() -> None:
    parsed = parse_form(
        form(
            {"type": "text", "text": "# Approve"},
            {"type": "textfield", "key": "name", "validate": {"required": True}},
            {
                "type": "group",
                "path": "address",
                "components": [{"type": "textfield", "key": "city"}],
            },
            {"type": "button", "action": "submit"},
        ),
        "approve.form",
    )
    assert parsed.form_id == "f"
    assert [c.type for c in parsed.components] == ["textfield", "group"]
    assert parsed.components[0].required
    assert parsed.schema["components"][0]["type"] == "text"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "approve.form: the form is not valid JSON"),
        ("[1, 2]", "approve.form: a form must be a JSON object"),
        ('{"components": []}', "approve.form: the form has no id"),
        ('{"id": "  ", "components": []}', "approve.form: the form has no id"),
        ('{"id": "f", "components": {}}', "approve.form: components must be a list"),
        ('{"id": "f", "components": [{"key": "x"}]}', "approve.form: component 'x' has no type"),
        ("[" * 100_000 + "]" * 100_000, "approve.form: the form is nested too deeply"),
    ],
)
def test_bad_forms_are_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(FormParseError) as caught:
        parse_form(text, "approve.form")
    assert str(caught.value).startswith(message)


def test_a_huge_form_is_refused_before_it_is_parsed() -> None:
    huge = '{"id": "f", "pad": "' + "x" * MAX_FORM_BYTES + '"}'
    with pytest.raises(FormParseError, match=r"big\.form: the form is larger than"):
        parse_form(huge, "big.form")


def test_deeply_nested_groups_are_refused() -> None:
    component: dict[str, Any] = {"type": "textfield", "key": "x"}
    for _ in range(40):
        component = {"type": "group", "components": [component]}
    with pytest.raises(FormParseError, match="nested more than 32 deep"):
        parse_form(form(component), "deep.form")


def test_a_conditional_that_does_not_compile_is_refused() -> None:
    bad = {"type": "textfield", "key": "x", "conditional": {"hide": "=1 +"}}
    with pytest.raises(FormParseError, match=r"conditional\.hide of 'x' does not compile"):
        parse_form(form(bad), "c.form")


# -- validation --------------------------------------------------------------------------------


def test_required_fields() -> None:
    text = form(
        {"type": "textfield", "key": "name", "validate": {"required": True}},
        {"type": "checkbox", "key": "agree", "validate": {"required": True}},
        {"type": "checklist", "key": "tags", "validate": {"required": True}},
        {"type": "textfield", "key": "optional"},
    )
    assert errors(text, {}) == [
        ("name", "is required"),
        ("agree", "is required"),
        ("tags", "is required"),
    ]
    assert errors(text, {"name": "", "agree": False, "tags": []}) == [
        ("name", "is required"),
        ("agree", "is required"),
        ("tags", "is required"),
    ]
    assert errors(text, {"name": "Ada", "agree": True, "tags": ["a"]}) == []


def test_one_error_per_bad_field() -> None:
    text = form(
        {"type": "textfield", "key": "name", "validate": {"minLength": 3, "pattern": "[a-z]+"}}
    )
    assert errors(text, {"name": "A"}) == [("name", "must have at least 3 characters")]


def test_text_lengths_pattern_email_and_phone() -> None:
    text = form(
        {"type": "textfield", "key": "code", "validate": {"minLength": 2, "maxLength": 4}},
        {"type": "textfield", "key": "zip", "validate": {"pattern": "[0-9]{5}"}},
        {"type": "textfield", "key": "mail", "validate": {"validationType": "email"}},
        {"type": "textfield", "key": "phone", "validate": {"validationType": "phone"}},
        {"type": "textarea", "key": "note", "validate": {"maxLength": 5}},
    )
    good = {"code": "ab", "zip": "12345", "mail": "a@b.io", "phone": "+49 30 1234567", "note": "hi"}
    assert errors(text, good) == []
    bad = {"code": "abcde", "zip": "12345x", "mail": "ab.io", "phone": "12", "note": 5}
    assert [field for field, _ in errors(text, bad)] == ["code", "zip", "mail", "phone", "note"]
    assert errors(text, {"code": "a"}) == [("code", "must have at least 2 characters")]
    assert errors(text, {"zip": "x12345"}) == [("zip", "must match the pattern [0-9]{5}")]
    assert errors(text, {"note": 5}) == [("note", "must be text")]


def test_numbers() -> None:
    text = form(
        {"type": "number", "key": "amount", "validate": {"min": 1, "max": 100}},
        {"type": "number", "key": "price", "decimalDigits": 2},
        {"type": "number", "key": "step", "increment": "0.5"},
        {"type": "number", "key": "text", "serializeToString": True},
    )
    assert errors(text, {"amount": 5, "price": 1.25, "step": 2.5, "text": "12"}) == []
    assert errors(text, {"amount": Decimal("100")}) == []
    assert errors(text, {"amount": "5"}) == [("amount", "must be a number")]
    assert errors(text, {"amount": True}) == [("amount", "must be a number")]
    assert errors(text, {"amount": 0}) == [("amount", "must be at least 1")]
    assert errors(text, {"amount": 101}) == [("amount", "must be at most 100")]
    assert errors(text, {"price": 1.255}) == [("price", "must have at most 2 decimal digits")]
    assert errors(text, {"step": 0.7}) == [("step", "must be a multiple of 0.5")]
    assert errors(text, {"text": "twelve"}) == [("text", "must be a number")]


def test_checkbox_and_static_options() -> None:
    values = [{"label": "Red", "value": "red"}, {"label": "Blue", "value": "blue"}]
    text = form(
        {"type": "checkbox", "key": "ok"},
        {"type": "select", "key": "color", "values": values},
        {"type": "radio", "key": "size", "values": [{"label": "S", "value": "s"}]},
        {"type": "checklist", "key": "colors", "values": values},
        {"type": "taglist", "key": "tags", "values": values},
        {"type": "select", "key": "dynamic", "valuesKey": "options"},
    )
    good = {"ok": False, "color": "red", "size": "s", "colors": ["red"], "tags": ["blue"]}
    assert errors(text, {**good, "dynamic": "anything"}) == []
    assert errors(text, {"ok": "yes"}) == [("ok", "must be true or false")]
    assert errors(text, {"color": "green"}) == [("color", "must be one of 'red', 'blue'")]
    assert errors(text, {"color": ["red"]}) == [("color", "must be a single value")]
    assert errors(text, {"colors": "red"}) == [("colors", "must be a list")]
    assert errors(text, {"tags": ["red", "pink"]}) == [
        ("tags", "'pink' is not an option: each value must be one of 'red', 'blue'")
    ]


def test_dates_and_times() -> None:
    text = form(
        {"type": "datetime", "key": "day", "subtype": "date"},
        {"type": "datetime", "key": "at", "subtype": "time"},
        {"type": "datetime", "key": "when", "subtype": "datetime"},
    )
    good = {"day": "2027-01-31", "at": "09:30", "when": "2027-01-31T09:30:00Z"}
    assert errors(text, good) == []
    bad = {"day": "31.01.2027", "at": "9h", "when": 5}
    assert [field for field, _ in errors(text, bad)] == ["day", "at", "when"]


def test_groups_with_paths_and_dynamic_lists_are_nested() -> None:
    text = form(
        {
            "type": "group",
            "path": "address",
            "components": [{"type": "textfield", "key": "city", "validate": {"required": True}}],
        },
        {
            "type": "dynamiclist",
            "path": "items",
            "components": [{"type": "number", "key": "qty", "validate": {"min": 1}}],
        },
        {"type": "textfield", "key": "person.name", "validate": {"required": True}},
    )
    ok = {"address": {"city": "Paris"}, "items": [{"qty": 2}], "person": {"name": "Ada"}}
    assert errors(text, ok) == []
    bad = {"address": {}, "items": [{"qty": 2}, {"qty": 0}], "person": {}}
    assert errors(text, bad) == [
        ("address.city", "is required"),
        ("items[1].qty", "must be at least 1"),
        ("person.name", "is required"),
    ]


def test_hidden_and_disabled_fields_are_not_checked() -> None:
    text = form(
        {"type": "checkbox", "key": "company"},
        {
            "type": "textfield",
            "key": "vat",
            "validate": {"required": True},
            "conditional": {"hide": "=company != true"},
        },
        {"type": "textfield", "key": "ro", "disabled": True, "validate": {"required": True}},
    )
    assert errors(text, {"company": False}) == []
    assert errors(text, {"company": True}) == [("vat", "is required")]


def test_variables_outside_the_form_are_accepted() -> None:
    assert errors(form({"type": "textfield", "key": "a"}), {"b": [1, 2], "c": None}) == []


def test_field_errors_are_values() -> None:
    assert str(FieldError("a", "is required")) == "a: is required"
