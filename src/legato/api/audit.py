"""Recording every state-changing request in the audit trail (:mod:`legato.security.audit`).

:class:`AuditRecorder` is an ASGI middleware around the whole application (the API and the
web app). For each POST, PUT, PATCH and DELETE it finds the action in :data:`RULES` by
method and path, lets the request run, and then appends one record: the caller (the
principal the authentication put on the request), the client's address and user agent, the
resource named by the path, and the outcome: ``denied`` for 401 and 403, ``allowed``
otherwise, with the HTTP status in the details. A request with wrong API credentials is an
``auth.sign_in_failed`` whatever its method.

The record is written after the response has been sent, in a transaction of its own, so
the caller does not wait for it; the action and its record are not one transaction (a crash
between them loses the record; see :mod:`legato.security.audit`). A failure to record is
logged, never answered.

Not recorded: reads (GET, and the POSTs that only search or count), a worker's job traffic
(activating, completing, failing jobs: the instance's history has it), the dry runs of a
migration, and web requests without a session (they are sent to sign in). Routes add what
the path does not say (a created user's name, the old and new values of variables) with
:func:`note_audit` (and :func:`legato.api.v2.common.note_variables`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legato.security import Principal
from legato.security.audit import (
    ALLOWED,
    DENIED,
    Actor,
    AuditTrail,
    Resource,
    Source,
)
from legato.security.sensitive import Viewer

logger = logging.getLogger("legato.audit")

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Rule:
    """How the requests of one route are recorded."""

    method: str
    path: str
    """The path with ``{name}`` for each part that varies; the first names the resource."""
    action: str
    """The action of :data:`~legato.security.audit.ACTIONS`; empty: not recorded."""
    resource_type: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = re.split(r"\{[^}]+\}", self.path)
        regex = "([^/]+)".join(re.escape(part) for part in parts)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


def _rules(action: str, resource_type: str | None, *routes: str) -> list[Rule]:
    return [Rule(r.split()[0], r.split()[1], action, resource_type) for r in routes]


_V2, _N, _C7 = "/v2", "/legato/v1", "/engine-rest"

RULES: tuple[Rule, ...] = (
    # Reads and a worker's job traffic: not recorded (listed before the catch-alls).
    *_rules(
        "",
        None,
        f"POST {_V2}/jobs/activation",
        f"POST {_V2}/jobs/{{key}}/completion",
        f"POST {_V2}/jobs/{{key}}/failure",
        f"POST {_V2}/jobs/{{key}}/error",
        f"POST {_V2}/user-tasks/{{key}}/variables/search",
        f"POST {_N}/migrations/check",
        f"POST {_C7}/external-task/fetchAndLock",
        f"POST {_C7}/external-task/{{id}}/complete",
        f"POST {_C7}/external-task/{{id}}/failure",
        f"POST {_C7}/external-task/{{id}}/bpmnError",
        f"POST {_C7}/external-task/{{id}}/extendLock",
        f"POST {_C7}/external-task/{{id}}/unlock",
        f"POST {_C7}/external-task/{{id}}/lock",
        f"POST {_C7}/history/process-instance",
        f"POST {_C7}/history/task",
        f"POST {_C7}/variable-instance",
        f"POST {_C7}/task",
        f"POST {_C7}/task/count",
        "POST /cockpit/processes/{id}/migrate/check",
    ),
    *_rules("auth.sign_in", None, "POST /oauth/token", "POST /login"),
    *_rules("auth.sign_out", None, "POST /logout"),
    *_rules(
        "definition.deploy",
        "deployment",
        f"POST {_V2}/deployments",
        f"POST {_C7}/deployment/create",
        "POST /cockpit/deployments",
    ),
    *_rules(
        "instance.start",
        "process",
        f"POST {_V2}/process-instances",
        f"POST {_C7}/process-definition/key/{{key}}/start",
        f"POST {_C7}/process-definition/key/{{key}}/tenant-id/{{tenant}}/start",
        f"POST {_C7}/process-definition/{{id}}/start",
        "POST /start",
    ),
    *_rules(
        "instance.cancel",
        "instance",
        f"POST {_V2}/process-instances/{{key}}/cancellation",
        f"DELETE {_C7}/process-instance/{{id}}",
        "POST /cockpit/instances/{key}/cancel",
    ),
    *_rules(
        "instance.suspend",
        "instance",
        f"POST {_N}/process-instances/{{key}}/suspension",
        f"PUT {_C7}/process-instance/{{id}}/suspended",
        "POST /cockpit/instances/{key}/suspend",
    ),
    *_rules(
        "instance.resume",
        "instance",
        f"DELETE {_N}/process-instances/{{key}}/suspension",
        "POST /cockpit/instances/{key}/resume",
    ),
    *_rules(
        "instance.migrate",
        "migration",
        f"POST {_N}/migrations",
        f"POST {_N}/migrations/{{key}}/pause",
        f"POST {_N}/migrations/{{key}}/resume",
        f"POST {_N}/migrations/{{key}}/cancel",
        "POST /cockpit/migrations/{key}/{action}",
    ),
    *_rules("instance.migrate", "process", "POST /cockpit/processes/{id}/migrate"),
    *_rules(
        "instance.batch",
        "batch_operation",
        f"POST {_N}/batch-operations",
        "POST /cockpit/instances/bulk",
    ),
    *_rules(
        "instance.modify",
        "instance",
        f"POST {_N}/instances/{{key}}/modification",
        "POST /cockpit/instances/{key}/modify",
    ),
    *_rules(
        "definition.suspend",
        "process",
        f"POST {_N}/processes/{{id}}/versions/{{version}}/suspension",
        "POST /cockpit/processes/{id}/versions/{version}/suspension",
    ),
    *_rules(
        "definition.resume",
        "process",
        f"DELETE {_N}/processes/{{id}}/versions/{{version}}/suspension",
    ),
    *_rules("definition.tag", "process", f"PUT {_N}/processes/{{id}}/versions/{{version}}/tag"),
    *_rules(
        "definition.rollout",
        "process",
        f"PUT {_N}/processes/{{id}}/rollout",
        f"DELETE {_N}/processes/{{id}}/rollout",
        "POST /cockpit/processes/{id}/rollout",
    ),
    *_rules(
        "alert.resolve",
        "alert",
        f"POST {_N}/alerts/{{key}}/resolution",
        "POST /cockpit/alerts/{key}/resolve",
    ),
    *_rules("sla.change", "process", f"PUT {_N}/service-levels", f"DELETE {_N}/service-levels"),
    *_rules("webhook.change", "webhook", f"POST {_N}/webhooks", f"DELETE {_N}/webhooks/{{key}}"),
    *_rules(
        "variables.change",
        "instance",
        f"PUT {_N}/process-instances/{{key}}/variables",
        f"POST {_C7}/process-instance/{{id}}/variables",
        f"PUT {_C7}/process-instance/{{id}}/variables/{{name}}",
        "POST /cockpit/instances/{key}/variables",
    ),
    *_rules(
        "variables.change", "element_instance", f"PUT {_V2}/element-instances/{{key}}/variables"
    ),
    *_rules(
        "incident.retry",
        "incident",
        f"POST {_N}/incidents/{{key}}/retry",
        "POST /cockpit/incidents/{key}/retry",
    ),
    *_rules("incident.retry", "instance", "POST /cockpit/instances/{key}/incidents/{id}/retry"),
    *_rules("incident.retry", "incident_group", "POST /cockpit/incidents/groups/{group}/retry"),
    *_rules(
        "incident.resolve",
        "incident",
        f"POST {_V2}/incidents/{{key}}/resolution",
        f"DELETE {_C7}/incident/{{id}}",
    ),
    *_rules(
        "message.publish",
        "message",
        f"POST {_V2}/messages/publication",
        f"POST {_V2}/messages/correlation",
        f"POST {_C7}/message",
    ),
    *_rules("message.publish", "signal", f"POST {_V2}/signals/broadcast", f"POST {_C7}/signal"),
    *_rules(
        "task.claim",
        "user_task",
        f"POST {_C7}/task/{{id}}/claim",
        f"POST {_C7}/task/{{id}}/unclaim",
        "POST /tasks/{key}/claim",
        "POST /tasks/{key}/unclaim",
    ),
    *_rules(
        "task.assign",
        "user_task",
        f"POST {_V2}/user-tasks/{{key}}/assignment",
        f"DELETE {_V2}/user-tasks/{{key}}/assignee",
        f"POST {_C7}/task/{{id}}/assignee",
        f"POST {_C7}/task/{{id}}/delegate",
        "POST /tasks/{key}/assign",
    ),
    *_rules(
        "task.complete",
        "user_task",
        f"POST {_V2}/user-tasks/{{key}}/completion",
        f"POST {_C7}/task/{{id}}/complete",
        f"POST {_C7}/task/{{id}}/submit-form",
        f"POST {_C7}/task/{{id}}/resolve",
        "POST /tasks/{key}/complete",
    ),
    *_rules(
        "task.change",
        "user_task",
        f"PUT {_C7}/task/{{id}}/variables/{{name}}",
        f"PUT {_C7}/task/{{id}}/localVariables/{{name}}",
    ),
    *_rules(
        "job.change", "job", f"PATCH {_V2}/jobs/{{key}}", f"PUT {_C7}/external-task/{{id}}/retries"
    ),
    *_rules("user.create", "user", f"POST {_N}/users"),
    *_rules("user.change", "user", f"PATCH {_N}/users/{{name}}"),
    *_rules("user.delete", "user", f"DELETE {_N}/users/{{name}}"),
    *_rules("api_key.create", "api_key", f"POST {_N}/api-keys"),
    *_rules("api_key.change", "api_key", f"PATCH {_N}/api-keys/{{id}}"),
    *_rules("api_key.revoke", "api_key", f"DELETE {_N}/api-keys/{{id}}"),
    *_rules("audit.checkpoint", None, f"POST {_N}/audit/checkpoint"),
)
"""Every state-changing route and its action, the first match wins. A state-changing
request that matches none is recorded as ``api.request`` (unless no route answered it)."""

_SEARCHES = re.compile(r"^/v2/[^/]+/search$")


@dataclass(frozen=True, slots=True)
class AuditNote:
    """What a route adds to its request's record (None: as the middleware found it)."""

    actor: Actor | None = None
    action: str | None = None
    resource: Resource | None = None
    outcome: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def note_audit(
    request: Request,
    *,
    actor: Actor | None = None,
    action: str | None = None,
    resource: Resource | None = None,
    outcome: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add to the audit record of ``request`` (given values replace earlier ones, details
    are merged)."""
    earlier: AuditNote = getattr(request.state, "audit", None) or AuditNote()
    request.state.audit = replace(
        earlier,
        actor=actor or earlier.actor,
        action=action or earlier.action,
        resource=resource or earlier.resource,
        outcome=outcome or earlier.outcome,
        details={**earlier.details, **(details or {})},
    )


def rule_for(method: str, path: str) -> tuple[Rule, str | None] | None:
    """The rule of a request and the resource id its path names (None: no rule)."""
    for rule in RULES:
        if rule.method == method:
            found = rule.pattern.match(path)
            if found is not None:
                return rule, (found.group(1) if found.groups() else None)
    return None


def _reveal_entry(scope: Scope) -> dict[str, Any] | None:
    """The ``value.reveal`` record of a request that showed sensitive values unmasked: the
    processes, instances and variable names (never the values); None when it showed none."""
    state = scope.get("state", {})
    viewer: Viewer | None = state.get("viewer")
    if viewer is None or not viewer.revealed or viewer.principal is None:
        return None
    keys = {instance_key for _, instance_key in viewer.revealed}
    only = next(iter(keys)) if len(keys) == 1 else None
    client = scope.get("client")
    headers = Headers(scope=scope)
    return {
        "actor": Actor.of(viewer.principal),
        "action": "value.reveal",
        "resource": Resource("instance", str(only)) if only is not None else None,
        "details": {"method": scope["method"], "path": scope["path"], **viewer.reveal_details()},
        "source": Source(client[0] if client else None, headers.get("user-agent")),
    }


def _claimed_actor(headers: Headers) -> Actor:
    """Who a request with wrong credentials claimed to be (the name only, never a secret)."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower().rstrip(":") == "basic":
        try:
            name = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            name = ""
        if name:
            return Actor(name, "anonymous")
    return Actor("anonymous", "anonymous")


class AuditRecorder:
    """The middleware that records requests (see the module docstring); it finds the trail
    on ``app.state.audit`` (None: nothing is recorded)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sending)
        trail: AuditTrail | None = getattr(scope["app"].state, "audit", None)
        if trail is None:
            return
        reveal = _reveal_entry(scope)
        if reveal is not None:
            try:
                await run_in_threadpool(lambda: trail.record(**reveal))
            except Exception:
                logger.exception("could not record value.reveal in the audit trail")
        entry = self._entry(scope, status)
        if entry is None:
            return
        try:
            await run_in_threadpool(lambda: trail.record(**entry))
        except Exception:
            logger.exception("could not record %s in the audit trail", entry["action"])

    def _entry(self, scope: Scope, status: int) -> dict[str, Any] | None:
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        state = scope.get("state", {})
        principal: Principal | None = state.get("principal")
        note: AuditNote = state.get("audit") or AuditNote()
        client = scope.get("client")
        source = Source(client[0] if client else None, headers.get("user-agent"))
        failed_api_sign_in = status == 401 and principal is None and "authorization" in headers
        if failed_api_sign_in and note.actor is None:
            note = replace(note, actor=_claimed_actor(headers), action="auth.sign_in_failed")
        elif note.action == "auth.sign_in_failed":
            pass  # a refused sign-in (a locked account, say) is recorded whatever the method
        elif method not in _UNSAFE or _SEARCHES.match(path):
            return None
        found = rule_for(method, path)
        if found is None and status in (404, 405) and note.action is None:
            return None  # no route answered: nothing was done
        rule, resource_id = found if found is not None else (None, None)
        action = note.action or (rule.action if rule is not None else "api.request")
        if not action:
            return None
        actor = note.actor or (Actor.of(principal) if principal is not None else None)
        if actor is None:
            return None  # a web request without a session: sent to sign in
        resource = note.resource
        if resource is None and rule is not None and rule.resource_type is not None:
            resource = Resource(rule.resource_type, resource_id)
        details: dict[str, Any] = {"status": status, **note.details}
        if rule is None:
            details.update(method=method, path=path)
        outcome = note.outcome or (DENIED if status in (401, 403) else ALLOWED)
        return {
            "actor": actor,
            "action": action,
            "resource": resource,
            "outcome": outcome,
            "details": details,
            "source": source,
        }
