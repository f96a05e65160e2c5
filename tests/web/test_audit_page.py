"""The audit page and what the web app records: sign-ins (and failures), an operator's
cancel from the cockpit, who may read the trail, filters and the chain check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts_support import CountingHasher
from bpmn_helpers import chain, process, service
from legato import Engine
from legato.api.app import create_app
from legato.security.accounts import Accounts
from legato.security.audit import AuditTrail
from legato.store.audit import AuditQuery
from legato.web import mount
from legato.web.session import SESSION_COOKIE, csrf_token_for
from sign_in_support import post_sign_in

ORDER = process(
    '<bpmn:startEvent id="s"/>' + service("charge", "charge") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "charge", "e"),
    process_id="order",
)
PASSWORDS = {"admin": "pw-admin", "olga": "pw-olga", "aude": "pw-aude"}


@pytest.fixture
def app_engine(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    engine = Engine(f"sqlite:///{tmp_path / 'web.db'}")
    accounts = Accounts(engine.store, password_hasher=CountingHasher())
    accounts.ensure_admin(PASSWORDS["admin"])
    accounts.create_user("olga", PASSWORDS["olga"], ["operator"])
    accounts.create_user("aude", PASSWORDS["aude"], ["auditor"])
    app = create_app(engine, accounts)
    mount(app)
    with TestClient(app) as client:
        yield client, engine
    engine.close()


def sign_in(client: TestClient, name: str, password: str | None = None) -> int:
    client.cookies.clear()
    answer = post_sign_in(client, name, password or PASSWORDS[name], "/")
    return answer.status_code


def csrf(client: TestClient) -> str:
    return csrf_token_for(client.cookies[SESSION_COOKIE])


def actions(engine: Engine) -> list[tuple[str, str, str]]:
    records = AuditTrail(engine.store).records(AuditQuery(limit=100))
    return [(r.action, r.actor, r.outcome) for r in records]


def test_sign_ins_and_an_operators_cancel_are_recorded(
    app_engine: tuple[TestClient, Engine],
) -> None:
    client, engine = app_engine
    engine.deploy(ORDER)
    key = engine.start("order").key

    assert sign_in(client, "olga", "wrong") == 200  # the form again, with an error
    assert sign_in(client, "olga") == 303
    cancelled = client.post(
        f"/cockpit/instances/{key}/cancel",
        data={"csrf": csrf(client), "confirm": "yes"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303

    assert actions(engine) == [
        ("auth.sign_in_failed", "olga", "denied"),
        ("auth.sign_in", "olga", "allowed"),
        ("instance.cancel", "olga", "allowed"),
    ]
    [record] = AuditTrail(engine.store).records(AuditQuery(action="instance.cancel"))
    assert (record.resource_type, record.resource_id) == ("instance", str(key))
    assert record.source_address == "testclient"


def test_a_post_refused_for_a_missing_permission_is_recorded_as_denied(
    app_engine: tuple[TestClient, Engine],
) -> None:
    client, engine = app_engine
    engine.deploy(ORDER)
    key = engine.start("order").key
    sign_in(client, "aude")
    refused = client.post(f"/cockpit/instances/{key}/cancel", data={"csrf": csrf(client)})
    assert refused.status_code == 403
    assert actions(engine)[-1] == ("instance.cancel", "aude", "denied")


def test_the_auditor_reads_filters_and_verifies_the_trail_and_the_operator_may_not(
    app_engine: tuple[TestClient, Engine],
) -> None:
    client, _ = app_engine
    sign_in(client, "olga")
    assert client.get("/audit").status_code == 403
    assert 'href="/audit"' not in client.get("/").text

    sign_in(client, "aude")
    page = client.get("/audit")
    assert page.status_code == 200
    assert 'href="/audit"' in page.text
    assert page.text.count("auth.sign_in") == 2
    table = client.get("/audit", params={"actor": "olga"}).text.split('id="audit-records"')[1]
    assert "<td>olga</td>" in table
    assert "<td>aude</td>" not in table
    verified = client.get("/audit", params={"verify": "true"}).text
    assert "Intact:</strong> intact: 2 records, last #2" in verified


def test_a_bad_date_filter_is_named(app_engine: tuple[TestClient, Engine]) -> None:
    client, _ = app_engine
    sign_in(client, "aude")
    page = client.get("/audit", params={"since": "yesterday"})
    assert page.status_code == 400
    assert "Not a date and time: &#39;yesterday&#39;." in page.text
