"""Handlers of the customer-onboarding example.

Run them with ``legato run examples/onboarding/onboarding.bpmn --handlers
examples/onboarding/handlers.py --var score=720`` or register them in Python with
``engine.register_module(handlers)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import legato
from legato import Job, JobContext


class PaymentProvider:
    """A stand-in for a card processor that honours idempotency keys, like real ones do.

    Charges are kept in a JSON ledger file so they survive the process. The first request for
    each key "loses its response" (the charge is made, but the caller sees a timeout), which is
    exactly the case where a retry without an idempotency key would charge twice.
    """

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()

    def charges(self) -> dict[str, Any]:
        """Every charge made, by idempotency key."""
        if not self.ledger.exists():
            return {}
        loaded: dict[str, Any] = json.loads(self.ledger.read_text())
        return loaded

    def charge(self, customer: str, amount: Decimal, idempotency_key: str) -> str:
        """Charge once per idempotency key; return the charge id."""
        with self._lock:
            charges = self.charges()
            if idempotency_key in charges:
                return str(charges[idempotency_key]["charge_id"])
            charge_id = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
            charges[idempotency_key] = {
                "charge_id": charge_id,
                "customer": customer,
                "amount": str(amount),
            }
            self.ledger.write_text(json.dumps(charges, indent=2))
        raise TimeoutError("payment provider did not answer in time (the charge went through)")


PAYMENTS = PaymentProvider(Path(os.environ.get("ONBOARDING_LEDGER", "onboarding-payments.json")))


@legato.handler("credit-check")
def credit_check(job: Job) -> dict[str, Any]:
    """Ask the credit bureau for a score (the given ``score``, else one derived from the
    applicant's identity number ``idNumber``, or the name when there is none). Both are
    sensitive (the process declares them): this handler gets them as they are.

    An application with ``bureauDown`` set to true stands for a bureau that cannot be reached:
    the job becomes an incident at once, for an operator to fix (set it to false) and retry.
    """
    if job.variables.get("bureauDown") is True:
        raise legato.NonRetryableError("the credit bureau cannot be reached (bureauDown is true)")
    given = job.variables.get("score")
    if given is not None:
        return {"score": given}
    basis = str(job.variables.get("idNumber") or job.variables.get("customer", "anonymous"))
    return {"score": 500 + int(hashlib.sha256(basis.encode()).hexdigest(), 16) % 350}


@legato.handler("prepare-template")
def prepare_template(job: Job) -> dict[str, Any]:
    """Pick the account template for the customer's segment."""
    segment = job.variables.get("segment", "retail")
    return {"template": f"{segment}-standard"}


@legato.handler("charge-fee")
def charge_fee(job: Job, context: JobContext) -> dict[str, Any]:
    """Charge the setup fee, passing the job's idempotency key to the provider."""
    customer = str(job.variables.get("customer", "anonymous"))
    amount = Decimal(str(job.variables.get("setupFee", "25.00")))
    charge_id = PAYMENTS.charge(customer, amount, context.idempotency_key)
    return {"chargeId": charge_id}


@legato.handler("create-account")
def create_account(job: Job) -> dict[str, Any]:
    """Open the account from the template."""
    customer = str(job.variables.get("customer", "anonymous"))
    return {"accountId": "acc-" + hashlib.sha256(customer.encode()).hexdigest()[:8]}


@legato.handler("send-email")
def send_email(job: Job) -> dict[str, Any]:
    """Send the welcome or the rejection e-mail (recorded, not sent, in this example)."""
    kind = "welcome" if job.element_id == "send_welcome_email" else "rejection"
    return {f"{kind}EmailSent": True}


@legato.handler("provision")
def provision(job: Job) -> dict[str, Any]:
    """Provision the customer's services."""
    return {"provisioned": ["online-banking", "debit-card"]}
