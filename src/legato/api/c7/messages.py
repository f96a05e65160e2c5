"""``/message`` and ``/signal``: Camunda 7 correlation and signals.

Camunda 7 correlates a message by name, narrowed by ``businessKey``,
``processInstanceId`` and ``correlationKeys`` (process variables equal to the given
values), to exactly one receiver unless ``all`` is set: a waiting instance first, else a
message start event; none or several give 400 ``MismatchingMessageCorrelationException``.
Legato serves this with :meth:`legato.Engine.correlate_message`, which lets the receivers be
chosen inside the transaction that reads the subscriptions. The subscriptions considered
are those without a correlation key (models drawn for Camunda 7) and those whose key equals
the business key (Zeebe-style models that correlate on it).

Difference: ``localCorrelationKeys`` are compared with the instance's variables like
``correlationKeys``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from legato.api.c7 import ids
from legato.api.c7.dto import DefinitionIds, instance_dto
from legato.api.c7.errors import C7Error, bad_request
from legato.api.c7.ids import Kind
from legato.api.c7.routing import C7Route, as_object, flag, no_content, ok, text
from legato.api.c7.variables import decode_variables, encode_variables
from legato.api.deps import EngineDep, require, viewer_of
from legato.engine import values
from legato.security import MESSAGES_PUBLISH, Principal
from legato.store.instances import Instances
from legato.store.ports import Transaction
from legato.store.records import SubscriptionRecord

router = APIRouter(route_class=C7Route, tags=["c7: messages"])

Publisher = Annotated[Principal, Depends(require(MESSAGES_PUBLISH))]
AnyBody = Annotated[Any, Body()]

MISMATCH = "MismatchingMessageCorrelationException"


class _Mismatch(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Filter:
    """Which subscriptions a Camunda correlation request means, and which one(s) it takes."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.name = text(body, "messageName") or ""
        self.business_key = text(body, "businessKey")
        instance_id = text(body, "processInstanceId")
        self.instance_key = ids.key_of(Kind.INSTANCE, instance_id) if instance_id else None
        self.has_instance = instance_id is not None
        self.expected = {
            **decode_variables(body.get("correlationKeys")),
            **decode_variables(body.get("localCorrelationKeys")),
        }
        self.all = flag(body.get("all"))
        self.tenant = text(body, "tenantId")
        self.chosen: list[SubscriptionRecord] = []

    def choose(
        self, tx: Transaction, found: list[SubscriptionRecord]
    ) -> Sequence[SubscriptionRecord]:
        waiting = self._waiting(tx, [s for s in found if s.instance_key is not None])
        starts = self._starts([s for s in found if s.instance_key is None])
        chosen = waiting + starts if self.all else self._single(waiting, starts)
        self.chosen = chosen
        return chosen

    def _single(
        self, waiting: list[SubscriptionRecord], starts: list[SubscriptionRecord]
    ) -> list[SubscriptionRecord]:
        pick = waiting or starts
        if not pick:
            raise _Mismatch(
                f"Cannot correlate message '{self.name}': No process definition or "
                "execution matches the parameters"
            )
        if len(pick) > 1:
            raise _Mismatch(
                f"Cannot correlate message '{self.name}': {len(pick)} executions match the "
                "parameters; exactly one must"
            )
        return pick

    def _waiting(self, tx: Instances, subs: list[SubscriptionRecord]) -> list[SubscriptionRecord]:
        if self.tenant is not None or (self.has_instance and self.instance_key is None):
            return []
        if self.instance_key is not None:
            subs = [s for s in subs if s.instance_key == self.instance_key]
        if self.business_key is None and not self.expected:
            return _one_per_instance(subs)
        keys = sorted({s.instance_key for s in subs if s.instance_key is not None})
        records = {r.instance_key: r for r in tx.get_instances(keys)} if keys else {}
        kept = []
        for sub in subs:
            record = records.get(sub.instance_key or 0)
            if record is None:
                continue
            if self.business_key is not None and record.business_key != self.business_key:
                continue
            if self.expected and not _variables_match(
                record.state, record.instance_key, self.expected
            ):
                continue
            kept.append(sub)
        return _one_per_instance(kept)

    def _starts(self, subs: list[SubscriptionRecord]) -> list[SubscriptionRecord]:
        if self.tenant is not None or self.has_instance or self.expected:
            return []
        seen: set[int] = set()
        kept = []
        for sub in subs:
            if sub.definition_key not in seen:
                seen.add(sub.definition_key)
                kept.append(sub)
        return kept


def _one_per_instance(subs: list[SubscriptionRecord]) -> list[SubscriptionRecord]:
    seen: set[int | None] = set()
    kept = []
    for sub in subs:
        if sub.instance_key not in seen:
            seen.add(sub.instance_key)
            kept.append(sub)
    return kept


def _variables_match(
    state: Mapping[str, Any], instance_key: int, expected: Mapping[str, Any]
) -> bool:
    stored = state.get("variables", {}).get(str(instance_key), {})
    for name, value in expected.items():
        if name not in stored or values.decode(stored[name]) != value:
            return False
    return True


@router.post("/message")
def correlate(
    request: Request, engine: EngineDep, principal: Publisher, body: AnyBody = None
) -> Response:
    """Correlate a message: 204, or 200 with the results when ``resultEnabled``."""
    data = as_object(body)
    if not text(data, "messageName"):
        raise bad_request("No message name found in request body")
    if data.get("tenantId") is not None and flag(data.get("withoutTenantId")):
        raise bad_request(
            "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'."
        )
    with_result = flag(data.get("resultEnabled"))
    with_variables = flag(data.get("variablesInResultEnabled"))
    if with_variables and not with_result:
        raise bad_request(
            "Parameter 'variablesInResultEnabled' cannot be used without 'resultEnabled' set "
            "to true."
        )
    variables = {
        **decode_variables(data.get("processVariables")),
        **decode_variables(data.get("processVariablesLocal")),
        **decode_variables(data.get("processVariablesToTriggeredScope")),
    }
    selection = _Filter(data)
    keys: list[str | int | None] = [None]
    if selection.business_key is not None:
        keys.append(selection.business_key)
    try:
        result = engine.correlate_message(
            selection.name,
            variables,
            choose=selection.choose,
            correlation_keys=keys,
            business_key=selection.business_key,
        )
    except _Mismatch as mismatch:
        raise C7Error(400, mismatch.message, MISMATCH) from None
    if not with_result:
        return no_content()
    definitions = DefinitionIds(engine)
    answers: list[dict[str, Any]] = []
    for sub in selection.chosen:
        if sub.instance_key is None:
            continue
        answer: dict[str, Any] = {
            "resultType": "Execution",
            "processInstance": None,
            "execution": {
                "id": ids.to_uuid(Kind.EXECUTION, sub.element_instance_key or sub.instance_key),
                "processInstanceId": ids.to_uuid(Kind.INSTANCE, sub.instance_key),
                "ended": False,
                "tenantId": None,
            },
        }
        if with_variables:
            shown = engine.instance(sub.instance_key, viewer=viewer_of(request))
            answer["variables"] = encode_variables(shown.variables)
        answers.append(answer)
    for key in result.started_keys:
        info = engine.instance(key)
        answer = {
            "resultType": "ProcessDefinition",
            "processInstance": instance_dto(request, info, definitions),
            "execution": None,
        }
        if with_variables:
            shown = engine.masking.instance(viewer_of(request), info)
            answer["variables"] = encode_variables(shown.variables)
        answers.append(answer)
    return ok(answers)


@router.post("/signal", status_code=204)
def signal(engine: EngineDep, principal: Publisher, body: AnyBody = None) -> Response:
    """Broadcast a signal to every element waiting for it (``executionId`` and tenants
    narrow nothing in Legato: a signal reaches every receiver)."""
    data = as_object(body)
    name = text(data, "name")
    if not name:
        raise bad_request("No signal name given")
    if data.get("tenantId") is not None and flag(data.get("withoutTenantId")):
        raise bad_request(
            "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'."
        )
    engine.broadcast_signal(name, decode_variables(data.get("variables")))
    return no_content()
