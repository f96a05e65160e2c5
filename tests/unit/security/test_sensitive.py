"""Sensitive data declared once: the detectors, the policy file, the selector and the masking
it drives, and the reveal permission."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.security import ROLE_PERMISSIONS, VARIABLES_REVEAL, Principal
from legato.security.sensitive import (
    MASK,
    PolicyError,
    SensitiveData,
    SensitivePolicy,
    Viewer,
    is_card_number,
    is_email,
    is_iban,
    load_policy,
    mask_text,
    mask_variables,
    may_reveal,
    sensitive_texts,
    view_variables,
)


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1111", "4539148803436467", "5500-0000-0000-0004", "378282246310005"]
)
def test_card_numbers_that_pass_the_luhn_check_are_found(text: str) -> None:
    assert is_card_number(text)


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1112", "1234", "4111-1111-1111-111x", "12345678901234567890123", ""]
)
def test_digits_that_fail_the_luhn_check_or_the_length_are_no_card(text: str) -> None:
    assert not is_card_number(text)


@pytest.mark.parametrize(
    "text", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "fr1420041010050500013m02606"]
)
def test_ibans_that_pass_mod_97_are_found(text: str) -> None:
    assert is_iban(text)


@pytest.mark.parametrize(
    "text", ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543X", "DE89", "hello world"]
)
def test_ibans_that_fail_mod_97_or_the_shape_are_not(text: str) -> None:
    assert not is_iban(text)


@pytest.mark.parametrize("text", ["ada@example.org", "o'brien+tag@mail.co.uk"])
def test_e_mail_addresses_are_found(text: str) -> None:
    assert is_email(text)


@pytest.mark.parametrize("text", ["ada@", "ada@example", "write to ada@example.org", "@x.org"])
def test_what_is_not_one_whole_address_is_no_e_mail(text: str) -> None:
    assert not is_email(text)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_policy_names_paths_per_process_and_for_all_and_switches_detectors_on(
    tmp_path: Path,
) -> None:
    policy = load_policy(
        write(
            tmp_path,
            '[sensitive]\nvariables = ["iban"]\ndetect = ["card", "email"]\n'
            '[sensitive.processes]\nonboarding = ["applicant.ssn", "creditScore"]\n',
        )
    )

    assert policy.paths("onboarding") == (("iban",), ("applicant", "ssn"), ("creditScore",))
    assert policy.paths("other") == (("iban",),)
    assert policy.detect == {"card", "email"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sensitive]\nvariables = ['a..b']\n", r"policy.toml: sensitive.variables\[0\]: .*a..b"),
        ("[sensitive]\ndetect = ['ssn']\n", r"policy.toml: sensitive.detect\[0\]: unknown .*'ssn'"),
        ("[sensitive]\nvariabels = []\n", r"policy.toml: unknown key 'sensitive.variabels'"),
        ("[sensitive.processes]\np = 'ssn'\n", r"sensitive.processes.p: must be a list"),
        ("[sensitive.processes]\np = [1]\n", r"sensitive.processes.p\[0\]: 1 is not a string"),
        ("[sensitive]\nvariables = [\n x = 1\n", r"policy.toml: not TOML: .*line 3"),
        ("[masking]\n", r"unknown key 'masking'"),
    ],
)
def test_a_wrong_policy_is_refused_naming_the_file_and_the_key_or_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(write(tmp_path, text))


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.toml: cannot be read"):
        load_policy(tmp_path / "missing.toml")


def test_the_selector_joins_the_models_paths_the_policy_and_the_detectors() -> None:
    selector = SensitiveData(
        SensitivePolicy(everywhere=(("iban",),), detect=frozenset({"email"})),
        lambda process_id: [("ssn",)] if process_id == "p" else [],
    )

    assert list(selector.paths("p")) == [("ssn",), ("iban",)]
    assert list(selector.paths("q")) == [("iban",)]
    assert selector.detect("ada@example.org")
    assert not selector.detect("ada")
    assert not SensitiveData().detect("ada@example.org")


def test_masking_keeps_the_names_and_replaces_the_sensitive_parts() -> None:
    selector = SensitiveData(
        SensitivePolicy(detect=frozenset({"card"})), lambda _: [("applicant", "ssn")]
    )
    variables = {
        "applicant": {"name": "Ada", "ssn": "078-05-1120"},
        "note": "card 4111 1111 1111 1111",
        "card": "4111 1111 1111 1111",
        "amount": 5,
    }

    masked = mask_variables(selector, "p", variables)

    assert masked == {
        "applicant": {"name": "Ada", "ssn": MASK},
        "note": "card 4111 1111 1111 1111",  # a detector judges a whole value
        "card": MASK,
        "amount": 5,
    }
    assert variables["applicant"]["ssn"] == "078-05-1120"  # the original is not changed
    assert sensitive_texts(selector, "p", variables) == ["078-05-1120", "4111 1111 1111 1111"]


def test_texts_lose_every_sensitive_value_they_quote() -> None:
    text = mask_text("no score for 078-05-1120 (ssn 078-05-1120)", ["078-05-1120"])

    assert text == f"no score for {MASK} (ssn {MASK})"


def test_only_admin_holds_the_reveal_permission() -> None:
    holders = {role for role, granted in ROLE_PERMISSIONS.items() if VARIABLES_REVEAL in granted}

    assert holders == {"admin"}
    assert may_reveal(Principal("root", frozenset({"admin"})), "p")
    assert not may_reveal(Principal("op", frozenset({"operator", "auditor"})), "p")
    assert not may_reveal(None, "p")


def test_reveal_holds_only_within_the_principals_process_limit() -> None:
    billing_admin = Principal("bea", frozenset({"admin"}), processes=frozenset({"billing-*"}))

    assert may_reveal(billing_admin, "billing-invoice")
    assert not may_reveal(billing_admin, "onboarding")


def test_a_viewer_who_may_reveal_sees_the_values_and_the_reveal_is_noted() -> None:
    selector = SensitiveData(model_paths=lambda _: [("ssn",)])
    admin = Viewer(Principal("root", frozenset({"admin"})))
    operator = Viewer(Principal("op", frozenset({"operator"})))
    variables = {"ssn": "078-05-1120", "name": "Ada"}

    assert view_variables(selector, admin, "p", variables, 7) == variables
    assert view_variables(selector, operator, "p", variables, 7) == {"ssn": MASK, "name": "Ada"}
    assert admin.revealed == {("p", 7): {"ssn"}}
    assert operator.revealed == {}
