"""The key ring of encryption at rest: AES-256-GCM keys with ids, and where they come from.

A :class:`KeyRing` holds 256-bit keys by id and names one of them *primary*: new values are
encrypted with the primary key, and any key of the ring decrypts what was encrypted with it.
A ciphertext (:meth:`KeyRing.encrypt`) is the text ``<key id>.<base64url(nonce | ciphertext
| tag)>``: it carries the id of its key, so that a reader knows which key it needs and the
rotation (:mod:`legato.runtime.rekey`) can tell what still uses an old key. Each value gets a
fresh 96-bit random nonce. The caller's *context* (which column of which row the value
belongs to) is authenticated as associated data: a ciphertext copied into another row does
not decrypt.

**Envelope.** The ring's keys are the data keys. Where they come from is a
:class:`KeyProvider`: a key file (:func:`load_key_file`, written by ``legato keys
init``), the environment (:func:`keyring_from_env`), or any object with the provider's two
methods. A provider for a key management service keeps the data keys wrapped by the
service's master key and unwraps each once (:class:`WrappedKeyProvider`): the master key
never leaves the service, and the ring asks for each data key once, then keeps it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from legato.errors import EncryptionError

__all__ = [
    "ENV_VARIABLE",
    "FileKeyProvider",
    "KeyProvider",
    "KeyRing",
    "StaticKeyProvider",
    "WrappedKeyProvider",
    "keyring_from_env",
    "load_key_file",
    "new_key",
    "write_key_file",
]

ENV_VARIABLE = "LEGATO_KEYRING"
"""The environment variable that turns encryption on: the path of a key file, or the key
file's JSON itself (a value starting with ``{``)."""

KEY_BYTES = 32
"""AES-256."""
_NONCE_BYTES = 12
_LOOK_EVERY = 5.0
"""Seconds between two looks at a key file for a new primary key."""
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class KeyProvider(Protocol):
    """Where the keys of a ring come from (a file, the environment, a key management
    service)."""

    def key_ids(self) -> Sequence[str]:
        """The ids of every key, the primary one (that encrypts new values) last."""

    def key(self, key_id: str) -> bytes:
        """The 32 bytes of a key. Raises :class:`~legato.errors.EncryptionError` naming the
        id when there is no such key."""


class StaticKeyProvider:
    """Keys held in memory: ``{id: 32 bytes}`` in order, the primary one last."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise EncryptionError("a key ring needs at least one key")
        for key_id, key in keys.items():
            _check_key(key_id, key)
        self._keys = dict(keys)

    def key_ids(self) -> Sequence[str]:
        return list(self._keys)

    def keys(self) -> dict[str, bytes]:
        """The keys by id, the primary one last."""
        return dict(self._keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise EncryptionError(f"encryption key {key_id!r} is not in the key ring") from None


class FileKeyProvider:
    """The keys of a key file, read again when a key the ring does not know is asked for:
    an engine that meets a value encrypted by a key added since it started (``legato
    keys rotate``) takes the new key, and with it the new primary key."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: float | None = None
        self._keys = self._read()

    def changed(self) -> bool:
        """Whether the file was written since it was read."""
        try:
            return self.path.stat().st_mtime != self._stamp
        except OSError:
            return False

    def _read(self) -> dict[str, bytes]:
        try:
            self._stamp = self.path.stat().st_mtime
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EncryptionError(f"cannot read key file {self.path}: {exc.strerror}") from None
        return dict(parse_key_document(text, str(self.path)).keys())

    def key_ids(self) -> Sequence[str]:
        return list(self._keys)

    def reload(self) -> None:
        """Read the file again."""
        self._keys = self._read()

    def key(self, key_id: str) -> bytes:
        if key_id not in self._keys:
            self.reload()
        try:
            return self._keys[key_id]
        except KeyError:
            raise EncryptionError(
                f"encryption key {key_id!r} is not in the key file {self.path}"
            ) from None


class WrappedKeyProvider:
    """Data keys kept wrapped by a master key that stays in a key management service.

    ``wrapped`` maps each key id to the wrapped data key (the primary one last) and
    ``unwrap`` asks the service to unwrap one (for a cloud KMS, its ``decrypt`` call). Each
    key is unwrapped once, on first use.
    """

    def __init__(self, wrapped: Mapping[str, bytes], unwrap: Callable[[bytes], bytes]) -> None:
        if not wrapped:
            raise EncryptionError("a key ring needs at least one key")
        self._wrapped = dict(wrapped)
        self._unwrap = unwrap

    def key_ids(self) -> Sequence[str]:
        return list(self._wrapped)

    def key(self, key_id: str) -> bytes:
        wrapped = self._wrapped.get(key_id)
        if wrapped is None:
            raise EncryptionError(f"encryption key {key_id!r} is not in the key ring")
        key = self._unwrap(wrapped)
        _check_key(key_id, key)
        return key


class KeyRing:
    """AES-256-GCM encryption with the keys of a :class:`KeyProvider`.

    Implements :class:`legato.store.sealing.ValueCipher`, which the store encrypts with.
    """

    def __init__(self, provider: KeyProvider) -> None:
        ids = list(provider.key_ids())
        if not ids:
            raise EncryptionError("a key ring needs at least one key")
        self._provider = provider
        self._ids = ids
        self._ciphers: dict[str, AESGCM] = {}
        self.primary_key_id = ids[-1]
        """The key that encrypts new values."""
        self._primary = self._cipher(self.primary_key_id)
        self._prefix = self.primary_key_id + "."
        # A provider that can change (a key file) is looked at again every few seconds, so
        # that a rotation's new primary key is taken even by an engine that reads nothing.
        self._look_at: float | None = (
            time.monotonic() + _LOOK_EVERY if hasattr(provider, "changed") else None
        )

    @classmethod
    def of(cls, keys: Mapping[str, bytes]) -> KeyRing:
        """A ring of keys held in memory (the primary one last)."""
        return cls(StaticKeyProvider(keys))

    @property
    def key_ids(self) -> list[str]:
        """The ids of the ring's keys, the primary one last."""
        return list(self._ids)

    def encrypt(self, plain: bytes, context: bytes) -> str:
        """``plain`` encrypted with the primary key, ``context`` authenticated with it."""
        if self._look_at is not None and time.monotonic() >= self._look_at:
            self._look_at = time.monotonic() + _LOOK_EVERY
            if getattr(self._provider, "changed", bool)():
                self._refresh()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._primary.encrypt(nonce, plain, context)
        return self._prefix + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, context: bytes) -> bytes:
        """The plaintext of a ciphertext of :meth:`encrypt`.

        Raises:
            EncryptionError: naming the key when the ring does not have it, or when the
                ciphertext was changed, belongs to another context or is not one at all.
        """
        key_id, _, body = token.partition(".")
        cipher = self._ciphers.get(key_id) or self._cipher(key_id)
        try:
            raw = base64.urlsafe_b64decode(body)
        except (binascii.Error, ValueError):
            raise EncryptionError(f"not a ciphertext of key {key_id!r}") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise EncryptionError(f"not a ciphertext of key {key_id!r}")
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context)
        except InvalidTag:
            raise EncryptionError(
                f"a value encrypted with key {key_id!r} does not decrypt for "
                f"{context.decode('utf-8', 'replace')}: it was changed or moved from "
                "another row"
            ) from None

    def _cipher(self, key_id: str) -> AESGCM:
        if key_id not in self._ids:
            self._refresh()
        if key_id not in self._ids:
            raise EncryptionError(
                f"encryption key {key_id!r} is not in the key ring (it has "
                f"{', '.join(self._ids)}): data encrypted with it cannot be read"
            )
        cipher = self._ciphers[key_id] = AESGCM(self._provider.key(key_id))
        return cipher

    def _refresh(self) -> None:
        """Ask the provider for its keys again (a key file may have a new primary key)."""
        reload = getattr(self._provider, "reload", None)
        if reload is None:
            return
        reload()
        ids = list(self._provider.key_ids())
        if ids:
            self._ids = ids
            if ids[-1] != self.primary_key_id:
                self.primary_key_id = ids[-1]
                self._primary = self._cipher(ids[-1])
                self._prefix = ids[-1] + "."

    def keys(self) -> dict[str, bytes]:
        """Every key by id, the primary one last (for writing a key file)."""
        return {key_id: self._provider.key(key_id) for key_id in self._ids}


def new_key() -> bytes:
    """32 random bytes: a new AES-256 key."""
    return secrets.token_bytes(KEY_BYTES)


def _check_key(key_id: str, key: bytes) -> None:
    if not _KEY_ID.match(key_id):
        raise EncryptionError(
            f"key id {key_id!r}: use 1 to 64 letters, digits, '-' or '_' (no dots)"
        )
    if len(key) != KEY_BYTES:
        raise EncryptionError(f"encryption key {key_id!r} has {len(key)} bytes, not 32")


def parse_key_document(text: str, origin: str) -> StaticKeyProvider:
    """The keys of a key file's JSON: ``{"keys": [{"id": ..., "key": base64}, ...]}``, the
    primary key last. ``origin`` names the file (or variable) in errors."""
    try:
        document: Any = json.loads(text)
        entries = document["keys"]
        keys = {entry["id"]: base64.b64decode(entry["key"], validate=True) for entry in entries}
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise EncryptionError(
            f'{origin}: not a key file (expected {{"keys": [{{"id": ..., "key": '
            f"<base64 of 32 bytes>}}]}}): {exc}"
        ) from None
    try:
        return StaticKeyProvider(keys)
    except EncryptionError as exc:
        raise EncryptionError(f"{origin}: {exc}") from None


def load_key_file(path: str | Path) -> KeyRing:
    """The key ring of a key file (see :func:`write_key_file`), read again when it meets a
    key it does not know."""
    return KeyRing(FileKeyProvider(path))


def keyring_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """The key ring that :data:`ENV_VARIABLE` names (a key file's path, or its JSON), or None
    when the variable is not set."""
    value = (os.environ if environ is None else environ).get(ENV_VARIABLE, "").strip()
    if not value:
        return None
    if value.startswith("{"):
        return KeyRing(parse_key_document(value, ENV_VARIABLE))
    return load_key_file(value)


def write_key_file(path: str | Path, keys: Mapping[str, bytes]) -> None:
    """Write ``keys`` (the primary last) as a key file readable only by its owner; the file
    is replaced whole (written beside it, then renamed), so a crash leaves the old or the
    new one."""
    for key_id, key in keys.items():
        _check_key(key_id, key)
    document = {
        "keys": [
            {"id": key_id, "key": base64.b64encode(key).decode("ascii")}
            for key_id, key in keys.items()
        ]
    }
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, target)
