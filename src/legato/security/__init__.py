"""Who may do what: principals, roles and permissions, and the port that authenticates them.

Every request to the server is made by a :class:`Principal` (a person signed in with a
password, a machine with an API key, or the bearer of a token). A principal holds roles; a
role grants permissions; every route names the permission it needs. The ``worker`` role is
further scoped to the job types its key names, and a person sees only the user tasks they
are assigned to or are a candidate for (unless they may manage every task). Any principal
may be limited to some processes (:attr:`Principal.processes`, :meth:`Principal.may_on`):
it then sees and acts on the instances, jobs, tasks, incidents, history and versions of
those processes only.

Roles and what they grant:

=========== ==================================================================================
admin       everything, and the only role that sees sensitive values unmasked
developer   deploy; read definitions, instances, incidents, variables; start instances
operator    read and act on instances, incidents and variables; start; messages and signals;
            manage every user task
worker      activate and finish jobs of its job types; publish messages and signals
user        read definitions; start instances; work on the user tasks visible to them
auditor     read everything, change nothing; read and verify the audit trail
=========== ==================================================================================

The server's authenticator is :class:`legato.security.accounts.Accounts` (users, API keys and
tokens kept in the store); :class:`StaticAuthenticator` serves tests and examples. What every
principal does is recorded in the audit trail (:mod:`legato.security.audit`). Sensitive
variables are masked for every role but ``admin`` (:mod:`legato.security.sensitive`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

ROLES = ("admin", "developer", "operator", "worker", "user", "auditor")
"""Every role a user or an API key may hold."""

DEFINITIONS_READ = "definitions:read"
DEPLOY = "definitions:deploy"
INSTANCES_READ = "instances:read"
INSTANCES_START = "instances:start"
INSTANCES_MODIFY = "instances:modify"
"""Cancel, suspend, resume, change variables, retry incidents."""
MESSAGES_PUBLISH = "messages:publish"
"""Publish and correlate messages; broadcast signals."""
JOBS_WORK = "jobs:work"
"""Activate, complete, fail jobs and throw errors (of the principal's job types)."""
JOBS_MANAGE = "jobs:manage"
"""Change any job's retries, lock or lease as an operator."""
TASKS_WORK = "tasks:work"
"""List, claim and complete the user tasks visible to the principal."""
TASKS_MANAGE = "tasks:manage"
"""See and assign every user task."""
INCIDENTS_READ = "incidents:read"
SYSTEM_READ = "system:read"
"""Topology, nodes, version."""
USERS_MANAGE = "users:manage"
"""Create and remove users and API keys."""
AUDIT_READ = "audit:read"
"""Read and verify the audit trail (and sign a checkpoint of it)."""
ALERTS_MANAGE = "alerts:manage"
"""Set expected durations and manage the webhooks that alerts are posted to."""
VARIABLES_REVEAL = "variables:reveal"
"""See sensitive values unmasked (see :mod:`legato.security.sensitive`). Only ``admin``
holds it: an operator fixes incidents and a developer reads instances without needing the
customer data itself, and an auditor checks who did what, not what the data is."""
METRICS_READ = "metrics:read"
"""Read the Prometheus metrics (only admins, and the scrape token of the server)."""

PERMISSIONS = (
    DEFINITIONS_READ,
    DEPLOY,
    INSTANCES_READ,
    INSTANCES_START,
    INSTANCES_MODIFY,
    MESSAGES_PUBLISH,
    JOBS_WORK,
    JOBS_MANAGE,
    TASKS_WORK,
    TASKS_MANAGE,
    INCIDENTS_READ,
    SYSTEM_READ,
    USERS_MANAGE,
    AUDIT_READ,
    ALERTS_MANAGE,
    VARIABLES_REVEAL,
    METRICS_READ,
)

_READ = frozenset({DEFINITIONS_READ, INSTANCES_READ, INCIDENTS_READ, SYSTEM_READ})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "developer": _READ | {DEPLOY, INSTANCES_START},
    "operator": _READ
    | {INSTANCES_START, INSTANCES_MODIFY, MESSAGES_PUBLISH, JOBS_MANAGE, TASKS_MANAGE},
    "worker": frozenset({JOBS_WORK, MESSAGES_PUBLISH, SYSTEM_READ}),
    "user": frozenset({DEFINITIONS_READ, INSTANCES_START, TASKS_WORK, SYSTEM_READ}),
    "auditor": _READ | {AUDIT_READ},
}
"""The permissions each role grants."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request, and what they may do."""

    name: str
    """The user name, or the API key's id, or a token's subject."""
    roles: frozenset[str]
    groups: frozenset[str] = frozenset()
    """The user's groups: candidate groups of user tasks match against them."""
    job_types: frozenset[str] | None = None
    """For the ``worker`` role: the job types (C7 topics) it may work on; None for all."""
    kind: str = "user"
    """``user`` (a password), ``key`` (an API key) or ``token`` (a bearer token)."""
    processes: frozenset[str] | None = None
    """The process ids (BPMN ids; a trailing ``*`` matches a prefix) the principal may see
    and act on; None for every process. See :meth:`may_on`."""
    permissions: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        granted: set[str] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS.get(role, frozenset())
        object.__setattr__(self, "permissions", frozenset(granted))

    def may(self, permission: str) -> bool:
        """Whether any of the principal's roles grants ``permission``."""
        return permission in self.permissions

    def may_on(self, permission: str, process_id: str) -> bool:
        """Whether the principal holds ``permission`` and may use it on instances, jobs,
        tasks, incidents and versions of the process ``process_id``.

        The process limit applies to every role (an admin limited to ``billing-*`` manages
        users, but sees only billing processes); a principal with no limit may act on every
        process, like Camunda 7's authorization with resource id ``*``.
        """
        return self.may(permission) and self.sees_process(process_id)

    def sees_process(self, process_id: str) -> bool:
        """Whether ``process_id`` is within the principal's process limit (if any)."""
        return self.processes is None or process_matches(self.processes, process_id)

    def may_work_on(self, job_type: str) -> bool:
        """Whether the principal may activate and finish jobs of ``job_type``."""
        if not self.may(JOBS_WORK):
            return False
        return self.job_types is None or "admin" in self.roles or job_type in self.job_types


def process_matches(patterns: frozenset[str] | tuple[str, ...], process_id: str) -> bool:
    """Whether ``process_id`` is one of ``patterns`` (exact ids, or prefixes ending ``*``)."""
    for pattern in patterns:
        if pattern.endswith("*"):
            if process_id.startswith(pattern[:-1]):
                return True
        elif pattern == process_id:
            return True
    return False


def check_process_patterns(patterns: list[str]) -> tuple[str, ...]:
    """``patterns`` checked and sorted: each a non-empty process id, with ``*`` only as its
    last character (``billing-*``; ``*`` alone means every process).

    Raises:
        ValueError: naming the first pattern that cannot be used.
    """
    for pattern in patterns:
        stem = pattern[:-1] if pattern.endswith("*") else pattern
        if (
            not pattern
            or pattern != pattern.strip()
            or "*" in stem
            or any(ord(c) < 32 for c in pattern)
        ):
            raise ValueError(
                f"the process pattern {pattern!r} cannot be used: a process id, or a prefix "
                "ending with '*' (like 'billing-*'), with no spaces and '*' only at the end"
            )
    return tuple(sorted(set(patterns)))


class Authenticator(Protocol):
    """Turns credentials into a principal (None when they are wrong or unknown)."""

    def authenticate_basic(self, username: str, secret: str) -> Principal | None:
        """A user name and password, or an API key's id and secret."""

    def authenticate_bearer(self, token: str) -> Principal | None:
        """A token this server issued, an API key (``id:secret`` or its secret form), or a
        token of a configured external identity provider."""

    def issue_token(
        self, client_id: str, client_secret: str, *, lifetime: timedelta | None = None
    ) -> tuple[str, int] | None:
        """OAuth2 client credentials: a signed JWT and its lifetime in seconds (``lifetime``,
        or the authenticator's own when None)."""

    @property
    def generation(self) -> int:
        """Changes whenever accounts changed here: credentials verified before may be wrong
        now, and whoever remembers them must ask again."""


class StaticAuthenticator:
    """Principals with fixed passwords held in memory: for tests and examples, never for a
    real server (the passwords are compared in plain text)."""

    generation = 0
    """Fixed: these accounts never change."""

    def __init__(self, users: dict[str, tuple[str, Principal]]) -> None:
        self._users = dict(users)

    def authenticate_basic(self, username: str, secret: str) -> Principal | None:
        entry = self._users.get(username)
        if entry is None or entry[0] != secret:
            return None
        return entry[1]

    def authenticate_bearer(self, token: str) -> Principal | None:
        username, _, secret = token.partition(":")
        return self.authenticate_basic(username, secret)

    def issue_token(
        self, client_id: str, client_secret: str, *, lifetime: timedelta | None = None
    ) -> tuple[str, int] | None:
        if self.authenticate_basic(client_id, client_secret) is None:
            return None
        seconds = 3600 if lifetime is None else int(lifetime.total_seconds())
        return f"{client_id}:{client_secret}", seconds
