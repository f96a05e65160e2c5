"""Screenshots of the web app for the README (run by ``scripts/screenshots.sh``).

Starts ``legato serve --http`` on a temporary SQLite file, seeds it with the onboarding
demo (instances done, waiting for a manager's approval, and stuck with an incident) and a
small DMN decision, signs in with Playwright in Debian's Chromium and writes a PNG of each
page to ``docs/screenshots/`` (1280x800). A page the server does not have is reported and
skipped.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests" / "web"))
from cockpit_seed import deploy, deploy_decision, start  # noqa: E402
from web_support import CHROMIUM, CHROMIUM_ARGS, ONBOARDING, USERS  # noqa: E402

from legato.testing.server import LegatoServer, admin_client  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
JOB_RESULTS: dict[str, dict[str, Any]] = {
    "prepare-template": {"template": "standard"},
    "charge-fee": {"charged": True},
    "create-account": {"accountId": "ACC-1001"},
    "send-email": {},
    "provision": {},
}
"""What the stand-in workers answer, by job type (the credit check's score is per customer)."""


def _work(http: httpx.Client, job_type: str, answer: dict[str, Any]) -> bool:
    """Complete one job of ``job_type`` with ``answer``; False when none was waiting."""
    request = {"type": job_type, "maxJobsToActivate": 1, "timeout": 60_000}
    jobs = http.post("/v2/jobs/activation", json=request).json()["jobs"]
    for job in jobs:
        done = http.post(f"/v2/jobs/{job['jobKey']}/completion", json={"variables": answer})
        done.raise_for_status()
    return bool(jobs)


def _fail(http: httpx.Client, job_type: str, message: str) -> None:
    request = {"type": job_type, "maxJobsToActivate": 1, "timeout": 60_000}
    [job] = http.post("/v2/jobs/activation", json=request).json()["jobs"]
    failure = {"retries": 0, "errorMessage": message}
    http.post(f"/v2/jobs/{job['jobKey']}/failure", json=failure).raise_for_status()


def seed(server: LegatoServer) -> dict[str, str]:
    """The onboarding demo and a decision; the keys the pages need."""
    form = ONBOARDING.with_name("approval.form")
    deploy(server, (ONBOARDING.name, ONBOARDING.read_text()), (form.name, form.read_text()))
    with admin_client(server) as http:
        for name, user in USERS.items():
            if name.isidentifier():
                http.post("/legato/v1/users", json={"name": name, **user}).raise_for_status()
        customers = {"Ada": 720, "Grace": 760, "Bob": 640, "Linus": 0, "Ken": 0}
        for name in customers:
            start(server, "onboarding", f"customer-{name.lower()}", customer=name)
        for score in list(customers.values())[:3]:
            assert _work(http, "credit-check", {"score": score})
        for attempts in (3, 5):
            _fail(http, "credit-check", f"Credit bureau unavailable after {attempts} attempts")
        while any(_work(http, job_type, answer) for job_type, answer in JOB_RESULTS.items()):
            pass
        tasks = http.post("/v2/user-tasks/search", json={}).json()["items"]
        for task in tasks:  # claimed by the manager: the page shows the form to fill in
            assign = {"assignee": "manager"}
            http.post(f"/v2/user-tasks/{task['userTaskKey']}/assignment", json=assign)
        stuck = http.get("/legato/v1/instances", params={"status": "incident"}).json()["items"]
    decision, process = deploy_decision(server, "discount", "order_discount")
    for tier in ("gold", "silver", "bronze"):
        start(server, process, tier=tier)
    return {
        "stuck": stuck[0]["instanceKey"],
        "task": str(tasks[0]["userTaskKey"]) if tasks else "",
        "decision": decision,
    }


def shoot(page: Page, path: str, name: str) -> None:
    """Open ``path`` and save its screenshot as ``name``.png (skipped when it is missing)."""
    answer = page.goto(path)
    if answer is None or answer.status >= 400:
        print(f"skipped {name}: {path} answered {answer.status if answer else 'nothing'}")
        return
    page.wait_for_load_state("networkidle")
    for drawn in (".lg-diagram svg", ".lg-decision table", ".lg-form form"):
        if page.locator(drawn.split()[0]).count():
            page.locator(drawn).first.wait_for()
    if page.locator(".lg-dashboard").count():
        page.locator(".lg-dashboard[data-lg-drawn], .lg-dashboard [role=alert]").first.wait_for()
    form = page.locator(".lg-form")
    if form.count():
        form.first.scroll_into_view_if_needed()
    page.screenshot(path=OUT / f"{name}.png")
    print(f"wrote docs/screenshots/{name}.png ({path})")


def main() -> None:
    """Seed a server, sign in and write the screenshots."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "screenshots.db"
        with LegatoServer(f"sqlite:///{db}", Path(folder) / "server.log") as server:
            keys = seed(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                for user, pages in (
                    ("manager", [("/tasks", "tasks"), (f"/tasks/{keys['task']}", "task-form")]),
                    (
                        "operator",
                        [
                            ("/cockpit", "processes"),
                            ("/cockpit/processes/onboarding", "process-overlays"),
                            ("/cockpit/processes/onboarding/dashboard?window=24h", "dashboard"),
                            (f"/cockpit/instances/{keys['stuck']}", "instance"),
                            ("/cockpit/instances", "instances"),
                            ("/cockpit/incidents", "incidents"),
                            (f"/cockpit/decisions/{keys['decision']}", "decision"),
                        ],
                    ),
                ):
                    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)
                    page = context.new_page()
                    page.goto("/login")
                    page.get_by_label("User name").fill(user)
                    page.get_by_label("Password").fill(str(USERS[user]["password"]))
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_load_state("networkidle")
                    for path, name in pages:
                        shoot(page, path, name)
                    context.close()
                browser.close()


if __name__ == "__main__":
    main()
