"""The task list: a manager works the onboarding's approval through its form; the list
refreshes itself, marks due dates, and shows and allows only what the user may do."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from web_support import session_client

from legato.testing.server import LegatoServer, admin_client

WAIT_SECONDS = 60.0
"""The most a condition may take to hold (a loaded machine; never a measurement)."""

REVIEW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="review-definitions"
    targetNamespace="https://legato.dev/tests/review">
  <bpmn:process id="review" name="Document review" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <bpmn:userTask id="check" name="Check the documents">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="managers"/>
        <zeebe:taskSchedule dueDate="=due"/>
        <zeebe:ioMapping>
          <zeebe:output source="=amount" target="amount"/>
          <zeebe:output source="=complete" target="documentsComplete"/>
        </zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
"""
"""A task without a form: its output mappings name ``amount`` and ``complete``; its due date
is the variable ``due``."""


@pytest.fixture(scope="module")
def api(web_server: LegatoServer) -> Iterator[httpx.Client]:
    """The admin's API client, with the review process deployed."""
    with admin_client(web_server) as http:
        deployed = http.post(
            "/v2/deployments", files={"resources": ("review.bpmn", REVIEW.encode(), "text/xml")}
        )
        assert deployed.status_code == 200, deployed.text
        yield http


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """The first true result of ``check`` (called again until it holds)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s")
        time.sleep(0.05)


def run_service_tasks(api: httpx.Client) -> None:
    """Do the onboarding's credit checks and template preparations that are waiting (as the
    example's handlers would: the score is the one given)."""
    for job_type in ("credit-check", "prepare-template"):
        body = {"type": job_type, "timeout": 60_000, "maxJobsToActivate": 100}
        answer = api.post("/v2/jobs/activation", json={**body, "requestTimeout": -1})
        assert answer.status_code == 200, answer.text
        for job in answer.json()["jobs"]:
            variables = job["variables"]
            result = {"score": variables.get("score", 650)} if job_type == "credit-check" else {}
            done = api.post(f"/v2/jobs/{job['jobKey']}/completion", json={"variables": result})
            assert done.status_code == 204, done.text


def open_tasks(api: httpx.Client, instance_key: str) -> list[dict[str, Any]]:
    answer = api.post(
        "/v2/user-tasks/search",
        json={"filter": {"processInstanceKey": instance_key, "state": "CREATED"}},
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def start(api: httpx.Client, process_id: str, variables: dict[str, Any], key: str) -> str:
    body = {"processDefinitionId": process_id, "variables": variables, "businessId": key}
    answer = api.post("/v2/process-instances", json=body)
    assert answer.status_code == 200, answer.text
    instance_key: str = answer.json()["processInstanceKey"]
    return instance_key


def approval_task(api: httpx.Client, customer: str = "Ada") -> tuple[str, str, str]:
    """A new onboarding instance waiting at the manager approval: (business key, instance
    key, task key)."""
    business_key = f"app-{uuid.uuid4().hex[:8]}"
    instance = start(api, "onboarding", {"customer": customer, "score": 610}, business_key)

    def waiting() -> list[dict[str, Any]]:
        run_service_tasks(api)
        return open_tasks(api, instance)

    [task] = wait_for("the approval task", waiting)
    assert task["elementId"] == "manager_approval"
    return business_key, instance, task["userTaskKey"]


def review_task(api: httpx.Client, due: datetime | None = None) -> tuple[str, str]:
    """A new review instance (a task without a form): (business key, task key)."""
    business_key = f"rev-{uuid.uuid4().hex[:8]}"
    when = due.isoformat() if due is not None else None
    instance = start(api, "review", {"due": when, "amount": 10}, business_key)
    [task] = wait_for("the review task", lambda: open_tasks(api, instance))
    return business_key, task["userTaskKey"]


def task_state(api: httpx.Client, task_key: str) -> dict[str, Any]:
    answer = api.get(f"/v2/user-tasks/{task_key}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def shown(html: str) -> list[str]:
    """The keys of the tasks a list page shows, in order."""
    return re.findall(r'<tr data-task="([0-9]+)"', html)


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def test_a_manager_works_the_approval_through_its_form(
    page: Page,
    sign_in: Callable[..., None],
    api: httpx.Client,
    expected_console_errors: list[str],
) -> None:
    business_key, instance, task_key = approval_task(api)
    page.goto("/tasks")
    sign_in(page, "manager")
    row = page.locator(f'tr[data-task="{task_key}"]')
    expect(row).to_contain_text(business_key)
    expect(row).to_contain_text("unassigned")
    row.get_by_role("link", name="Manager approval").click()
    expect(page.locator("#task-process")).to_contain_text("Customer onboarding")
    expect(page.locator("#task-process")).to_contain_text("version 1")
    expect(page.locator("#task-business-key")).to_have_text(business_key)
    expect(page.locator("#task-due time")).to_have_count(1)
    highlighted = page.locator('#task-diagram [data-element-id="manager_approval"].lg-highlight')
    expect(highlighted).to_have_count(1)
    expect(page.locator("#task-variables")).to_contain_text("customer")

    page.get_by_role("button", name="Claim", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Claimed.")
    expect(page.locator("#task-assignee")).to_have_text("manager")
    assert task_state(api, task_key)["assignee"] == "manager"
    expect(page.get_by_role("button", name="Claim", exact=True)).to_have_count(0)

    # The browser checks a pattern anywhere in the value; the server wants all of it to fit.
    expected_console_errors.append("400")
    page.get_by_label("Contract reference").fill("ref ABC-1234")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("#task-form")).to_contain_text("must match the pattern")
    expect(page.locator("#task-form .lg-form-message")).to_contain_text(
        "Please correct the marked fields."
    )
    assert task_state(api, task_key)["state"] == "CREATED"

    page.get_by_label("Contract reference").fill("ABC-1234")
    page.get_by_label("Approve the application").check()
    page.get_by_label("Credit limit").fill("5000")
    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("status")).to_contain_text("Completed 'Manager approval'.")
    expect(page.locator(f'tr[data-task="{task_key}"]')).to_have_count(0)
    assert task_state(api, task_key)["state"] == "COMPLETED"
    moved_on = api.post(
        "/v2/element-instances/search",
        json={"filter": {"processInstanceKey": instance, "elementId": "charge_setup_fee"}},
    )
    assert moved_on.status_code == 200, moved_on.text
    assert [e["state"] for e in moved_on.json()["items"]] == ["ACTIVE"]


def test_a_new_task_appears_without_reloading(
    page: Page, sign_in: Callable[..., None], api: httpx.Client
) -> None:
    page.goto("/tasks?process=review&sort=created_at&order=desc")
    sign_in(page, "manager")
    expect(page.locator("#task-count")).to_be_visible()
    page.evaluate("window.lgSamePage = true")
    business_key, task_key = review_task(api)
    expect(page.locator(f'tr[data-task="{task_key}"]')).to_contain_text(business_key)
    assert page.evaluate("window.lgSamePage") is True


def test_overdue_and_due_soon_are_marked_in_words(
    api: httpx.Client, web_server: LegatoServer
) -> None:
    now = datetime.now(UTC)
    _, late = review_task(api, now - timedelta(hours=3))
    _, soon = review_task(api, now + timedelta(hours=2))
    _, later = review_task(api, now + timedelta(days=5))
    with session_client(web_server, "manager") as client:
        html = client.get("/tasks", params={"process": "review", "sort": "due_at"}).text
        rows = {
            key: re.search(rf'<tr data-task="{key}"( class="[^"]*")?>(.*?)</tr>', html, re.S)
            for key in (late, soon, later)
        }
        assert all(rows.values()), html
        assert rows[late] and rows[late].group(1) == ' class="lg-due-overdue"'
        assert "Overdue" in rows[late].group(2)
        assert rows[soon] and rows[soon].group(1) == ' class="lg-due-due-soon"'
        assert "Due soon" in rows[soon].group(2)
        assert rows[later] and rows[later].group(1) is None
        assert "Overdue" not in rows[later].group(2) and "Due soon" not in rows[later].group(2)
        order = shown(html)
        assert order.index(late) < order.index(soon) < order.index(later)
        detail = client.get(f"/tasks/{late}").text
        assert 'id="task-due" class="lg-due-overdue"' in detail and "Overdue" in detail


def test_filters_sort_and_text(api: httpx.Client, web_server: LegatoServer) -> None:
    _, first = review_task(api)
    _, second = review_task(api)
    with session_client(web_server, "manager") as client:
        claimed = client.post(
            f"/tasks/{second}/claim", data={"csrf": csrf_of(client.get("/tasks").text)}
        )
        assert claimed.status_code == 303

        def listed(**params: str) -> list[str]:
            answer = client.get("/tasks", params=params)
            assert answer.status_code == 200
            return shown(answer.text)

        mine = listed(show="mine", process="review")
        assert second in mine and first not in mine
        unassigned = listed(show="unassigned", process="review")
        assert first in unassigned and second not in unassigned
        groups = listed(show="groups", process="review")
        assert first in groups and second in groups
        named = client.get("/tasks", params={"q": "CHECK the doc"}).text
        assert first in shown(named) and "Manager approval" not in named
        nothing = client.get("/tasks", params={"q": "no task is called so"}).text
        assert 'id="no-tasks"' in nothing
        newest = listed(process="review", order="desc")
        assert newest.index(second) < newest.index(first)
        oldest = listed(process="review")
        assert oldest.index(first) < oldest.index(second)


def test_the_list_answers_204_until_its_tasks_change(
    api: httpx.Client, web_server: LegatoServer
) -> None:
    with session_client(web_server, "manager") as client:
        page = client.get("/tasks", params={"process": "review"}).text
        poll = re.search(r'hx-get="([^"]+)"', page)
        assert poll
        url = poll.group(1).replace("&amp;", "&")
        assert client.get(url).status_code == 204
        review_task(api)
        changed = client.get(url)
        assert changed.status_code == 200
        assert 'id="task-list"' in changed.text and "<html" not in changed.text


def test_two_users_complete_the_same_task(
    page: Page,
    sign_in: Callable[..., None],
    api: httpx.Client,
    web_server: LegatoServer,
    expected_console_errors: list[str],
) -> None:
    _, instance, task_key = approval_task(api)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    page.get_by_label("Contract reference").fill("XYZ-0001")
    with session_client(web_server, "grace") as other:
        csrf = csrf_of(other.get(f"/tasks/{task_key}").text)
        first = other.post(
            f"/tasks/{task_key}/complete",
            json={"approved": False, "reference": "XYZ-0002"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert first.status_code == 200 and first.headers["HX-Redirect"] == "/tasks"
    expected_console_errors.append("409")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("#task-form .lg-form-message")).to_contain_text(
        "The task was not completed"
    )
    assert task_state(api, task_key)["state"] == "COMPLETED"
    variables = api.post(
        "/v2/variables/search",
        json={"filter": {"processInstanceKey": instance, "name": "reference"}},
    ).json()["items"]
    assert [v["value"] for v in variables] == ['"XYZ-0002"']
    page.reload()
    expect(page.locator("#task-state")).to_contain_text("completed")
    expect(page.locator("#task-state")).to_contain_text("grace")
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)
    expect(page.get_by_role("button", name="Claim", exact=True)).to_have_count(0)


def test_a_script_in_a_variable_is_text(
    page: Page, sign_in: Callable[..., None], api: httpx.Client
) -> None:
    script = "<script>window.lgInjected = true</script><b>bold</b>"
    _, _, task_key = approval_task(api, customer=script)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    expect(page.locator("#task-variables")).to_contain_text(script)
    expect(page.locator("#task-variables b")).to_have_count(0)
    expect(page.get_by_label("Contract reference")).to_be_visible()
    assert page.evaluate("window.lgInjected") is None


def test_who_may_not_work_a_task_gets_no_buttons_and_is_refused(
    page: Page, sign_in: Callable[..., None], api: httpx.Client, web_server: LegatoServer
) -> None:
    from web_support import SCRIPT_NAME

    _, _, task_key = approval_task(api)
    # Not in the candidate group: the task does not exist for them.
    with session_client(web_server, SCRIPT_NAME) as outsider:
        assert task_key not in shown(outsider.get("/tasks").text)
        assert outsider.get(f"/tasks/{task_key}").status_code == 404
        csrf = csrf_of(outsider.get("/tasks").text)
        for action in ("claim", "unclaim", "complete"):
            refused = outsider.post(f"/tasks/{task_key}/{action}", data={"csrf": csrf})
            assert refused.status_code == 404, action
        assert outsider.post(f"/tasks/{task_key}/assign", data={"csrf": csrf}).status_code == 404
        assert outsider.get(f"/tasks/{task_key}/form.json").status_code == 404
    # Without tasks:work: the 403 page.
    with session_client(web_server, "auditor") as auditor:
        assert auditor.get("/tasks").status_code == 403
        assert auditor.get(f"/tasks/{task_key}").status_code == 403
    # In the group, but another member holds it: no buttons, and the routes refuse.
    with session_client(web_server, "grace") as holder:
        csrf = csrf_of(holder.get("/tasks").text)
        assert holder.post(f"/tasks/{task_key}/claim", data={"csrf": csrf}).status_code == 303
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    expect(page.locator("#task-assignee")).to_have_text("grace")
    expect(page.locator("#task-actions")).to_have_count(0)
    expect(page.locator("#task-form")).to_have_count(0)
    with session_client(web_server, "manager") as member:
        csrf = csrf_of(member.get("/tasks").text)
        claim = member.post(f"/tasks/{task_key}/claim", data={"csrf": csrf})
        assert claim.status_code == 303
        assert "Cannot claim" in member.get(f"/tasks/{task_key}").text
        assert member.post(f"/tasks/{task_key}/unclaim", data={"csrf": csrf}).status_code == 403
        assign = member.post(
            f"/tasks/{task_key}/assign", data={"csrf": csrf, "assignee": "manager"}
        )
        assert assign.status_code == 403
        done = member.post(
            f"/tasks/{task_key}/complete",
            json={"approved": True, "reference": "ABC-0001"},
            headers={"X-CSRF-Token": csrf},
        )
        assert done.status_code == 409
    # The API refuses the same.
    assert task_state(api, task_key)["assignee"] == "grace"
    with httpx.Client(base_url=web_server.url, auth=("manager", "pw-manager")) as manager_api:
        refused = manager_api.post(f"/v2/user-tasks/{task_key}/completion", json={})
        assert refused.status_code == 409


def test_a_task_manager_assigns_to_a_group_member(
    page: Page, sign_in: Callable[..., None], api: httpx.Client
) -> None:
    _, _, task_key = approval_task(api)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "operator")
    choices = page.get_by_label("Assign to").locator("option")
    expect(choices).to_have_text(["grace", "manager"])
    page.get_by_label("Assign to").select_option("grace")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_contain_text("Assigned to grace.")
    assert task_state(api, task_key)["assignee"] == "grace"
    page.get_by_role("button", name="Unclaim").click()
    expect(page.locator("#task-assignee")).to_have_text("unassigned")


def test_a_group_member_hands_an_unassigned_task_to_another_member(
    page: Page, sign_in: Callable[..., None], api: httpx.Client, web_server: LegatoServer
) -> None:
    from web_support import SCRIPT_NAME

    _, _, task_key = approval_task(api)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    expect(page.get_by_label("Assign to").locator("option")).to_have_text(["grace", "manager"])
    page.get_by_label("Assign to").select_option("grace")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_contain_text("Assigned to grace.")
    assert task_state(api, task_key)["assignee"] == "grace"
    # Grace holds it now: the manager may not hand it on, and the API says the same.
    expect(page.get_by_label("Assign to")).to_have_count(0)
    with httpx.Client(base_url=web_server.url, auth=("manager", "pw-manager")) as manager_api:
        taken = manager_api.post(
            f"/v2/user-tasks/{task_key}/assignment", json={"assignee": "manager"}
        )
        assert taken.status_code == 409, taken.text
        assert "grace" in taken.json()["detail"]
        _, _, other = approval_task(api)
        outsider = manager_api.post(
            f"/v2/user-tasks/{other}/assignment", json={"assignee": SCRIPT_NAME}
        )
        assert outsider.status_code == 403, outsider.text
        assert "not one of the task's candidates" in outsider.json()["detail"]
        member = manager_api.post(f"/v2/user-tasks/{other}/assignment", json={"assignee": "grace"})
        assert member.status_code == 204, member.text
    assert task_state(api, other)["assignee"] == "grace"


def test_a_wrong_type_changes_nothing(api: httpx.Client, web_server: LegatoServer) -> None:
    _, instance, task_key = approval_task(api)
    with session_client(web_server, "manager") as client:
        csrf = csrf_of(client.get(f"/tasks/{task_key}").text)
        refused = client.post(
            f"/tasks/{task_key}/complete",
            json={"approved": "yes", "reference": 1234, "creditLimit": "lots"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
        errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
        assert errors == {
            "approved": "must be true or false",
            "reference": "must be text",
            "creditLimit": "must be a number",
        }
        plain = client.post(f"/tasks/{task_key}/complete", data={"csrf": csrf, "value:x": "1"})
        assert plain.status_code == 303
        assert "complete it through the form" in client.get(f"/tasks/{task_key}").text
    assert task_state(api, task_key)["state"] == "CREATED"
    names = api.post(
        "/v2/variables/search", json={"filter": {"processInstanceKey": instance}}
    ).json()["items"]
    assert {v["name"] for v in names} == {"customer", "score"}


def test_a_task_without_a_form_gets_an_editor_of_its_outputs(
    page: Page,
    sign_in: Callable[..., None],
    api: httpx.Client,
    expected_console_errors: list[str],
) -> None:
    _, task_key = review_task(api)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    expect(page.get_by_label("Value of amount")).to_have_value("10")
    expect(page.get_by_label("Type of amount")).to_have_value("number")
    page.get_by_label("Value of amount").fill("ten")
    page.get_by_label("Type of complete").select_option("boolean")
    page.get_by_label("Value of complete").fill("maybe")
    expected_console_errors.append("400")  # the page again, refused
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("#task-editor")).to_contain_text("amount must be a number")
    expect(page.locator("#task-editor")).to_contain_text("complete must be true or false")
    expect(page.get_by_label("Value of amount")).to_have_value("ten")
    assert task_state(api, task_key)["state"] == "CREATED"
    page.get_by_label("Value of amount").fill("12.5")
    page.get_by_label("Value of complete").fill("true")
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("status")).to_contain_text("Completed 'Check the documents'.")
    assert task_state(api, task_key)["state"] == "COMPLETED"


def test_pages_of_fifty(api: httpx.Client, web_server: LegatoServer) -> None:
    marker = uuid.uuid4().hex[:8]
    for number in range(51):
        start(api, "review", {"due": None, "amount": number}, f"page-{marker}-{number}")
    with session_client(web_server, "manager") as client:

        def listed(page: int) -> tuple[list[str], str]:
            answer = client.get("/tasks", params={"process": "review", "page": str(page)})
            assert answer.status_code == 200
            return shown(answer.text), answer.text

        def full() -> tuple[list[str], str] | None:
            keys, html = listed(1)
            return (keys, html) if "Next page" in html else None

        first, html = wait_for("the 51 tasks", full)
        assert len(first) == 50 and 'rel="prev"' not in html
        count = re.search(r'id="task-count">([0-9]+) tasks', html)
        assert count
        total = int(count.group(1))
        pages = -(-total // 50)
        seen = list(first)
        for number in range(2, pages + 1):
            keys, html = listed(number)
            assert 'rel="prev"' in html
            seen += keys
        assert len(seen) == len(set(seen)) == total
        assert 'rel="next"' not in html


def test_an_expired_session_keeps_the_form_input(
    page: Page,
    sign_in: Callable[..., None],
    api: httpx.Client,
    expected_console_errors: list[str],
) -> None:
    _, _, task_key = approval_task(api)
    page.goto(f"/tasks/{task_key}")
    sign_in(page, "manager")
    page.get_by_label("Contract reference").fill("KEP-4242")
    page.get_by_label("Comment").fill("kept across the sign-in")
    page.context.clear_cookies()
    expected_console_errors.append("401")
    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, "manager")
    expect(page).to_have_url(re.compile(rf"/tasks/{task_key}$"))
    expect(page.get_by_label("Contract reference")).to_have_value("KEP-4242")
    expect(page.get_by_label("Comment")).to_have_value("kept across the sign-in")
    assert task_state(api, task_key)["state"] == "CREATED"
