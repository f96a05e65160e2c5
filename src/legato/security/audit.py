"""The audit trail: every action of a person or a machine, append-only and chained by hash.

Each record says who (a user name, ``key:<id>`` for an API key, or ``system``), when, from
where (address and user agent), what (a dotted action of :data:`ACTIONS`), on which
resource, and whether it was ``allowed`` or ``denied``, with details as JSON. The records
are the table ``audit_log``, numbered 1, 2, 3, ... without gaps.

**The chain.** A record's ``hash`` is the SHA-256 of a canonical JSON of its fields (every
field but the sequence number) and of the previous record's hash (:data:`GENESIS` for the
first), so that changing, removing, adding or moving a record breaks the chain at that
record. The sequence number is left out of the hash on purpose: the order is bound by the
links, and the numbers are checked for continuity on their own, which lets the
verification tell a moved record from an edited one. Every :data:`CHECKPOINT_EVERY`
records (and on demand, and at the cut of a prune) a checkpoint stores a record's hash with
an HMAC-SHA256 signature made with a server secret: a rewritten chain (every hash computed
again) no longer matches its checkpoints, and a prune leaves a signed starting point for the
records it keeps. :func:`legato.security.audit_chain.verify_trail` walks it all.

**What it does not protect.** The signing secret is kept in the same database
(``server_secrets``) unless one is passed in: whoever can write every table can also sign.
Records appended after the last checkpoint can be removed from the end without a trace (a
checkpoint on demand narrows that window). The trail proves that the stored records were
not changed; it cannot prove that every action was recorded.

**When a record is written.** The API and the web app record an action after it is done, in
a transaction of its own (one short INSERT under the trail's lock; see
:mod:`legato.api.audit`): the action and its record are not one transaction, so a crash
between the two loses the record. Recording inside the engine's transaction would put the
trail's lock into every command's commit, and most of the actions are not commands.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from legato.model.sensitive import SensitiveSelector
from legato.security import Principal
from legato.security.sensitive import mask_variables
from legato.store._rules import dump_json, load_json
from legato.store.audit import AuditCheckpoint, AuditQuery, AuditRecord
from legato.store.ports import Store

GENESIS = "0" * 64
"""The "previous hash" of the very first record."""
CHECKPOINT_EVERY = 1000
"""A signed checkpoint is written with every record whose number is a multiple of this."""
AUDIT_SECRET = "audit-signing-key"
"""The ``server_secrets`` row that holds the checkpoints' HMAC key."""
ALLOWED = "allowed"
DENIED = "denied"

ACTIONS: Mapping[str, str] = {
    "auth.sign_in": "a user signed in to the web app, or a client got a token",
    "auth.sign_in_failed": "wrong credentials (web sign-in, token request or API call)",
    "auth.sign_out": "a user signed out of the web app",
    "definition.deploy": "process or decision models deployed",
    "definition.suspend": "a process version suspended or resumed (no new instances)",
    "definition.resume": "a suspended process version resumed",
    "definition.tag": "a process version tagged",
    "definition.rollout": "a gradual rollout between two process versions set or ended",
    "alert.resolve": "an alert resolved by hand",
    "sla.change": "an expected duration set or removed",
    "webhook.change": "a webhook added or removed",
    "instance.start": "a process instance started",
    "instance.cancel": "a process instance cancelled",
    "instance.suspend": "a process instance suspended",
    "instance.resume": "a process instance resumed",
    "instance.migrate": "instances migrated to another version (a batch or its control)",
    "instance.modify": "an instance's tokens moved, added or removed (modification)",
    "instance.batch": "a batch operation over instances (cancel, retry)",
    "variables.change": "variables set: names, and old and new values through mask_for_audit",
    "incident.retry": "an incident retried (or resolved)",
    "incident.resolve": "an incident resolved",
    "message.publish": "a message published or correlated, a signal broadcast",
    "task.claim": "a user task claimed or unclaimed",
    "task.assign": "a user task assigned, delegated or its assignee removed",
    "task.complete": "a user task completed",
    "task.change": "a user task's variables changed",
    "job.change": "a job's retries or lock changed by an operator",
    "user.create": "a user created",
    "user.change": "a user's roles, groups, password or status changed",
    "user.delete": "a user removed",
    "api_key.create": "an API key created",
    "api_key.revoke": "an API key revoked",
    "key.rotate": "an encryption key added and the stored values encrypted again with it",
    "key.retire": "an encryption key removed from the key file",
    "value.reveal": "sensitive values shown unmasked: processes, instances, variable names",
    "config.change": "the server's configuration changed (no such action yet)",
    "audit.checkpoint": "a signed checkpoint written on demand",
    "audit.prune": "audit records older than a date deleted",
    "api.request": "a state-changing API request without an action of its own",
}
"""The action names and what each records. ``config.change`` names an action that does not
exist yet: its code will call :meth:`AuditTrail.record` with this name."""


def mask_for_audit(
    selector: SensitiveSelector | None, process_id: str, values: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Variables as an audit record keeps them: their sensitive parts always masked (the
    trail is read by auditors and kept for years; nobody reveals through it). Unchanged
    without a selector."""
    if selector is None:
        return values
    return mask_variables(selector, process_id, values)


def variable_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    selector: SensitiveSelector | None = None,
    process_id: str = "",
) -> dict[str, Any]:
    """The details of a ``variables.change``: the names, and each old and new value through
    :func:`mask_for_audit` (``old`` holds the values before the change, where known)."""
    old = mask_for_audit(selector, process_id, old)
    new = mask_for_audit(selector, process_id, new)
    return {
        "names": sorted(new),
        "changes": {name: {"old": old.get(name), "new": new[name]} for name in sorted(new)},
    }


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted, as the trail names them."""

    name: str
    """A user name, ``key:<id>``, ``system``, or what a failed sign-in claimed to be."""
    kind: str
    """``user``, ``key``, ``token``, ``system`` or ``anonymous``."""

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor of an authenticated principal (an API key is ``key:<id>``)."""
        if principal.kind == "key" or principal.name.startswith("lk_"):
            return cls(f"key:{principal.name}", "key")
        return cls(principal.name, principal.kind)


SYSTEM = Actor("system", "system")
"""Legato itself (a command-line action with no person named)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a request came from."""

    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """What an action was done to."""

    type: str
    id: str | None = None


def canonical(record: AuditRecord) -> bytes:
    """The bytes a record's hash covers: its fields but ``seq`` and ``hash``, with the
    previous hash, as JSON with sorted keys and no spaces."""
    fields = {
        "at": record.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "actor_kind": record.actor_kind,
        "source_address": record.source_address,
        "user_agent": record.user_agent,
        "action": record.action,
        "resource_type": record.resource_type,
        "resource_id": record.resource_id,
        "outcome": record.outcome,
        "details": record.details,
        "prev_hash": record.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: AuditRecord) -> str:
    """The SHA-256 (hex) a record must carry."""
    return hashlib.sha256(canonical(record)).hexdigest()


def sign(secret: bytes, seq: int, record_hash: str) -> str:
    """A checkpoint's HMAC-SHA256 (hex) of ``seq`` and the record's hash."""
    return hmac.new(secret, f"{seq}:{record_hash}".encode(), hashlib.sha256).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


class AuditTrail:
    """Records actions in ``store``'s audit trail, and lists, verifies and prunes it.

    Args:
        store: the database (shared by every node: records from all nodes form one chain).
        now: the clock of the records' ``at``.
        secret: the checkpoints' HMAC key; None: the database's own (``server_secrets``,
            generated once).
        checkpoint_every: a signed checkpoint with every record whose number is a multiple
            of this.
    """

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime] = _utc_now,
        secret: bytes | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        self.store = store
        self._now = now
        self._secret = secret
        self._every = checkpoint_every

    @property
    def secret(self) -> bytes:
        """The checkpoints' HMAC key."""
        if self._secret is None:
            with self.store.transaction() as tx:
                value = tx.ensure_server_secret(AUDIT_SECRET, secrets.token_hex(32), self._now())
            self._secret = value.encode()
        return self._secret

    def record(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        outcome: str = ALLOWED,
        details: Mapping[str, Any] | None = None,
        source: Source | None = None,
    ) -> AuditRecord:
        """Append one record (in a transaction of its own) and return it as stored."""
        if outcome not in (ALLOWED, DENIED):
            raise ValueError(f"outcome must be '{ALLOWED}' or '{DENIED}', not {outcome!r}")
        secret = self.secret  # before the transaction: it may need one of its own
        source = source or Source()
        draft = AuditRecord(
            seq=0,
            at=self._now(),
            actor=actor.name[:255],
            actor_kind=actor.kind,
            source_address=_clip(source.address, 64),
            user_agent=_clip(source.user_agent, 512),
            action=action,
            resource_type=None if resource is None else resource.type,
            resource_id=None if resource is None else _clip(resource.id, 255),
            outcome=outcome,
            # The JSON round trip of the column, so that the hash covers what is stored.
            details=load_json(dump_json(dict(details or {}))),
        )
        with self.store.transaction() as tx:
            seq, prev = self._tail(tx.lock_audit_tail(), tx.list_audit_checkpoints)
            linked = replace(draft, seq=seq, prev_hash=prev)
            stored = replace(linked, hash=record_hash(linked))
            tx.insert_audit_record(stored)
            if seq % self._every == 0:
                tx.insert_audit_checkpoint(self._checkpoint(secret, stored))
        return stored

    @staticmethod
    def _tail(
        last: tuple[int, str] | None, checkpoints: Callable[[], list[AuditCheckpoint]]
    ) -> tuple[int, str]:
        """The next record's number and previous hash."""
        if last is not None:
            return last[0] + 1, last[1]
        kept = checkpoints()  # every record was pruned: the chain goes on from the cut
        if kept:
            return kept[-1].seq + 1, kept[-1].hash
        return 1, GENESIS

    def _checkpoint(self, secret: bytes, record: AuditRecord) -> AuditCheckpoint:
        signature = sign(secret, record.seq, record.hash)
        return AuditCheckpoint(record.seq, record.hash, signature, self._now())

    def checkpoint(self) -> AuditCheckpoint | None:
        """Sign the last record now (None for an empty trail)."""
        secret = self.secret
        with self.store.transaction() as tx:
            last = tx.lock_audit_tail()
            if last is None:
                return None
            made = AuditCheckpoint(last[0], last[1], sign(secret, *last), self._now())
            tx.insert_audit_checkpoint(made)
        return made

    def records(self, query: AuditQuery) -> list[AuditRecord]:
        """The records that match ``query``."""
        with self.store.transaction() as tx:
            return tx.list_audit_records(query)

    def prune(self, before: datetime) -> int:
        """Delete the records older than ``before``; how many went. A signed checkpoint at
        the last one deleted (the cut) is written first, in the same transaction, so the
        records kept still verify from there."""
        secret = self.secret
        with self.store.transaction() as tx:
            tx.lock_audit_tail()
            cut = tx.last_audit_seq_before(before)
            if cut is None:
                return 0
            last = tx.list_audit_records(AuditQuery(after_seq=cut - 1, limit=1))[0]
            tx.insert_audit_checkpoint(self._checkpoint(secret, last))
            deleted = tx.delete_audit_records(cut)
            tx.delete_audit_checkpoints(cut)
        return deleted


def audit_query(
    *,
    actor: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> AuditQuery:
    """The query of the filters the API, the web app and the command line share, newest
    first: ``resource`` is a type (``instance``) or a type and id (``instance:42``)."""
    resource_type, resource_id = None, None
    if resource:
        kind, colon, ident = resource.partition(":")
        resource_type, resource_id = kind, (ident if colon else None)
    return AuditQuery(
        actor=actor or None,
        action=action or None,
        resource_type=resource_type,
        resource_id=resource_id,
        since=since,
        until=until,
        before_seq=before_seq,
        newest_first=True,
        limit=limit,
    )


def record_json(record: AuditRecord) -> dict[str, Any]:
    """A record as one JSON object (the API's items and the lines of an export)."""
    return {
        "seq": record.seq,
        "at": record.at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "actor": record.actor,
        "actorKind": record.actor_kind,
        "sourceAddress": record.source_address,
        "userAgent": record.user_agent,
        "action": record.action,
        "resourceType": record.resource_type,
        "resourceId": record.resource_id,
        "outcome": record.outcome,
        "details": record.details,
        "prevHash": record.prev_hash,
        "hash": record.hash,
    }
