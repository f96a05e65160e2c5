"""The Camunda 7 wire codecs: UUID ids for keys, typed variables, dates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from legato.api.c7 import ids
from legato.api.c7.dates import format_date, parse_date
from legato.api.c7.errors import C7Error
from legato.api.c7.ids import Kind
from legato.api.c7.variables import decode_variables, encode_value, encode_variables

# -- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [0, 1, 2251799813685249, 2**52 - 1, 2**52, 2**63 - 1])
def test_a_key_round_trips_through_its_uuid(key: int) -> None:
    for kind in Kind:
        text = ids.to_uuid(kind, key)
        assert str(uuid.UUID(text)) == text
        assert ids.key_of(kind, text) == key


def test_the_uuid_of_a_key_is_fixed_and_differs_by_kind() -> None:
    assert ids.to_uuid(Kind.INSTANCE, 42) == ids.to_uuid(Kind.INSTANCE, 42)
    assert ids.to_uuid(Kind.INSTANCE, 42) != ids.to_uuid(Kind.TASK, 42)
    assert ids.to_uuid(Kind.INSTANCE, 42) != ids.to_uuid(Kind.INSTANCE, 43)


@pytest.mark.parametrize(
    "text",
    [
        "not-a-uuid",
        "",
        # A new random one each run; its id is fixed so that every process collects the
        # same test (pytest-xdist's workers compare their collections).
        pytest.param(str(uuid.uuid4()), id="random-uuid4"),
        "00000000-0000-0000-0000-000000000000",
        "1e6a7000-0001-8000-c000-00000000002a",  # a wrong variant
    ],
)
def test_a_foreign_or_malformed_uuid_names_no_key(text: str) -> None:
    assert ids.key_of(Kind.INSTANCE, text) is None


def test_an_id_of_another_kind_names_no_key() -> None:
    assert ids.key_of(Kind.INSTANCE, ids.to_uuid(Kind.TASK, 7)) is None


def test_definition_ids_are_process_version_uuid() -> None:
    text = ids.definition_id("order", 3, 99)
    process_id, version, tail = text.split(":")
    assert ids.key_of(Kind.DEFINITION, tail) == 99
    assert (process_id, version) == ("order", "3")
    assert ids.definition_key_of(text) == 99
    assert ids.definition_key_of("order:3:nonsense") is None


# -- dates ----------------------------------------------------------------------------------------


def test_dates_are_written_with_milliseconds_and_a_basic_offset() -> None:
    moment = datetime(2025, 10, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_date(moment) == "2025-10-01T12:00:00.123+0000"
    assert datetime.strptime(format_date(moment) or "", "%Y-%m-%dT%H:%M:%S.%f%z")


@pytest.mark.parametrize(
    "text",
    [
        "2025-10-01T12:00:00.000+0000",
        "2025-10-01T12:00:00.000Z",
        "2025-10-01T12:00:00Z",
        "2025-10-01T14:00:00.000+02:00",
        "2025-10-01T14:00:00+0200",
        "2025-10-01T12:00:00.000000+00:00",
        "2025-10-01T12:00:00.0+00:00",
        "2025-10-01T12:00:00",
    ],
)
def test_dates_are_read_in_every_offset_form(text: str) -> None:
    assert parse_date(text) == datetime(2025, 10, 1, 12, tzinfo=UTC)


# -- variables in ---------------------------------------------------------------------------------


def test_untyped_values_take_their_json_type() -> None:
    sent = {
        "s": {"value": "x"},
        "b": {"value": True},
        "n": {"value": 7},
        "big": {"value": 3_000_000_000},
        "r": {"value": 0.5},
        "nil": {"value": None},
        "obj": {"value": {"a": 1}},
        "list": {"value": [1, 2]},
        "pyc": {"value": 5, "type": None, "valueInfo": None},
    }
    assert decode_variables(sent) == {
        "s": "x",
        "b": True,
        "n": 7,
        "big": 3_000_000_000,
        "r": 0.5,
        "nil": None,
        "obj": {"a": 1},
        "list": [1, 2],
        "pyc": 5,
    }


@pytest.mark.parametrize("case", [str.lower, str.capitalize, str.upper])
def test_type_names_are_read_in_any_case(case: Any) -> None:
    sent = {
        "ok": {"type": case("boolean"), "value": True},
        "n": {"type": case("integer"), "value": 7},
        "big": {"type": case("long"), "value": 3_000_000_000},
        "r": {"type": case("double"), "value": 1},
        "obj": {"type": case("json"), "value": '{"a":1}'},
        "d": {"type": case("date"), "value": "1970-01-01T00:00:00.000+0000"},
        "nil": {"type": case("null"), "value": None},
        "s": {"type": case("string"), "value": "yes"},
        "short": {"type": case("short"), "value": 3},
    }
    assert decode_variables(sent) == {
        "ok": True,
        "n": 7,
        "big": 3_000_000_000,
        "r": 1.0,
        "obj": {"a": 1},
        "d": datetime(1970, 1, 1, tzinfo=UTC),
        "nil": None,
        "s": "yes",
        "short": 3,
    }


def test_json_objects_in_the_object_type_are_parsed() -> None:
    sent = {
        "o": {
            "type": "Object",
            "value": '{"name":"Ann"}',
            "valueInfo": {"serializationDataFormat": "application/json", "objectTypeName": "x"},
        }
    }
    assert decode_variables(sent) == {"o": {"name": "Ann"}}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ({"type": "File", "value": "aGk=", "valueInfo": {"filename": "a.txt"}}, "'File'"),
        ({"type": "file", "value": "aGk="}, "'File'"),
        ({"type": "Bytes", "value": "aGk="}, "'Bytes'"),
        (
            {
                "type": "Object",
                "value": "rO0AB",
                "valueInfo": {"serializationDataFormat": "application/x-java-serialized-object"},
            },
            "Unsupported value type 'Object'",
        ),
        ({"type": "Integer", "value": "seven"}, "Integer"),
        ({"type": "Integer", "value": 2**40}, "does not fit"),
        ({"type": "Json", "value": "{broken"}, "JSON"),
        ({"type": "Date", "value": "yesterday"}, "Date"),
        ({"type": "Weird", "value": 1}, "Unsupported value type 'Weird'"),
    ],
)
def test_a_bad_variable_is_a_400_naming_it(typed: dict[str, Any], expected: str) -> None:
    with pytest.raises(C7Error) as raised:
        decode_variables({"bad": typed})
    assert raised.value.status == 400
    assert "'bad'" in raised.value.detail
    assert expected in raised.value.detail


def test_file_is_refused_with_camundas_words() -> None:
    with pytest.raises(C7Error, match="Unsupported value type 'File'"):
        decode_variables({"f": {"type": "File", "value": ""}})


def test_absent_or_null_maps_are_empty() -> None:
    assert decode_variables(None) == {}
    assert decode_variables({}) == {}


# -- variables out --------------------------------------------------------------------------------


def test_every_value_is_written_with_type_value_and_value_info() -> None:
    written = encode_variables(
        {
            "s": "x",
            "b": False,
            "i": 42,
            "l": 3_000_000_000,
            "f": 0.5,
            "nil": None,
            "obj": {"name": "Ann"},
            "list": [1, "a"],
            "when": datetime(2025, 10, 1, 12, tzinfo=UTC),
            "dec": Decimal("2.5"),
            "whole": Decimal("7"),
        }
    )
    assert written == {
        "s": {"type": "String", "value": "x", "valueInfo": {}},
        "b": {"type": "Boolean", "value": False, "valueInfo": {}},
        "i": {"type": "Integer", "value": 42, "valueInfo": {}},
        "l": {"type": "Long", "value": 3_000_000_000, "valueInfo": {}},
        "f": {"type": "Double", "value": 0.5, "valueInfo": {}},
        "nil": {"type": "Null", "value": None, "valueInfo": {}},
        "obj": {"type": "Json", "value": '{"name":"Ann"}', "valueInfo": {}},
        "list": {"type": "Json", "value": '[1,"a"]', "valueInfo": {}},
        "when": {"type": "Date", "value": "2025-10-01T12:00:00.000+0000", "valueInfo": {}},
        "dec": {"type": "Double", "value": 2.5, "valueInfo": {}},
        "whole": {"type": "Integer", "value": 7, "valueInfo": {}},
    }


def test_an_integer_beyond_64_bits_is_a_string() -> None:
    assert encode_value(2**70) == {"type": "String", "value": str(2**70), "valueInfo": {}}


def test_a_round_trip_of_the_python_workers_untyped_object() -> None:
    stored = decode_variables({"a": {"value": {"a": 1}}})
    assert encode_variables(stored)["a"] == {"type": "Json", "value": '{"a":1}', "valueInfo": {}}
