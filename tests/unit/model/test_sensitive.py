"""The walk that finds the sensitive parts of an instance's variables."""

from __future__ import annotations

from typing import Any

import pytest

from legato.model.sensitive import parse_sensitive_path, replace_sensitive


def _hide(value: Any) -> str:
    return "***"


def test_a_dotted_path_is_split_into_keys() -> None:
    assert parse_sensitive_path("ssn") == ("ssn",)
    assert parse_sensitive_path("applicant.ssn") == ("applicant", "ssn")


@pytest.mark.parametrize("text", ["", ".ssn", "applicant.", "applicant..ssn", " ssn"])
def test_a_path_with_an_empty_segment_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="sensitive path") as raised:
        parse_sensitive_path(text)
    assert repr(text) in str(raised.value)


def test_nothing_sensitive_gives_none_and_no_copy() -> None:
    variables = {"amount": 12, "applicant": {"name": "Ada"}}
    assert replace_sensitive(variables, [("ssn",), ("applicant", "ssn")], _hide) is None
    assert replace_sensitive(variables, [], _hide) is None


def test_a_variable_is_replaced_whole_whatever_its_type() -> None:
    variables = {"ssn": "123-45-6789", "card": {"number": "4111"}, "amount": 3}
    result = replace_sensitive(variables, [("ssn",), ("card",)], _hide)
    assert result == {"ssn": "***", "card": "***", "amount": 3}
    assert variables["ssn"] == "123-45-6789"


def test_a_path_reaches_into_objects_and_through_lists() -> None:
    applicant = {"name": "Ada", "ssn": "1", "address": {"city": "Turin"}}
    variables = {
        "applicant": applicant,
        "applicants": [{"ssn": "2"}, {"name": "Bo"}, "not an object"],
    }
    result = replace_sensitive(variables, [("applicant", "ssn"), ("applicants", "ssn")], _hide)
    assert result == {
        "applicant": {"name": "Ada", "ssn": "***", "address": {"city": "Turin"}},
        "applicants": [{"ssn": "***"}, {"name": "Bo"}, "not an object"],
    }
    assert applicant["ssn"] == "1"
    assert result["applicant"]["address"] is applicant["address"]


def test_a_shorter_path_wins_over_a_longer_one() -> None:
    variables = {"applicant": {"ssn": "1", "name": "Ada"}}
    for paths in ([("applicant",), ("applicant", "ssn")], [("applicant", "ssn"), ("applicant",)]):
        assert replace_sensitive(variables, paths, _hide) == {"applicant": "***"}


def test_a_detector_finds_text_at_any_depth() -> None:
    variables = {"note": "call 4111", "order": {"lines": [{"text": "4111 1111"}]}, "n": 4111}
    result = replace_sensitive(variables, [], _hide, detect=lambda text: "4111" in text)
    assert result == {"note": "***", "order": {"lines": [{"text": "***"}]}, "n": 4111}
