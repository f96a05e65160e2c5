"""Process versions side by side: tags, starting by version or tag, suspending and resuming a
version, the diff of two versions, and the rollout rule that chooses new instances' versions."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bpmn_helpers import HEADER, chain, flow, process, service
from legato import BpmnValidationError, InvalidCommandError, NotFoundError
from legato.testing import TestEngine


def _tagged(tag: str | None, job_type: str = "work", body: str = "") -> str:
    """Process ``p``: start, a service task of ``job_type``, end; tagged the Zeebe way."""
    extension = (
        f'<bpmn:extensionElements><zeebe:versionTag value="{tag}"/></bpmn:extensionElements>'
        if tag is not None
        else ""
    )
    return process(
        extension
        + '<bpmn:startEvent id="s"/>'
        + service("t", job_type)
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "t", "e")
        + body
    )


def _two_versions(engine: TestEngine) -> None:
    engine.deploy(_tagged("1.0", "work"))
    engine.deploy(_tagged("2.0", "work-v2"))


# -- tags ---------------------------------------------------------------------------------


def test_zeebe_and_camunda_version_tags_are_kept_and_start_their_version() -> None:
    engine = TestEngine()
    engine.deploy(_tagged("1.0"))
    camunda = (
        HEADER.replace(
            ' id="defs"', ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs"'
        )
        + '<bpmn:process id="p" isExecutable="true" camunda:versionTag="2.0-c7">'
        + '<bpmn:startEvent id="s"/>'
        + service("t", "work")
        + '<bpmn:userTask id="u"/><bpmn:endEvent id="e"/>'
        + chain("s", "t", "u", "e")
        + "</bpmn:process></bpmn:definitions>"
    )
    engine.deploy(camunda)
    versions = engine.process_versions("p")
    assert [(v.version, v.version_tag, v.label) for v in versions] == [
        (1, "1.0", "v1 (1.0)"),
        (2, "2.0-c7", "v2 (2.0-c7)"),
    ]
    started = engine.start("p", version_tag="1.0")
    assert started.version == 1
    assert started.version_reason == "explicit version tag '1.0'"
    latest = engine.start("p")
    assert (latest.version, latest.version_reason) == (2, "latest")
    assert engine.instance(latest.key).version_reason == "latest"
    assert engine.start("p", version=1).version_reason == "explicit version"
    with pytest.raises(NotFoundError, match=r"no version tagged '3\.0'"):
        engine.start("p", version_tag="3.0")
    with pytest.raises(InvalidCommandError, match="not both"):
        engine.start("p", version=1, version_tag="1.0")
    listed = [(d.version, d.version_tag, d.suspended) for d in engine.process_definitions()]
    assert listed == [(1, "1.0", False), (2, "2.0-c7", False)]


def test_a_changed_model_with_a_used_tag_is_refused_naming_process_and_tag() -> None:
    engine = TestEngine()
    engine.deploy(_tagged("1.0"))
    engine.deploy(_tagged("1.0"))  # the same content: no new version, nothing refused
    with pytest.raises(BpmnValidationError) as caught:
        engine.deploy(_tagged("1.0", "other-work"))
    [issue] = caught.value.issues
    assert issue.rule == "version-tag-taken"
    assert issue.location.element_id == "p"
    assert "process 'p' already has version tag '1.0' (version 1)" in issue.message
    assert [v.version for v in engine.process_versions("p")] == [1]


# -- suspension ---------------------------------------------------------------------------


def test_a_suspended_version_takes_no_new_instances_and_its_running_ones_go_on() -> None:
    engine = TestEngine()
    _two_versions(engine)
    running = engine.start("p", version=1)
    engine.suspend_version("p", 1)
    assert [v.suspended for v in engine.process_versions("p")] == [True, False]
    with pytest.raises(InvalidCommandError, match="version 1 of process 'p' is suspended"):
        engine.start("p", version=1)
    with pytest.raises(InvalidCommandError, match="suspended"):
        engine.start("p", version_tag="1.0")
    assert engine.start("p").version == 2
    engine.register("work", lambda job: {"done": True})
    engine.run_until_idle()
    assert engine.instance(running.key).status == "completed"
    engine.resume_version("p", 1)
    assert engine.start("p", version=1).version == 1


def test_a_suspended_latest_version_without_rollout_refuses_plain_starts() -> None:
    engine = TestEngine()
    _two_versions(engine)
    engine.suspend_version("p", 2)
    with pytest.raises(InvalidCommandError, match=r"latest version \(2\) of process 'p'"):
        engine.start("p")
    with pytest.raises(InvalidCommandError, match="suspended"):
        engine.start_many("p", [{}, {}])
    engine.set_rollout("p", {1: 100})
    assert engine.start("p").version == 1
    with pytest.raises(NotFoundError):
        engine.suspend_version("p", 7)
    with pytest.raises(InvalidCommandError, match="gives version 1 100%"):
        engine.suspend_version("p", 1)


def test_start_events_of_a_suspended_latest_version_start_nothing_until_resumed() -> None:
    xml = process(
        '<bpmn:startEvent id="bymsg"><bpmn:messageEventDefinition messageRef="m"/>'
        '</bpmn:startEvent><bpmn:startEvent id="bytimer"><bpmn:timerEventDefinition>'
        "<bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>"
        '<bpmn:userTask id="u"/>' + flow("f1", "bymsg", "u") + flow("f2", "bytimer", "u"),
        extra='<bpmn:message id="m" name="go"/>',
    )
    engine = TestEngine()
    engine.deploy(xml)
    engine.suspend_version("p", 1)
    assert engine.publish_message("go").started == 0
    engine.clock.advance(timedelta(hours=3))
    assert engine.instances() == []
    engine.resume_version("p", 1)
    assert engine.publish_message("go").started == 1
    engine.clock.advance(timedelta(hours=1, seconds=1))
    assert len(engine.instances()) == 2


# -- diff ---------------------------------------------------------------------------------


def test_the_diff_names_added_removed_and_changed_elements() -> None:
    engine = TestEngine()
    engine.deploy(
        process(
            '<bpmn:startEvent id="s"/>'
            + service("charge", "charge")
            + '<bpmn:userTask id="check" name="Check"/><bpmn:endEvent id="e"/>'
            + chain("s", "charge", "check", "e")
        )
    )
    engine.deploy(
        process(
            '<bpmn:startEvent id="s"/>'
            + service("charge", "charge-card")
            + '<bpmn:exclusiveGateway id="big" default="f4"/>'
            + service("audit", "audit")
            + '<bpmn:endEvent id="e"/>'
            + flow("f_s_charge", "s", "charge")
            + flow("f_charge_check", "charge", "big")
            + flow("f3", "big", "audit", "=amount > 100")
            + flow("f4", "big", "e")
            + flow("f5", "audit", "e")
        )
    )
    diff = engine.diff_versions("p", 1, 2)
    assert (diff.from_version, diff.to_version) == (1, 2)
    assert {e.element_id for e in diff.added} == {"big", "audit", "f3", "f4", "f5"}
    assert {e.element_id for e in diff.removed} == {"check", "f_check_e"}
    changed = {e.element_id: e for e in diff.changed}
    assert "job type: 'charge' -> 'charge-card'" in changed["charge"].changes
    assert "target id: 'check' -> 'big'" in changed["f_charge_check"].changes
    assert "incoming: [f_check_e] -> [f4, f5]" in changed["e"].changes
    assert "condition" not in " ".join(changed["f_charge_check"].changes)
    lines = diff.lines()
    assert "removed userTask 'check' (Check)" in lines
    assert "added exclusiveGateway 'big'" in lines
    assert engine.diff_versions("p", 1, 1).lines() == ["no differences"]
    with pytest.raises(NotFoundError, match="no version 5"):
        engine.diff_versions("p", 1, 5)


# -- rollout ------------------------------------------------------------------------------


def test_a_percentage_split_places_new_instances_and_is_rolled_back_by_a_new_rule() -> None:
    engine = TestEngine()
    _two_versions(engine)
    rollout = engine.set_rollout("p", {1: 90, 2: 10}, by="ops")
    assert (rollout.split, rollout.revision, rollout.updated_by) == ({1: 90, 2: 10}, 1, "ops")
    assert rollout.description == "v1 90%, v2 10%"
    started = engine.start_many("p", [{} for _ in range(1000)])
    counts = Counter(i.version for i in started)
    assert 95 <= counts[2] <= 105, counts
    reasons = Counter((i.version, i.version_reason) for i in started)
    assert set(reasons) == {(1, "rollout: 90% split"), (2, "rollout: 10% split")}
    keyed = [engine.start("p", business_key=f"cust-{n}") for n in range(1000)]
    assert 70 <= Counter(i.version for i in keyed)[2] <= 130
    again = engine.start("p", business_key="cust-7")
    assert again.version == keyed[7].version  # a business key always gets the same version
    assert engine.start("p", version=2).version_reason == "explicit version"
    assert engine.set_rollout("p", {1: 100, 2: 0}).revision == 2  # the rollback
    assert {engine.start("p").version for _ in range(50)} == {1}
    assert [v.rollout_percent for v in engine.process_versions("p")] == [100, 0]
    assert engine.clear_rollout("p") is True
    assert engine.rollout("p") is None
    assert engine.start("p").version_reason == "latest"
    assert engine.clear_rollout("p") is False


def test_bad_splits_are_refused() -> None:
    engine = TestEngine()
    _two_versions(engine)
    with pytest.raises(InvalidCommandError, match="adds up to 95%"):
        engine.set_rollout("p", {1: 90, 2: 5})
    with pytest.raises(NotFoundError, match="no version 3"):
        engine.set_rollout("p", {1: 90, 3: 10})
    with pytest.raises(InvalidCommandError, match="whole percentage"):
        engine.set_rollout("p", {1: 110, 2: -10})
    with pytest.raises(InvalidCommandError, match="one"):
        engine.set_rollout("p")
    with pytest.raises(NotFoundError):
        engine.set_rollout("nope", {1: 100})
    engine.suspend_version("p", 1)
    with pytest.raises(InvalidCommandError, match="version 1 of process 'p' is suspended"):
        engine.set_rollout("p", {1: 50, 2: 50})
    assert engine.rollout("p") is None


def test_a_feel_rule_chooses_by_variables_and_business_key() -> None:
    engine = TestEngine()
    _two_versions(engine)
    engine.set_rollout("p", rule='if region = "EU" then 2 else 1')
    eu = engine.start("p", {"region": "EU"})
    us = engine.start("p", {"region": "US"})
    assert (eu.version, us.version) == (2, 1)
    assert eu.version_reason == "rollout rule"
    engine.set_rollout("p", rule='if starts with(businessKey, "vip-") then "2.0" else "1.0"')
    assert engine.start("p", business_key="vip-1").version == 2
    assert engine.start("p", business_key="std-1").version == 1
    batch = engine.start_many("p", [{}, {}], business_keys=["vip-2", "x"])
    assert [i.version for i in batch] == [2, 1]
    engine.set_rollout("p", rule="segment")
    with pytest.raises(InvalidCommandError, match="must give a version number or tag"):
        engine.start("p", {"segment": None})
    with pytest.raises(NotFoundError, match="no version has that tag"):
        engine.start("p", {"segment": "9.9"})
    with pytest.raises(NotFoundError, match="no version 7"):
        engine.start("p", {"segment": 7})
    assert engine.rollout("p") is not None


def test_an_invalid_rule_is_refused_naming_the_position() -> None:
    engine = TestEngine()
    _two_versions(engine)
    with pytest.raises(InvalidCommandError, match="not valid FEEL at line 1, column"):
        engine.set_rollout("p", rule="if region = then 2")
    with pytest.raises(InvalidCommandError, match="unknown functions: nope"):
        engine.set_rollout("p", rule="nope(region)")
    assert engine.rollout("p") is None


def test_versions_show_instance_counts_and_cycle_times() -> None:
    engine = TestEngine()
    _two_versions(engine)
    engine.register("work", lambda job: None)
    engine.register("work-v2", lambda job: None)
    engine.start("p", version=1)
    engine.start("p", version=2)
    engine.clock.advance(timedelta(seconds=30))
    engine.run_until_idle()
    engine.start("p", version=2)
    v1, v2 = engine.process_versions("p")
    assert (v1.completed_instances, v2.completed_instances, v2.active_instances) == (1, 1, 1)
    assert v1.cycle_time_mean == pytest.approx(30.0)
    assert v2.cycle_time_median == pytest.approx(30.0)
    assert v2.cycle_time_sample == 1
    assert v1.rollout_percent is None
    with pytest.raises(NotFoundError):
        engine.process_versions("nope")


def test_another_node_sees_a_rollout_change_on_its_next_read() -> None:
    first = TestEngine()
    _two_versions(first)
    second = TestEngine(store=first.store)
    second.rollout_refresh = 0
    assert second.start("p").version == 2
    first.set_rollout("p", {1: 100})
    assert second.start("p").version == 1
    first.clear_rollout("p")
    first.suspend_version("p", 2)
    with pytest.raises(InvalidCommandError, match="suspended"):
        second.start("p")


def test_a_version_can_be_tagged_after_its_deployment() -> None:
    engine = TestEngine()
    engine.deploy(_tagged(None))
    engine.deploy(_tagged("2.0", "work-v2"))
    engine.tag_version("p", 1, "legacy")
    assert engine.start("p", version_tag="legacy").version == 1
    with pytest.raises(InvalidCommandError, match=r"already has version tag '2\.0'"):
        engine.tag_version("p", 1, "2.0")
    with pytest.raises(NotFoundError):
        engine.tag_version("p", 3, "x")
    engine.tag_version("p", 1, None)
    assert [v.version_tag for v in engine.process_versions("p")] == [None, "2.0"]
