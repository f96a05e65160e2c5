"""The compatible profile deploys every corpus model that deployed before profiles existed.

``compatible_deployable.txt`` lists the executable models of the SpiffWorkflow corpus and the
BPMN MIWG reference models that the engine deployed before validation became a profile (the
warnings of the compatible profile may only let more models through, never fewer).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from legato.errors import BpmnValidationError
from legato.testing import TestEngine

REPO = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("LEGATO_CORPORA", REPO.parent / "shared" / "corpora"))
LISTED = [
    line
    for line in (Path(__file__).parent / "compatible_deployable.txt").read_text().splitlines()
    if line.strip()
]

pytestmark = pytest.mark.skipif(
    not (CORPORA / "spiffworkflow").is_dir(), reason="conformance corpora not available"
)


@pytest.mark.parametrize("key", LISTED)
def test_model_deploys_in_the_compatible_profile(key: str) -> None:
    engine = TestEngine()

    deployment = engine.deploy(CORPORA / key)

    assert deployment.processes
    assert all(w.severity == "warning" for w in deployment.warnings)


REFUSED_NOW = {
    "spiffworkflow/tests/SpiffWorkflow/bpmn/data/invalid_cancel.bpmn": "EXT111",
}
"""Models that deployed before the catalogue's constraints were all checked, and break one that
no engine can run past: a cancel boundary event on an activity that is not a transaction
(SpiffWorkflow keeps this model to test that its own validator refuses it)."""


@pytest.mark.parametrize("key", sorted(REFUSED_NOW))
def test_a_model_that_breaks_a_hard_rule_is_refused_in_both_profiles(key: str) -> None:
    for profile in ("compatible", "strict"):
        engine = TestEngine(validation=profile)
        with pytest.raises(BpmnValidationError) as refused:
            engine.deploy(CORPORA / key)
        assert REFUSED_NOW[key] in {issue.rule for issue in refused.value.issues}
