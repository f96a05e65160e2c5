"""The static checker against the betsy constraint models and real-world deployable models.

Every betsy ``BPMN_CONSTRAINTS`` model breaks one rule and must yield errors in the strict
profile; the betsy execution models, the onboarding example, the BPMN MIWG reference models and
the well-formed SpiffWorkflow models must yield no error in the compatible profile (warnings
allowed), except the few listed in ``KNOWN_VIOLATIONS``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from legato.bpmn.validate import Profile, validate_document
from legato.errors import BpmnParseError, ValidationIssue
from legato.safexml import parse_xml, read_source

REPO = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("LEGATO_CORPORA", REPO.parent / "shared" / "corpora"))
BETSY = CORPORA / "betsy"
ONBOARDING = CORPORA.parent / "bench" / "onboarding.bpmn"

KNOWN_VIOLATIONS = {
    # isImmediate='false' on sequence flows of an executable process; the specification
    # forbids it ("for executable Processes, the attribute MUST NOT be false").
    "bpmn-miwg/Reference/C.8.1.bpmn": "EXT024",
    # Two signal boundary events without any outgoing sequence flow.
    "spiffworkflow/tests/SpiffWorkflow/bpmn/data/boundary_event_split.bpmn": "EXT113",
    # Deliberately broken upstream: a duplicated data object reference id.
    "spiffworkflow/tests/SpiffWorkflow/bpmn/data/data_object_invalid.bpmn": "EXT001",
    # loopCondition 'not done' without xsi:type (a warning in the compatible profile).
    "spiffworkflow/tests/SpiffWorkflow/bpmn/data/standard_loop.bpmn": "EXT012",
    # scriptFormat='reset' names no script language.
    "spiffworkflow/tests/SpiffWorkflow/camunda/data/external_message.bpmn": "EXT145",
    # The correlation key names correlation properties that are defined nowhere.
    "spiffworkflow/tests/SpiffWorkflow/spiff/data/receive_correlations.bpmn": "EXT002",
    # incoming/outgoing name 'Flow_1hjrex4' but the sequence flow's id is 'F2low_1hjrex4'.
    "spiffworkflow/tests/SpiffWorkflow/spiff/data/spiff_properties.bpmn": "EXT023",
    # Deliberately broken upstream: a cancel boundary event on a task, not a transaction.
    "spiffworkflow/tests/SpiffWorkflow/bpmn/data/invalid_cancel.bpmn": "EXT111",
    # completionQuantity='0': betsy expects an error, and refusing the model is one.
    "betsy/pebl-builder/src/main/resources/files/bpmn/errors/Token_CompletionQuantity_Zero.bpmn": (
        "EXT038"
    ),
}

pytestmark = pytest.mark.skipif(not BETSY.is_dir(), reason="conformance corpora not available")


def _betsy_tests() -> list[dict[str, Any]]:
    if not BETSY.is_dir():
        return []
    tests: list[dict[str, Any]] = json.loads(
        (BETSY / "expected_traces.json").read_text(encoding="utf-8")
    )["tests"]
    return tests


def _validate(path: Path, profile: Profile = "strict") -> list[ValidationIssue]:
    data, name = read_source(path)
    return validate_document(parse_xml(data, name), name, profile)


def _deployable_files() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    files = [BETSY / t["model"] for t in _betsy_tests() if t["expected_deployable"]]
    files += [ONBOARDING] if ONBOARDING.is_file() else []
    files += sorted((CORPORA / "bpmn-miwg" / "Reference").glob("*.bpmn"))
    files += sorted((CORPORA / "spiffworkflow").rglob("*.bpmn"))
    return files


def _key(path: Path) -> str:
    try:
        return path.relative_to(CORPORA).as_posix()
    except ValueError:
        return path.name


CONSTRAINT_TESTS = [t for t in _betsy_tests() if not t["expected_deployable"]]


@pytest.mark.parametrize("test", CONSTRAINT_TESTS, ids=[t["test"] for t in CONSTRAINT_TESTS])
def test_constraint_model_is_rejected(test: dict[str, Any]) -> None:
    issues = _validate(BETSY / test["model"])

    assert issues, f"{test['test']} breaks a rule but no issue was found"
    assert all(i.location.file and i.message and i.severity == "error" for i in issues)


def test_most_constraint_models_are_rejected_for_their_own_rule() -> None:
    own = 0
    for test in CONSTRAINT_TESTS:
        rule = test["test"].split("_")[0]
        own += any(i.rule == rule for i in _validate(BETSY / test["model"]))

    assert own >= 168


DEPLOYABLE = _deployable_files()


@pytest.mark.parametrize("path", DEPLOYABLE, ids=[_key(p) for p in DEPLOYABLE])
def test_deployable_model_is_accepted(path: Path) -> None:
    try:
        issues = _validate(path, "compatible")
    except BpmnParseError:
        pytest.skip("not well-formed XML")
    expected = KNOWN_VIOLATIONS.get(_key(path))
    errors = [i for i in issues if i.severity == "error"]

    if expected is None:
        assert errors == []
    else:
        assert expected in {i.rule for i in issues}
