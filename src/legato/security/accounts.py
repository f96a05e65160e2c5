"""Accounts kept in the store: users with passwords, API keys, and the tokens issued for them.

:class:`Accounts` is the server's :class:`~legato.security.Authenticator`. It accepts:

* ``Basic user:password``: a user (the password is checked against its argon2id hash);
* ``Basic key_id:secret``, ``Bearer key_id:secret`` or ``Bearer key_id.secret``: an API key
  (key ids start with ``lk_``, which user names may not);
* ``Bearer <JWT>`` issued by :meth:`Accounts.issue_token` (the OAuth2 client-credentials
  grant): HS256, signed with a secret generated once per database and shared by every node
  through the ``server_secrets`` table, so a token from one node is good at all of them;
* ``Bearer <JWT>`` of an external OpenID Connect provider, when ``jwks_url`` is given:
  RS256 or ES256, checked against the provider's published keys; the principal's roles and
  groups come from the token's claims (unknown role names are ignored).

**Caches, and how fast a change is seen.** argon2 is slow on purpose (tens of milliseconds
and 64 MiB per check), and Basic authentication sends the password with every request. So a
successful check is remembered in memory for ``cache_ttl`` (60 s by default), keyed by a
SHA-256 of the name and the secret salted with a random value of this process (the cache
never holds a password or anything that tests one outside this process); it holds at most
4,096 entries. Wrong credentials are never remembered. API keys (a fast hash) and the
subject behind a token (is the user still enabled, the key not revoked?) are cached the same
way. A change made through this :class:`Accounts` object (a new password, a disabled or
removed user, a revoked key, new roles) empties its caches at once; a change made on another
node, or with the command line, takes effect here within ``cache_ttl`` at most.

**Timing.** A user name that does not exist is checked against a dummy hash of the same
cost, so a wrong password costs the same whether the user exists or not and the answer
time does not tell which names exist. At most as many argon2 checks as there are CPUs run at
once, which bounds the memory a flood of wrong passwords can take.

A token carries the roles at issue time as information for the client; authorisation uses
the user's or key's current roles, looked up (and cached) as above, so a revoked key or a
disabled user loses its tokens within ``cache_ttl``. A new password does not end tokens
issued before it (they expire after ``token_lifetime``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import string
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from legato.errors import AccountError, AccountExistsError, AccountNotFoundError
from legato.security import ROLES, Principal, check_process_patterns
from legato.store.ports import Store
from legato.store.records import ApiKeyRecord, UserRecord

logger = logging.getLogger("legato.security")

KEY_PREFIX = "lk_"
"""How every API key id starts (so a key id is never taken for a user name)."""
ADMIN_USER = "admin"
"""The user :meth:`Accounts.ensure_admin` creates in an empty database."""
SIGNING_SECRET = "token-signing-key"
"""The ``server_secrets`` row that holds the HS256 key of the tokens this server issues."""
DEFAULT_CACHE_TTL = timedelta(seconds=60)
"""How long a verified credential is remembered (and a change elsewhere may go unseen)."""
CLOCK_SKEW = timedelta(seconds=30)
"""Leeway for the ``exp``, ``nbf`` and ``iat`` of tokens: clocks of machines differ."""
EXTERNAL_ALGORITHMS = ("RS256", "ES256")
"""The signature algorithms accepted from an external identity provider."""

_KEY_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_ID_LENGTH = 16
"""Characters after ``lk_``: 16 of 62, about 95 bits (the id is not secret, only unique)."""
_SECRET_BYTES = 32
_SECRET_HASH_PREFIX = "sha256:"
_CACHE_SIZE = 4096
_LAST_USED_RESOLUTION = timedelta(minutes=5)
"""``last_used_at`` is written when it is older than this, not on every request."""
_MAX_NAME = 255
_MAX_PASSWORD = 4096
_ARGON2_SLOTS = max(2, os.cpu_count() or 2)

_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class User:
    """A user as the management calls show it (never its password hash)."""

    name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    created_at: datetime
    disabled: bool
    processes: tuple[str, ...] | None = None
    """The processes the user is limited to (ids, or prefixes ending ``*``); None for all."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as the management calls show it (never its secret or its hash)."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    job_types: tuple[str, ...] | None
    """The job types the key may work on; None for all."""
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    processes: tuple[str, ...] | None = None
    """The processes the key is limited to (ids, or prefixes ending ``*``); None for all."""


class SigningKeys(Protocol):
    """Where the public keys of an identity provider come from (``jwt.PyJWKClient``)."""

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        """The key that signed ``token`` (by its ``kid``)."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _TtlCache(Generic[_V]):
    """A small thread-safe map whose entries expire; the oldest entry goes when it is full."""

    def __init__(self, ttl: timedelta, size: int, now: Callable[[], datetime]) -> None:
        self._ttl = ttl
        self._size = size
        self._now = now
        self._entries: dict[Hashable, tuple[_V, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[_V] | None:
        """``(value,)`` if ``key`` is held and fresh, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= self._now():
                del self._entries[key]
                return None
            return (entry[0],)

    def put(self, key: Hashable, value: _V) -> None:
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self._size:
                now = self._now()
                for stale in [k for k, (_, until) in self._entries.items() if until <= now]:
                    del self._entries[stale]
                while len(self._entries) >= self._size:
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = (value, self._now() + self._ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class Accounts:
    """Users, API keys and tokens in ``store``: the server's authenticator.

    Args:
        store: where the accounts are kept (shared by every node of a database).
        token_lifetime: how long a token of :meth:`issue_token` is valid.
        issuer: the ``iss`` of the tokens this server issues (and requires on them).
        jwks_url: the JSON Web Key Set of an external OpenID Connect provider whose tokens
            are accepted too (None: none are).
        jwks_audience: the ``aud`` external tokens must carry (None: not checked).
        jwks_issuer: the ``iss`` external tokens must carry (None: not checked).
        roles_claim: the claim of an external token that holds its roles: a list or a
            space- or comma-separated string; a dotted path reaches into objects
            (``realm_access.roles`` for Keycloak).
        groups_claim: the claim that holds an external token's groups, likewise.
        name_claim: the claim that names the principal of an external token (``sub`` by
            default; ``preferred_username`` matches user tasks assigned by user name).
        cache_ttl: how long verified credentials and looked-up subjects are remembered (see
            the module docstring).
        now: the clock (tokens' times, the caches); tests pass a virtual one.
        password_hasher: the argon2id hasher (its defaults are RFC 9106's second
            recommendation; tests pass a cheaper one).
        jwks_client: stands in for the ``jwt.PyJWKClient`` made from ``jwks_url`` (anything
            with its ``get_signing_key_from_jwt``).
    """

    def __init__(
        self,
        store: Store,
        *,
        token_lifetime: timedelta = timedelta(hours=1),
        issuer: str = "legato",
        jwks_url: str | None = None,
        jwks_audience: str | None = None,
        jwks_issuer: str | None = None,
        roles_claim: str = "roles",
        groups_claim: str = "groups",
        name_claim: str = "sub",
        cache_ttl: timedelta = DEFAULT_CACHE_TTL,
        now: Callable[[], datetime] = _utc_now,
        password_hasher: PasswordHasher | None = None,
        jwks_client: SigningKeys | None = None,
    ) -> None:
        if token_lifetime <= timedelta(0):
            raise ValueError("token_lifetime must be positive")
        self._store = store
        self._token_lifetime = int(token_lifetime.total_seconds())
        self._issuer = issuer
        self._jwks: SigningKeys | None = jwks_client
        if self._jwks is None and jwks_url is not None:
            self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=10)
        self._jwks_audience = jwks_audience
        self._jwks_issuer = jwks_issuer
        self._roles_claim = roles_claim
        self._groups_claim = groups_claim
        self._name_claim = name_claim
        self._now = now
        self._hasher = password_hasher or PasswordHasher()
        self._salt = secrets.token_bytes(32)
        self._verified: _TtlCache[Principal] = _TtlCache(cache_ttl, _CACHE_SIZE, now)
        self._subjects: _TtlCache[Principal | None] = _TtlCache(cache_ttl, _CACHE_SIZE, now)
        self._argon2_slots = threading.BoundedSemaphore(_ARGON2_SLOTS)
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._signing_key: str | None = None

    # -- authentication ----------------------------------------------------------------------
    def authenticate_basic(self, username: str, secret: str) -> Principal | None:
        """A user name and password, or an API key's id and secret (None if wrong)."""
        if username.startswith(KEY_PREFIX):
            return self._authenticate_key(username, secret)
        return self._authenticate_password(username, secret)

    def authenticate_bearer(self, token: str) -> Principal | None:
        """A token this server issued, an API key (``key_id:secret`` or ``key_id.secret``),
        or a token of the configured external identity provider (None if none of these)."""
        token = token.strip()
        if token.startswith(KEY_PREFIX):
            key_id, secret = _split_key(token)
            return None if secret is None else self._authenticate_key(key_id, secret)
        if token.count(".") != 2:
            return None
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError:
            return None
        if algorithm == "HS256":
            return self._own_token(token)
        if self._jwks is not None and algorithm in EXTERNAL_ALGORITHMS:
            return self._external_token(token)
        return None

    def issue_token(
        self, client_id: str, client_secret: str, *, lifetime: timedelta | None = None
    ) -> tuple[str, int] | None:
        """OAuth2 client credentials (an API key, or a user and password): a signed JWT and
        its lifetime in seconds (``lifetime``, or the one this authenticator was made with);
        None if the credentials are wrong."""
        principal = self.authenticate_basic(client_id, client_secret)
        if principal is None:
            return None
        seconds = self._token_lifetime if lifetime is None else int(lifetime.total_seconds())
        if seconds <= 0:
            raise ValueError("lifetime must be positive")
        issued = int(self._now().timestamp())
        claims: dict[str, Any] = {
            "sub": principal.name,
            "iat": issued,
            "exp": issued + seconds,
            "iss": self._issuer,
            "jti": secrets.token_hex(8),
            "kind": principal.kind,
            "roles": sorted(principal.roles),
            "groups": sorted(principal.groups),
            "job_types": None if principal.job_types is None else sorted(principal.job_types),
            "processes": None if principal.processes is None else sorted(principal.processes),
        }
        return jwt.encode(claims, self._token_key(), algorithm="HS256"), seconds

    def _authenticate_password(self, name: str, password: str) -> Principal | None:
        if not password or len(password) > _MAX_PASSWORD:
            return None
        fingerprint = self._fingerprint("user", name, password)
        cached = self._verified.get(fingerprint)
        if cached is not None:
            return cached[0]
        with self._store.transaction() as tx:
            record = tx.get_user(name)
        # An unknown name is checked against a dummy hash: the same cost as a wrong password.
        matches = self._verify(record.password_hash if record else self._dummy(), password)
        if record is None or not matches or record.disabled:
            return None
        if self._needs_rehash(record.password_hash):
            self._rehash(record, password)
        principal = _user_principal(record, "user")
        self._verified.put(fingerprint, principal)
        return principal

    def _authenticate_key(self, key_id: str, secret: str) -> Principal | None:
        fingerprint = self._fingerprint("key", key_id, secret)
        cached = self._verified.get(fingerprint)
        if cached is not None:
            return cached[0]
        with self._store.transaction() as tx:
            record = tx.get_api_key(key_id)
        stored = record.secret_hash if record is not None else _secret_hash("")
        # Constant time: a partial match must not answer sooner than a total mismatch.
        matches = hmac.compare_digest(stored, _secret_hash(secret))
        if record is None or not matches or record.revoked_at is not None:
            return None
        self._note_use(record)
        principal = _key_principal(record, "key")
        self._verified.put(fingerprint, principal)
        return principal

    def _own_token(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(
                token,
                self._token_key(),
                algorithms=["HS256"],
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    # Times are checked against the injected clock (below), not time.time().
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                },
            )
        except jwt.InvalidTokenError:
            return None
        if not self._in_time(claims):
            return None
        subject, kind = claims["sub"], claims.get("kind")
        if not isinstance(subject, str) or kind not in ("user", "key"):
            return None
        return self._subject(kind, subject)

    def _external_token(self, token: str) -> Principal | None:
        assert self._jwks is not None
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(EXTERNAL_ALGORITHMS),
                audience=self._jwks_audience,
                issuer=self._jwks_issuer,
                options={
                    "require": ["exp"],
                    "verify_aud": self._jwks_audience is not None,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWKClientError as exc:
            logger.warning("external token refused: the provider's keys: %s", exc)
            return None
        except jwt.InvalidTokenError as exc:
            logger.info("external token refused: %s", exc)
            return None
        name = _claim(claims, self._name_claim)
        if not self._in_time(claims) or not isinstance(name, str) or not name:
            return None
        roles = frozenset(r for r in _names(_claim(claims, self._roles_claim)) if r in ROLES)
        groups = frozenset(_names(_claim(claims, self._groups_claim)))
        job_types = claims.get("job_types")
        processes = claims.get("processes")
        return Principal(
            name=name,
            roles=roles,
            groups=groups,
            job_types=frozenset(_names(job_types)) if job_types is not None else None,
            kind="token",
            processes=frozenset(_names(processes)) if processes is not None else None,
        )

    def _in_time(self, claims: dict[str, Any]) -> bool:
        """``exp`` is in the future, ``iat`` and ``nbf`` (where present) are not (with
        :data:`CLOCK_SKEW` of leeway), by the injected clock."""
        now = self._now().timestamp()
        skew = CLOCK_SKEW.total_seconds()
        expires = _number(claims.get("exp"))
        if expires is None or now >= expires + skew:
            return False
        for name in ("iat", "nbf"):
            if name in claims:
                at = _number(claims[name])
                if at is None or at > now + skew:
                    return False
        return True

    def _subject(self, kind: str, name: str) -> Principal | None:
        """The principal a token of ours stands for, as the store has it now (cached)."""
        cached = self._subjects.get((kind, name))
        if cached is not None:
            return cached[0]
        with self._store.transaction() as tx:
            if kind == "user":
                user = tx.get_user(name)
                found = None if user is None or user.disabled else _user_principal(user, "token")
            else:
                key = tx.get_api_key(name)
                revoked = key is None or key.revoked_at is not None
                found = None if revoked or key is None else _key_principal(key, "token")
        self._subjects.put((kind, name), found)
        return found

    # -- management --------------------------------------------------------------------------
    def create_user(
        self,
        name: str,
        password: str,
        roles: Iterable[str],
        groups: Iterable[str] = (),
        processes: Iterable[str] | None = None,
    ) -> User:
        """Add a user, limited to ``processes`` (ids, or prefixes ending ``*``; None for
        every process).

        Raises:
            AccountError: an unknown role, no role, an empty password, a name that cannot
                be used (empty, with a colon or control characters, or starting ``lk_``),
                or a process pattern that cannot be used.
            AccountExistsError: a user of that name exists.
        """
        _check_user_name(name)
        _check_password(password)
        checked_processes = _checked_processes(processes)
        record = UserRecord(
            name=name,
            password_hash=self._hash(password),
            roles=_checked_roles(roles),
            groups=_checked_groups(groups),
            created_at=self._now(),
            processes=checked_processes,
        )
        with self._store.transaction() as tx:
            if not tx.insert_user(record):
                raise AccountExistsError(f"a user named {name!r} exists already")
        return _user_info(record)

    def set_password(self, name: str, password: str) -> None:
        """Give a user a new password (other nodes stop taking the old one within the cache
        time).

        Raises:
            AccountError: an empty password.
            AccountNotFoundError: no such user.
        """
        _check_password(password)
        password_hash = self._hash(password)
        self._change_user(name, lambda user: replace(user, password_hash=password_hash))

    def set_roles(self, name: str, roles: Iterable[str]) -> None:
        """Replace a user's roles.

        Raises:
            AccountError: an unknown role, no role, or the last enabled admin losing ``admin``.
            AccountNotFoundError: no such user.
        """
        checked = _checked_roles(roles)
        self._change_user(name, lambda user: replace(user, roles=checked))

    def set_groups(self, name: str, groups: Iterable[str]) -> None:
        """Replace a user's groups.

        Raises:
            AccountError: an empty group name.
            AccountNotFoundError: no such user.
        """
        checked = _checked_groups(groups)
        self._change_user(name, lambda user: replace(user, groups=checked))

    def set_user_processes(self, name: str, processes: Iterable[str] | None) -> None:
        """Limit a user to ``processes`` (ids, or prefixes ending ``*``), or lift the limit
        (None).

        Raises:
            AccountError: a process pattern that cannot be used, or an empty list.
            AccountNotFoundError: no such user.
        """
        checked = _checked_processes(processes)
        self._change_user(name, lambda user: replace(user, processes=checked))

    def set_key_processes(self, key_id: str, processes: Iterable[str] | None) -> None:
        """Limit an API key to ``processes`` (ids, or prefixes ending ``*``), or lift the
        limit (None).

        Raises:
            AccountError: a process pattern that cannot be used, or an empty list.
            AccountNotFoundError: no such key.
        """
        checked = _checked_processes(processes)
        with self._store.transaction() as tx:
            record = tx.get_api_key(key_id)
            if record is None:
                raise AccountNotFoundError(f"no API key {key_id!r}")
            tx.update_api_key(replace(record, processes=checked))
        self._forget()

    def disable_user(self, name: str) -> None:
        """Stop a user from signing in (their tokens stop working too); kept for the record.

        Raises:
            AccountError: it is the last enabled admin.
            AccountNotFoundError: no such user.
        """
        self._change_user(name, lambda user: replace(user, disabled=True))

    def enable_user(self, name: str) -> None:
        """Let a disabled user sign in again.

        Raises:
            AccountNotFoundError: no such user.
        """
        self._change_user(name, lambda user: replace(user, disabled=False))

    def delete_user(self, name: str) -> None:
        """Remove a user.

        Raises:
            AccountError: it is the last enabled admin.
            AccountNotFoundError: no such user.
        """
        with self._store.transaction() as tx:
            user = tx.get_user(name)
            if user is None:
                raise AccountNotFoundError(f"no user named {name!r}")
            everyone = tx.list_users()
            _keep_an_admin(everyone, [u for u in everyone if u.name != name])
            tx.delete_user(name)
        self._forget()

    def users(self) -> list[User]:
        """Every user, by name."""
        with self._store.transaction() as tx:
            return [_user_info(record) for record in tx.list_users()]

    def user(self, name: str) -> User:
        """One user.

        Raises:
            AccountNotFoundError: no such user.
        """
        with self._store.transaction() as tx:
            record = tx.get_user(name)
        if record is None:
            raise AccountNotFoundError(f"no user named {name!r}")
        return _user_info(record)

    def create_api_key(
        self,
        name: str,
        roles: Iterable[str],
        job_types: Iterable[str] | None = None,
        processes: Iterable[str] | None = None,
    ) -> tuple[str, str]:
        """Make an API key; returns ``(key_id, secret)``. The secret is not stored (only a
        hash of it): show it to the user now, it cannot be shown again. ``processes``
        limits the key to those processes (ids, or prefixes ending ``*``; None: every one).

        Raises:
            AccountError: an unknown role, no role, an empty name, an empty list of job
                types (None means every type), or a process pattern that cannot be used.
        """
        _check_label(name)
        checked_roles = _checked_roles(roles)
        checked_types = None if job_types is None else _checked_job_types(job_types)
        checked_processes = _checked_processes(processes)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        while True:
            key_id = KEY_PREFIX + "".join(
                secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH)
            )
            record = ApiKeyRecord(
                key_id=key_id,
                name=name,
                secret_hash=_secret_hash(secret),
                roles=checked_roles,
                job_types=checked_types,
                created_at=self._now(),
                processes=checked_processes,
            )
            with self._store.transaction() as tx:
                if tx.get_api_key(key_id) is None:  # 95 random bits: never taken in practice
                    tx.insert_api_key(record)
                    return key_id, secret

    def api_keys(self) -> list[ApiKey]:
        """Every API key, revoked ones included, oldest first."""
        with self._store.transaction() as tx:
            return [_key_info(record) for record in tx.list_api_keys()]

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key: it and its tokens stop working (at once here, within the cache
        time on other nodes). Revoking a revoked key changes nothing.

        Raises:
            AccountNotFoundError: no such key.
        """
        with self._store.transaction() as tx:
            record = tx.get_api_key(key_id)
            if record is None:
                raise AccountNotFoundError(f"no API key {key_id!r}")
            if record.revoked_at is None:
                tx.update_api_key(replace(record, revoked_at=self._now()))
        self._forget()

    def ensure_admin(self, password: str | None = None) -> str | None:
        """Create the user ``admin`` (role admin) if there are no users at all.

        Call it when a server starts. Nodes that start together on PostgreSQL create one
        admin between them (the insert is race-free; the losers change nothing).

        Args:
            password: the admin's password (e.g. from ``LEGATO_ADMIN_PASSWORD``); None to
                generate one.

        Returns:
            The admin's password (the one given or the one generated) when this call created
            the user, so that it can be shown once; None when users existed already.

        Raises:
            AccountError: ``password`` is empty.
        """
        if password is not None:
            _check_password(password)
        with self._store.transaction() as tx:
            if tx.count_users() > 0:
                return None
        chosen = password if password is not None else secrets.token_urlsafe(18)
        record = UserRecord(
            name=ADMIN_USER,
            password_hash=self._hash(chosen),  # slow: outside any transaction
            roles=("admin",),
            created_at=self._now(),
        )
        with self._store.transaction() as tx:
            if tx.count_users() > 0 or not tx.insert_user(record):
                return None
        logger.info("created the user %r (role admin) in an empty database", ADMIN_USER)
        return chosen

    generation = 0
    """Incremented whenever the remembered credentials are dropped (an account changed
    through this object): whoever remembers credentials on top must drop them too."""

    def forget_cached(self) -> None:
        """Drop every remembered credential and subject (the next request checks the store)."""
        self._forget()

    # -- helpers -----------------------------------------------------------------------------
    def _change_user(self, name: str, change: Callable[[UserRecord], UserRecord]) -> None:
        with self._store.transaction() as tx:
            user = tx.get_user(name)
            if user is None:
                raise AccountNotFoundError(f"no user named {name!r}")
            changed = change(user)
            everyone = tx.list_users()
            _keep_an_admin(everyone, [changed if u.name == name else u for u in everyone])
            tx.update_user(changed)
        self._forget()

    def _forget(self) -> None:
        self._verified.clear()
        self._subjects.clear()
        self.generation += 1

    def _fingerprint(self, kind: str, name: str, secret: str) -> bytes:
        # Lengths first, so that no two (name, secret) pairs give the same text.
        text = f"{kind}\0{len(name)}\0{name}\0{len(secret)}\0{secret}"
        return hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).digest()

    def _hash(self, password: str) -> str:
        with self._argon2_slots:
            return self._hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        with self._argon2_slots:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    def _needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False

    def _rehash(self, record: UserRecord, password: str) -> None:
        """Store the hash again with the hasher's current parameters (after a sign-in, the
        only time the password is known)."""
        new_hash = self._hash(password)
        with self._store.transaction() as tx:
            current = tx.get_user(record.name)
            if current is not None and current.password_hash == record.password_hash:
                tx.update_user(replace(current, password_hash=new_hash))

    def _dummy(self) -> str:
        with self._lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            return self._dummy_hash

    def _token_key(self) -> str:
        with self._lock:
            if self._signing_key is None:
                with self._store.transaction() as tx:
                    self._signing_key = tx.ensure_server_secret(
                        SIGNING_SECRET, secrets.token_urlsafe(64), self._now()
                    )
            return self._signing_key

    def _note_use(self, record: ApiKeyRecord) -> None:
        now = self._now()
        if record.last_used_at is not None and now - record.last_used_at < _LAST_USED_RESOLUTION:
            return
        with self._store.transaction() as tx:
            current = tx.get_api_key(record.key_id)
            if current is not None:
                tx.update_api_key(replace(current, last_used_at=now))


def _split_key(token: str) -> tuple[str, str | None]:
    """``key_id:secret`` or ``key_id.secret`` (key ids have no dot or colon; secrets are
    URL-safe base64, which has neither)."""
    for separator in (":", "."):
        key_id, found, secret = token.partition(separator)
        if found:
            return key_id, secret
    return token, None


def _secret_hash(secret: str) -> str:
    # A fast hash is right for a secret of 256 random bits: nothing to guess by brute force.
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return _SECRET_HASH_PREFIX + digest


def _user_principal(record: UserRecord, kind: str) -> Principal:
    return Principal(
        name=record.name,
        roles=frozenset(record.roles),
        groups=frozenset(record.groups),
        kind=kind,
        processes=None if record.processes is None else frozenset(record.processes),
    )


def _key_principal(record: ApiKeyRecord, kind: str) -> Principal:
    return Principal(
        name=record.key_id,
        roles=frozenset(record.roles),
        job_types=None if record.job_types is None else frozenset(record.job_types),
        kind=kind,
        processes=None if record.processes is None else frozenset(record.processes),
    )


def _user_info(record: UserRecord) -> User:
    return User(
        record.name,
        record.roles,
        record.groups,
        record.created_at,
        record.disabled,
        record.processes,
    )


def _key_info(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        key_id=record.key_id,
        name=record.name,
        roles=record.roles,
        job_types=record.job_types,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
        processes=record.processes,
    )


def _number(value: object) -> float | None:
    """A claim's time as a number (None if it is not one)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _names(value: Any) -> list[str]:
    """The names in a claim: a list of strings, or one string separated by spaces or commas."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _check_user_name(name: str) -> None:
    _check_label(name, what="user name")
    if ":" in name:
        raise AccountError(f"a user name cannot contain ':' (Basic authentication): {name!r}")
    if name.startswith(KEY_PREFIX):
        raise AccountError(f"a user name cannot start with {KEY_PREFIX!r} (API key ids do)")


def _check_label(name: str, what: str = "name") -> None:
    if not name or not name.strip():
        raise AccountError(f"the {what} is empty")
    if name != name.strip() or _has_control(name) or len(name) > _MAX_NAME:
        raise AccountError(
            f"the {what} {name!r} cannot be used: no spaces at either end, no control "
            f"characters, at most {_MAX_NAME} characters"
        )


def _check_password(password: str) -> None:
    if not password:
        raise AccountError("the password is empty")
    if len(password) > _MAX_PASSWORD:
        raise AccountError(f"the password is longer than {_MAX_PASSWORD} characters")


def _checked_roles(roles: Iterable[str]) -> tuple[str, ...]:
    given = list(roles) if not isinstance(roles, str) else [roles]
    if not given:
        raise AccountError(f"give at least one role; the roles are {', '.join(ROLES)}")
    for role in given:
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return tuple(role for role in ROLES if role in given)


def _checked_groups(groups: Iterable[str]) -> tuple[str, ...]:
    given = [groups] if isinstance(groups, str) else list(groups)
    for group in given:
        _check_label(group, what="group name")
    return tuple(sorted(set(given)))


def _checked_job_types(job_types: Iterable[str]) -> tuple[str, ...]:
    given = [job_types] if isinstance(job_types, str) else list(job_types)
    if not given:
        raise AccountError("give at least one job type, or none at all for every type")
    for job_type in given:
        _check_label(job_type, what="job type")
    return tuple(sorted(set(given)))


def _checked_processes(processes: Iterable[str] | None) -> tuple[str, ...] | None:
    """None (every process: None, or a list holding ``*``), or the patterns checked and
    sorted."""
    if processes is None:
        return None
    given = [processes] if isinstance(processes, str) else list(processes)
    if "*" in given:  # every process: the same as no limit
        return None
    if not given:
        raise AccountError("give at least one process id or pattern, or none for every process")
    try:
        return check_process_patterns(given)
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def _keep_an_admin(before: Sequence[UserRecord], after: Iterable[UserRecord]) -> None:
    """Refuse a change that takes away the last enabled admin (nobody could manage users)."""

    def admins(records: Iterable[UserRecord]) -> int:
        return sum(1 for u in records if "admin" in u.roles and not u.disabled)

    if admins(before) > 0 and admins(after) == 0:
        raise AccountError("this would leave no enabled admin; make another user admin first")
