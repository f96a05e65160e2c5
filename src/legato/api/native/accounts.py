"""Users and API keys (``/legato/v1/users``, ``/legato/v1/api-keys``), for admins only.

They manage the :class:`~legato.security.accounts.Accounts` the server authenticates with;
a change is seen at once by this server and within the accounts' cache time by the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from legato.api.audit import note_audit
from legato.api.deps import require
from legato.api.problems import ApiError, BadRequest, Conflict
from legato.api.v2.common import Out, Strict, iso
from legato.errors import AccountError, AccountExistsError
from legato.security import USERS_MANAGE
from legato.security.accounts import Accounts, ApiKey, User
from legato.security.audit import Resource

router = APIRouter(tags=["accounts"], dependencies=[Depends(require(USERS_MANAGE))])


async def accounts_of(request: Request) -> Accounts:
    """The accounts this server authenticates with (501 when it uses something else)."""
    authenticator = request.app.state.authenticator
    if not isinstance(authenticator, Accounts):
        raise ApiError("this server does not keep accounts", status=501, title="NOT_IMPLEMENTED")
    return authenticator


AccountsDep = Annotated[Accounts, Depends(accounts_of)]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except AccountExistsError as exc:
        raise Conflict(str(exc)) from None
    except AccountError as exc:
        raise BadRequest(str(exc)) from None


class UserResult(Out):
    name: str
    roles: list[str]
    groups: list[str]
    createdAt: str | None
    disabled: bool
    processes: list[str] | None
    """The processes the user is limited to (ids, or prefixes ending ``*``); None: all."""


class CreateUser(Strict):
    name: str = Field(min_length=1)
    password: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)
    processes: list[str] | None = None
    """Limit the user to these processes (ids, or prefixes ending ``*``); absent: all."""


class ChangeUser(Strict):
    """What to change; members left out stay as they are."""

    password: str | None = Field(default=None, min_length=1)
    roles: list[str] | None = None
    groups: list[str] | None = None
    disabled: bool | None = None
    processes: list[str] | None = None
    """The new process limit; ``["*"]`` lifts it."""


class ApiKeyResult(Out):
    keyId: str
    name: str
    roles: list[str]
    jobTypes: list[str] | None
    """The job types the key may work on (None: every type)."""
    processes: list[str] | None
    """The processes the key is limited to (ids, or prefixes ending ``*``); None: all."""
    createdAt: str | None
    lastUsedAt: str | None
    revokedAt: str | None


class CreatedApiKey(ApiKeyResult):
    secret: str
    """Shown this once: only a hash of it is kept."""


class CreateApiKey(Strict):
    name: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    jobTypes: list[str] | None = None
    processes: list[str] | None = None
    """Limit the key to these processes (ids, or prefixes ending ``*``); absent: all."""


class ChangeApiKey(Strict):
    processes: list[str]
    """The new process limit; ``["*"]`` lifts it."""


def _user(user: User) -> UserResult:
    return UserResult(
        name=user.name,
        roles=list(user.roles),
        groups=list(user.groups),
        createdAt=iso(user.created_at),
        disabled=user.disabled,
        processes=None if user.processes is None else list(user.processes),
    )


def _key(key: ApiKey) -> ApiKeyResult:
    return ApiKeyResult(
        keyId=key.key_id,
        name=key.name,
        roles=list(key.roles),
        jobTypes=None if key.job_types is None else list(key.job_types),
        processes=None if key.processes is None else list(key.processes),
        createdAt=iso(key.created_at),
        lastUsedAt=iso(key.last_used_at),
        revokedAt=iso(key.revoked_at),
    )


UserName = Annotated[str, Path(description="The user's name")]


@router.get("/users", response_model=list[UserResult])
def list_users(accounts: AccountsDep) -> list[UserResult]:
    """Every user, by name."""
    return [_user(u) for u in accounts.users()]


@router.post("/users", response_model=UserResult, status_code=201)
def create_user(request: Request, body: CreateUser, accounts: AccountsDep) -> UserResult:
    """Add a user (409 when the name is taken)."""
    details = {"roles": body.roles, "processes": body.processes}
    note_audit(request, resource=Resource("user", body.name), details=details)
    with _refusals():
        made = accounts.create_user(
            body.name, body.password, body.roles, body.groups, processes=body.processes
        )
    return _user(made)


@router.get("/users/{name}", response_model=UserResult)
def get_user(name: UserName, accounts: AccountsDep) -> UserResult:
    """One user."""
    return _user(accounts.user(name))


@router.patch("/users/{name}", response_model=UserResult)
def change_user(
    request: Request, name: UserName, body: ChangeUser, accounts: AccountsDep
) -> UserResult:
    """Change a user's password, roles, groups or whether they may sign in (the last
    enabled admin cannot lose the role or be disabled: 400)."""
    changed = body.model_dump(exclude_none=True)
    if "password" in changed:
        changed["password"] = "(changed)"
    note_audit(request, details=changed)
    accounts.user(name)
    with _refusals():
        if body.password is not None:
            accounts.set_password(name, body.password)
        if body.roles is not None:
            accounts.set_roles(name, body.roles)
        if body.groups is not None:
            accounts.set_groups(name, body.groups)
        if body.processes is not None:
            accounts.set_user_processes(name, body.processes)
        if body.disabled is True:
            accounts.disable_user(name)
        elif body.disabled is False:
            accounts.enable_user(name)
    return _user(accounts.user(name))


@router.delete("/users/{name}", status_code=204, response_class=Response)
def delete_user(name: UserName, accounts: AccountsDep) -> Response:
    """Remove a user (not the last enabled admin)."""
    with _refusals():
        accounts.delete_user(name)
    return Response(status_code=204)


@router.get("/api-keys", response_model=list[ApiKeyResult])
def list_api_keys(accounts: AccountsDep) -> list[ApiKeyResult]:
    """Every API key, revoked ones included (never their secrets)."""
    return [_key(k) for k in accounts.api_keys()]


@router.post("/api-keys", response_model=CreatedApiKey, status_code=201)
def create_api_key(request: Request, body: CreateApiKey, accounts: AccountsDep) -> CreatedApiKey:
    """Make an API key; its secret is in this answer only. Use it as ``keyId:secret`` with
    Basic or Bearer, or as the client id and secret of ``POST /oauth/token``."""
    with _refusals():
        key_id, secret = accounts.create_api_key(
            body.name, body.roles, body.jobTypes, processes=body.processes
        )
    [made] = [k for k in accounts.api_keys() if k.key_id == key_id]
    details = {
        "name": body.name,
        "roles": body.roles,
        "jobTypes": body.jobTypes,
        "processes": body.processes,
    }
    note_audit(request, resource=Resource("api_key", key_id), details=details)
    return CreatedApiKey(**_key(made).model_dump(), secret=secret)


@router.patch("/api-keys/{keyId}", response_model=ApiKeyResult)
def change_api_key(
    request: Request, keyId: Annotated[str, Path()], body: ChangeApiKey, accounts: AccountsDep
) -> ApiKeyResult:
    """Change the processes a key is limited to (``["*"]``: every process)."""
    note_audit(request, details={"processes": body.processes})
    with _refusals():
        accounts.set_key_processes(keyId, body.processes)
    [changed] = [k for k in accounts.api_keys() if k.key_id == keyId]
    return _key(changed)


@router.delete("/api-keys/{keyId}", status_code=204, response_class=Response)
def revoke_api_key(keyId: Annotated[str, Path()], accounts: AccountsDep) -> Response:
    """Revoke a key: it and its tokens stop working."""
    accounts.revoke_api_key(keyId)
    return Response(status_code=204)
