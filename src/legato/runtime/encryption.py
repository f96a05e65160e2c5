"""Encryption at rest, as the engine turns it on.

``Engine(url, keyring=...)`` (or ``LEGATO_KEYRING``) wraps the engine's store in a
:class:`~legato.store.sealed.SealedStore`: the values the store writes are sealed with the
ring's primary key and opened again on every read, so the engine core and everything above
the store see plaintext. What is sealed is :class:`~legato.store.sealing.Sealing`'s rule:
the sensitive values (a :class:`~legato.model.sensitive.SensitiveSelector`; by default the
paths the process models declare, :class:`DeclaredSensitivity`) and the texts that quote
them, or everything.

Key rotation and retirement: :mod:`legato.runtime.rekey`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from legato.model.sensitive import SensitivePath, SensitiveSelector
from legato.runtime.definitions import DefinitionRegistry
from legato.security.keyring import KeyRing, keyring_from_env, load_key_file
from legato.store.ports import Store
from legato.store.sealed import SealedStore
from legato.store.sealing import Mode, Sealing

__all__ = [
    "CombinedSensitivity",
    "DeclaredSensitivity",
    "encrypted_store",
    "key_ring",
    "selector_of",
]


class DeclaredSensitivity:
    """The paths that the deployed models declare sensitive (``legato:sensitive``); no
    detector."""

    detects = False
    """No detector: :class:`~legato.store.sealing.Sealing` need not look at every text."""

    def __init__(self, registry: DefinitionRegistry | None = None) -> None:
        self.registry = registry

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        registry = self.registry
        return () if registry is None else registry.known_sensitive_paths(process_id)

    def detect(self, text: str) -> bool:
        return False


class CombinedSensitivity:
    """What the models declare, and what another selector adds (a policy file's paths, a
    detector)."""

    def __init__(self, declared: DeclaredSensitivity, other: SensitiveSelector) -> None:
        self._declared = declared
        self._other = other
        self.detects = bool(getattr(other, "detects", True))

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        declared = self._declared.paths(process_id)
        other = self._other.paths(process_id)
        if not declared:
            return other
        if not other:
            return declared
        return {*declared, *other}

    def detect(self, text: str) -> bool:
        return self._other.detect(text)


def selector_of(
    declared: DeclaredSensitivity, sensitive: SensitiveSelector | None
) -> SensitiveSelector:
    """The models' declarations, with ``sensitive``'s paths and detector when given."""
    return declared if sensitive is None else CombinedSensitivity(declared, sensitive)


def key_ring(keyring: KeyRing | str | Path | None) -> KeyRing | None:
    """The ring an engine is given: itself, a key file's, or ``LEGATO_KEYRING``'s (None
    when that is not set either)."""
    if isinstance(keyring, KeyRing):
        return keyring
    if keyring is not None:
        return load_key_file(keyring)
    return keyring_from_env()


def encrypted_store(
    store: Store,
    keyring: KeyRing | str | Path | None,
    mode: Mode,
    selector: SensitiveSelector,
) -> Store:
    """``store`` sealed with ``keyring`` (see :func:`key_ring`), or as it is without one."""
    ring = key_ring(keyring)
    if ring is None:
        return store
    return SealedStore(store, Sealing(ring, selector, mode))
