"""The web app with the onboarding demo, for a person to try (run by ``scripts/web-demo.sh``).

Starts ``legato serve --http`` on http://127.0.0.1:8080/ with a fresh SQLite file
(``legato-web.db``) and the example's handlers, deploys the onboarding process and its
approval form, creates a manager and an operator, and starts three applications: one
approved automatically, one waiting for the manager's approval, and one whose credit check
cannot reach the bureau (an incident). Then it waits until Ctrl-C.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from legato.testing.server import ADMIN_PASSWORD, LegatoServer, admin_client

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "onboarding"
DB = ROOT / "legato-web.db"
PORT = 8080
USERS = {
    "manager": {"password": "manager", "roles": ["user"], "groups": ["managers"]},
    "operator": {"password": "operator", "roles": ["operator"], "groups": []},
}
APPLICATIONS = [
    ("customer-ada", {"customer": "Ada", "score": 760, "idNumber": "756.1234.5678.97"}),
    ("customer-bob", {"customer": "Bob", "score": 640, "idNumber": "756.9876.5432.10"}),
    ("customer-ken", {"customer": "Ken", "bureauDown": True, "idNumber": "756.5555.0000.11"}),
]


def main() -> None:
    for leftover in (DB, DB.with_name(DB.name + "-wal"), DB.with_name(DB.name + "-shm")):
        leftover.unlink(missing_ok=True)
    env = {"ONBOARDING_LEDGER": str(ROOT / "legato-web-payments.json")}
    args = ("--handlers", str(EXAMPLE / "handlers.py"))
    server = LegatoServer(f"sqlite:///{DB}", ROOT / "legato-web.log", port=PORT, args=args, env=env)
    with server:
        with admin_client(server) as http:
            files = [
                ("resources", (name, (EXAMPLE / name).read_bytes()))
                for name in ("onboarding.bpmn", "approval.form")
            ]
            http.post("/v2/deployments", files=files).raise_for_status()
            for name, user in USERS.items():
                http.post("/legato/v1/users", json={"name": name, **user}).raise_for_status()
            for business_key, variables in APPLICATIONS:
                start = {
                    "processDefinitionId": "onboarding",
                    "businessId": business_key,
                    "variables": variables,
                }
                http.post("/v2/process-instances", json=start).raise_for_status()
        print(
            f"Legato's web app runs at {server.url}/ (the log: legato-web.log)\n"
            "  manager / manager:   the task list; Bob's application waits for approval\n"
            "  operator / operator: the cockpit; Ken's credit check is an incident: set\n"
            "                       bureauDown to false on the instance page, then retry\n"
            f"  admin / {ADMIN_PASSWORD}\n"
            "Ctrl-C stops the server.",
            flush=True,
        )
        try:
            assert server.process is not None
            server.process.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
