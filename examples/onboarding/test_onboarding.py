"""The onboarding example, tested with the testing kit: a model of how users test processes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from legato.testing import TestEngine

HERE = Path(__file__).parent


def test_good_score_is_approved_automatically(engine: TestEngine) -> None:
    instance = engine.start("onboarding", {"customer": "Ada", "score": 720})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed(
        "auto_approve", "charge_setup_fee", "create_account", "send_welcome_email", "provision"
    ).has_not_passed("manager_approval", "send_rejection").has_variables(approved=True)


def test_low_score_waits_for_a_manager(engine: TestEngine) -> None:
    instance = engine.start("onboarding", {"customer": "Bob", "score": 650})
    engine.run_until_idle()
    engine.assert_that(instance).is_active().is_waiting_at("manager_approval")
    [task] = engine.user_tasks(candidate_group="managers")
    assert task.due_at == engine.clock.now() + timedelta(days=2)
    engine.complete_user_task(task.user_task_key, {"approved": True}, user="grace")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("customer_onboarded")


def test_rejected_application_gets_a_rejection(engine: TestEngine) -> None:
    instance = engine.start("onboarding", {"customer": "Eve", "score": 400})
    engine.run_until_idle()
    [task] = engine.user_tasks()
    engine.complete_user_task(task.user_task_key, {"approved": False})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("application_rejected").has_not_passed(
        "charge_setup_fee"
    )


def test_the_retried_charge_is_made_once(engine: TestEngine) -> None:
    instance = engine.start("onboarding", {"customer": "Ada", "score": 720, "setupFee": 25})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed()
    failures = [h for h in engine.history(instance.key) if h.event_type == "JobFailed"]
    assert len(failures) == 1 and "did not answer" in failures[0].details["error_message"]
    charges = engine.payments.charges()  # type: ignore[attr-defined]
    assert len(charges) == 1
    [charge] = charges.values()
    assert engine.instance(instance.key).variables["chargeId"] == charge["charge_id"]
