"""Version 2 of the onboarding example: the fee is charged as soon as the application is
approved, a manager is reminded after a day; the v1 instances waiting for a manager are
checked and migrated to v2 in a batch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from legato.testing import TestEngine

HERE = Path(__file__).parent


def test_v2_charges_the_fee_before_the_template_is_ready(engine: TestEngine) -> None:
    engine.deploy(HERE / "onboarding-v2.bpmn")
    instance = engine.start("onboarding", {"customer": "Ada", "score": 720})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed_in_order(
        "auto_approve", "charge_setup_fee", "join", "create_account"
    )
    assert engine.instance(instance.key).version == 2
    rejected = engine.start("onboarding", {"customer": "Eve", "score": 400})
    engine.run_until_idle()
    [task] = engine.user_tasks(instance_key=rejected.key)
    engine.complete_user_task(task.user_task_key, {"approved": False})
    engine.run_until_idle()
    engine.assert_that(rejected).is_completed().has_passed(
        "send_rejection", "application_rejected"
    ).has_not_passed("charge_setup_fee", "create_account")


def test_waiting_v1_instances_are_checked_and_migrated_then_reminded(engine: TestEngine) -> None:
    waiting = [engine.start("onboarding", {"customer": f"c{i}", "score": 600}) for i in range(4)]
    engine.run_until_idle()
    for instance in waiting:
        engine.assert_that(instance).is_waiting_at("manager_approval")
    engine.deploy(HERE / "onboarding-v2.bpmn")
    plan = engine.migration_plan("onboarding", 1, 2)
    checks = engine.check_migration(plan, [i.key for i in waiting])
    assert all(c.ok for c in checks), [c.reason for c in checks]
    assert any("timer 'approval_overdue'" in change for change in checks[0].changes)
    batch = engine.migrate_in_batch(plan, by="ops")
    assert batch.total == 4
    engine.run_until_idle()
    assert engine.batch_operation(batch.key).done == 4
    engine.clock.advance(timedelta(days=1, minutes=1))
    engine.run_until_idle()
    for instance in waiting:
        engine.assert_that(instance).has_passed("remind_manager").is_waiting_at("manager_approval")
    for task in engine.user_tasks(candidate_group="managers"):
        engine.complete_user_task(task.user_task_key, {"approved": True}, user="grace")
    engine.run_until_idle()
    for instance in waiting:
        engine.assert_that(instance).is_completed().has_passed_in_order(
            "manager_approval", "charge_setup_fee", "create_account"
        )
    # One charge each (the provider dedupes by the job's idempotency key, and its first
    # answer is lost on purpose, so the handler runs twice for each: one charge, not two).
    charges = engine.payments.charges()  # type: ignore[attr-defined]
    assert sorted(c["customer"] for c in charges.values()) == [f"c{i}" for i in range(4)]


def test_ten_percent_of_new_customers_go_to_v2_and_back(engine: TestEngine) -> None:
    engine.deploy(HERE / "onboarding-v2.bpmn")
    engine.set_rollout("onboarding", {1: 90, 2: 10})
    started = [
        engine.start("onboarding", {"customer": f"k{i}", "score": 600}, business_key=f"k{i}")
        for i in range(400)
    ]
    on_v2 = [i for i in started if i.version == 2]
    assert 20 <= len(on_v2) <= 60  # 10 %: where each business key falls is fixed
    reasons = {i.version: engine.instance(i.key).version_reason for i in started}
    assert reasons == {1: "rollout: 90% split", 2: "rollout: 10% split"}
    again = engine.start("onboarding", {"customer": "k0"}, business_key="k0")
    assert again.version == started[0].version  # a customer always gets the same version
    engine.set_rollout("onboarding", {1: 100, 2: 0})  # the rollback
    assert engine.start("onboarding", {"customer": "z"}, business_key="k7").version == 1


def test_a_v1_instance_whose_decision_already_reached_the_join_cannot_move() -> None:
    engine = TestEngine()
    engine.deploy(HERE / "onboarding.bpmn")
    engine.register("credit-check", lambda job: {"score": 720})  # no template handler
    instance = engine.start("onboarding", {"customer": "Ada"})
    engine.run_until_idle()
    # The decision's token waits at the join, by a flow version 2 no longer has.
    assert engine.state(instance.key).joins
    engine.deploy(HERE / "onboarding-v2.bpmn")
    [check] = engine.check_migration(engine.migration_plan("onboarding", 1, 2), [instance.key])
    assert check.reason == (
        "a token waits at the join 'Ready' (join), arrived by the sequence flow "
        "'f_decision_join', which does not lead to 'Ready' (join) in version 2: the join "
        "would wait for ever"
    )
