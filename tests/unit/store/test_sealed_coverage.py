"""Every write of the store port either passes through the sealing of a
:class:`~legato.store.sealed.SealedStore` or is known to carry no variable value.

A write method added to the port and not wrapped would send sensitive values to the database
in the clear (a state-only instance save once did): this test names it, so that it is either
sealed or added below with the reason it holds no value.
"""

from __future__ import annotations

import re

from legato.store.ports import Transaction
from legato.store.sealed import SealedTransaction

_WRITES = re.compile(
    r"(insert|update|upsert|append|write|save|put|rewrite|add|set|move|enqueue|finish|failed)_"
)

NO_VALUES = {
    "add_batch_items": "instance keys of a batch operation",
    "enqueue_deliveries": "alerts posted to webhooks: names, keys, durations",
    "failed_batch_items": "the reasons a migration refused an instance, in words about elements",
    "finish_batch_items": "instance keys done",
    "insert_alert": "an alert: kind, process, element, durations",
    "insert_alerts": "alerts",
    "insert_api_key": "an account (hashed secret)",
    "insert_audit_checkpoint": "a hash of the audit chain",
    "insert_audit_record": "audit records mask variable values themselves",
    "insert_batch_operation": "a batch's plan or key rotation: ids and options",
    "insert_definition": "a model's source",
    "insert_form": "a form's source",
    "insert_start_request": "a request id and the instance key it made",
    "insert_subscriptions": "message names and correlation keys (matched by equality)",
    "insert_timers": "due times and element ids",
    "insert_user": "an account (hashed password)",
    "insert_webhook": "a webhook's URL and secret",
    "move_user_tasks": "user task keys and element ids",
    "put_rollout": "a rollout rule",
    "put_sign_in_failures": "counts of failed sign-ins",
    "rewrite_history_chunks": "used by key rotation only, which seals what it writes",
    "save_node": "a node's name and heartbeat",
    "save_service_level": "an expected duration",
    "set_definition_suspended": "a flag",
    "set_definition_tag": "a version tag",
    "update_api_key": "an account",
    "update_batch_operation": "a batch's progress",
    "update_delivery": "a webhook delivery's attempts",
    "update_user": "an account",
    "upsert_user_task": "a user task's assignment and dates, no variables",
}
"""Writes that hold no variable value, with what they hold."""


def _sealed_methods() -> set[str]:
    return {
        name
        for cls in SealedTransaction.__mro__
        if cls.__module__.startswith("legato.store.seal")
        for name in vars(cls)
    }


def test_every_write_of_the_port_is_sealed_or_holds_no_value() -> None:
    writes = {n for n in dir(Transaction) if not n.startswith("_") and _WRITES.match(n)}
    unsealed = writes - _sealed_methods()

    assert sorted(unsealed - NO_VALUES.keys()) == [], "writes that bypass the sealing"
    assert sorted(NO_VALUES.keys() - writes) == [], "no such write of the port any more"


def test_the_writes_that_carry_values_are_sealed() -> None:
    sealed = _sealed_methods()
    for name in ("insert_instance", "update_instance", "update_instance_states",
                 "append_history_chunks", "upsert_incident", "insert_jobs", "update_job",
                 "insert_message", "write_derived", "write_facts"):  # fmt: skip
        assert name in sealed, name
