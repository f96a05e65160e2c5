"""User tasks, call activities, multi-instance, standard loops, mappings."""

from __future__ import annotations

from decimal import Decimal

from bpmn_helpers import HEADER, chain, process, service
from legato import Job
from legato.testing import TestEngine


def test_user_task_waits_until_completed_with_assignment_and_form() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:userTask id="approve" name="Approve credit"><bpmn:extensionElements>'
        '<zeebe:assignmentDefinition assignee="=manager" candidateGroups="managers, risk"/>'
        '<zeebe:formDefinition formKey="approval-form"/>'
        "</bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:endEvent id="e"/>' + chain("s", "approve", "e")
    )
    engine = TestEngine()
    engine.deploy(xml)
    instance = engine.start("p", {"manager": "grace"})
    engine.assert_that(instance).is_active().is_waiting_at("approve")
    [task] = engine.user_tasks()
    assert (task.name, task.assignee, task.form_key) == ("Approve credit", "grace", "approval-form")
    assert task.candidate_groups == ("managers", "risk")
    assert engine.user_tasks(candidate_group="risk") == [task]
    assert engine.user_tasks(assignee="someone-else") == []
    engine.complete_user_task(task.user_task_key, {"approved": True}, user="grace")
    engine.assert_that(instance).is_completed().has_variables(approved=True)
    [done] = engine.user_tasks(state="completed")
    assert done.completed_by == "grace"


CALLED = (
    '<bpmn:process id="child" isExecutable="true"><bpmn:startEvent id="cs"/>'
    '<bpmn:scriptTask id="calc"><bpmn:extensionElements>'
    '<zeebe:script expression="=amount * 2" resultVariable="doubled"/></bpmn:extensionElements>'
    "</bpmn:scriptTask>"
    '<bpmn:endEvent id="ce"/>' + chain("cs", "calc", "ce", prefix="c") + "</bpmn:process>"
)


def test_call_activity_runs_the_child_and_maps_variables_in_and_out() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:callActivity id="call"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="child" propagateAllChildVariables="false"/>'
        '<zeebe:ioMapping><zeebe:input source="=price" target="amount"/>'
        '<zeebe:output source="=doubled" target="total"/></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:callActivity>"
        '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"),
        extra=CALLED,
    )
    engine = TestEngine()
    engine.deploy(xml)
    instance = engine.start("p", {"price": 21})
    engine.assert_that(instance).is_completed().has_variables(total=Decimal(42), price=21)
    info = engine.instance(instance.key)
    assert "doubled" not in info.variables and "amount" not in info.variables
    [child] = [i for i in engine.instances() if i.process_id == "child"]
    assert child.parent_instance_key == instance.key
    assert child.status == "completed"


def test_cancelling_a_parent_cancels_the_called_child() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:callActivity id="call" calledElement="waiting"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"),
        extra='<bpmn:process id="waiting" isExecutable="true"><bpmn:startEvent id="ws"/>'
        '<bpmn:userTask id="ut"/>' + chain("ws", "ut", prefix="w") + "</bpmn:process>",
    )
    engine = TestEngine()
    engine.deploy(xml)
    parent = engine.start("p")
    [child] = [i for i in engine.instances() if i.process_id == "waiting"]
    assert len(engine.user_tasks()) == 1
    engine.cancel(parent.key)
    assert engine.instance(parent.key).status == "terminated"
    assert engine.instance(child.key).status == "terminated"
    assert engine.user_tasks() == []


def _mi(sequential: bool, extra_loop: str = "") -> str:
    seq = "true" if sequential else "false"
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:serviceTask id="notify"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="notify"/></bpmn:extensionElements>'
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{seq}">'
        '<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=customers"'
        ' inputElement="customer" outputCollection="results" outputElement="=greeting"/>'
        f"</bpmn:extensionElements>{extra_loop}</bpmn:multiInstanceLoopCharacteristics>"
        "</bpmn:serviceTask>"
        '<bpmn:endEvent id="e"/>' + chain("s", "notify", "e")
    )


def test_parallel_multi_instance_over_a_collection_collects_outputs_in_order() -> None:
    engine = TestEngine()
    engine.deploy(_mi(sequential=False))
    seen: list[tuple[str, int]] = []

    @engine.task("notify")
    def notify(job: Job) -> dict[str, object]:
        seen.append((job.variables["customer"], int(job.variables["loopCounter"])))
        return {"greeting": f"hello {job.variables['customer']}"}

    instance = engine.start("p", {"customers": ["ada", "grace", "alan"]})
    assert len(engine.jobs()) == 3
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(
        results=["hello ada", "hello grace", "hello alan"]
    )
    assert sorted(seen) == [("ada", 1), ("alan", 3), ("grace", 2)]
    assert engine.path(instance).count("notify") == 4  # three inner instances and the body


def test_sequential_multi_instance_runs_one_after_another() -> None:
    engine = TestEngine()
    engine.deploy(_mi(sequential=True))
    engine.register("notify", lambda job: {"greeting": job.variables["customer"].upper()})
    instance = engine.start("p", {"customers": ["a", "b"]})
    assert len(engine.jobs()) == 1
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(results=["A", "B"])


def test_completion_condition_ends_the_remaining_instances() -> None:
    engine = TestEngine()
    engine.deploy(
        _mi(
            sequential=False,
            extra_loop='<bpmn:completionCondition xsi:type="bpmn:tFormalExpression">'
            '=greeting = "stop"'
            "</bpmn:completionCondition>",
        )
    )
    engine.register("notify", lambda job: {"greeting": "stop"})
    instance = engine.start("p", {"customers": [1, 2, 3]})
    engine.run_once()
    engine.assert_that(instance).is_completed()
    assert engine.jobs() == []


def test_multi_instance_with_cardinality_and_negative_cardinality() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:task id="t">'
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>=n</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        '<bpmn:endEvent id="e"/>' + chain("s", "t", "e")
    )
    engine = TestEngine()
    engine.deploy(xml)
    ok = engine.start("p", {"n": 3})
    engine.assert_that(ok).is_completed()
    assert engine.path(ok).count("t") == 4
    bad = engine.start("p", {"n": -1})
    [incident] = engine.incidents(instance_key=bad.key)
    assert "negative" in incident.message


def _loop(test_before: bool, condition: str, maximum: str = "") -> str:
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:scriptTask id="inc"><bpmn:extensionElements>'
        '<zeebe:script expression="=i + 1" resultVariable="i"/></bpmn:extensionElements>'
        f'<bpmn:standardLoopCharacteristics testBefore="{str(test_before).lower()}" {maximum}>'
        f'<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">{condition}</bpmn:loopCondition>'
        "</bpmn:standardLoopCharacteristics></bpmn:scriptTask>"
        '<bpmn:endEvent id="e"/>' + chain("s", "inc", "e")
    )


def test_standard_loop_repeats_while_the_condition_holds() -> None:
    engine = TestEngine()
    engine.deploy(_loop(False, "i &lt; 3"))
    instance = engine.start("p", {"i": 0})
    engine.assert_that(instance).is_completed().has_variables(i=Decimal(3))


def test_standard_loop_test_before_false_runs_zero_times_and_maximum_caps() -> None:
    engine = TestEngine()
    engine.deploy(_loop(True, "false"))
    instance = engine.start("p", {"i": 0})
    engine.assert_that(instance).is_completed().has_variables(i=0)
    capped = TestEngine()
    capped.deploy(_loop(False, "true", 'loopMaximum="3"'))
    instance = capped.start("p", {"i": 0})
    capped.assert_that(instance).is_completed().has_variables(i=Decimal(3))


def test_input_and_output_mappings_keep_locals_local() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + service(
            "t",
            "work",
            '<zeebe:ioMapping><zeebe:input source="=order.total" target="amount"/>'
            '<zeebe:output source="=fee" target="order.fee"/></zeebe:ioMapping>',
        )
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "t", "e")
    )
    engine = TestEngine()
    engine.deploy(xml)
    engine.register("work", lambda job: {"fee": job.variables["amount"] / 10})
    instance = engine.start("p", {"order": {"total": 50}})
    engine.run_until_idle()
    info = engine.instance(instance.key)
    assert info.variables == {"order": {"total": 50, "fee": Decimal(5)}}


def test_process_properties_start_as_null() -> None:
    xml = HEADER + (
        '<bpmn:process id="p" isExecutable="true"><bpmn:property id="prop" name="data"/>'
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e") + "</bpmn:process>"
        "</bpmn:definitions>"
    )
    engine = TestEngine()
    engine.deploy(xml)
    instance = engine.start("p")
    assert engine.instance(instance.key).variables == {"data": None}
