"""Secrets that handlers need (API tokens, passwords), referenced by name in the model.

A job header whose value is ``secrets.CRM_TOKEN`` (or ``=secrets.CRM_TOKEN``), or an input
mapping whose source is, names a secret. The engine never evaluates such a reference into a
variable: it resolves it from its :class:`SecretsProvider` at the moment a handler runs,
into that handler's job only (the header's value, the mapping's target variable, and
``job.context.secrets``). So a secret's value is in no variable, history event, incident or
log line the engine writes; an incident's message and stack trace are scrubbed of the
values resolved for the job (:meth:`ResolvedSecrets.scrub`) in case a handler's error quotes
one. A secret that the provider does not know fails the job with an incident that names the
secret (never a value).

Providers: :class:`EnvironmentSecrets` (variables with a prefix, ``LEGATO_SECRET_`` by
default), :class:`FileSecrets` (a TOML or JSON file of names and values), and anything with
the :class:`SecretsProvider` method (a vault's client is a class away); :class:`ChainedSecrets`
asks several in turn.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from legato.errors import LegatoError

DEFAULT_PREFIX = "LEGATO_SECRET_"
"""The prefix of the environment variables :class:`EnvironmentSecrets` reads by default."""
MASK = "***"
"""What a secret's value is replaced with where it must not appear."""


class SecretsError(LegatoError):
    """A secrets file that cannot be read (the message names the file and why)."""


@runtime_checkable
class SecretsProvider(Protocol):
    """Where secrets come from."""

    def secret(self, name: str) -> str | None:
        """The value of the secret ``name``; None when this provider does not have it."""
        ...


class EnvironmentSecrets:
    """Secrets in environment variables: ``CRM_TOKEN`` is ``LEGATO_SECRET_CRM_TOKEN``."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, environ: Mapping[str, str] | None = None):
        self._prefix = prefix
        self._environ = environ

    def secret(self, name: str) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        return environ.get(self._prefix + name)


class FileSecrets:
    """Secrets in a file of names and string values: TOML (``.toml``) or JSON (any other
    name). Read when made; :meth:`reload` reads it again (after a rotation).

    Raises:
        SecretsError: the file cannot be read, is not TOML or JSON, or holds a value that is
            not a string (the message names the file and the entry, never a value).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._values: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        """Read the file again."""
        try:
            text = self._path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretsError(f"secrets file {self._path}: {exc.strerror}") from None
        try:
            if self._path.suffix.lower() == ".toml":
                loaded: object = tomllib.loads(text)
            else:
                loaded = json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            # The parsers' messages name a position, not the text around it.
            raise SecretsError(f"secrets file {self._path}: not valid: {exc}") from None
        if not isinstance(loaded, dict):
            raise SecretsError(f"secrets file {self._path}: expected a table of names and values")
        for name, value in loaded.items():
            if not isinstance(value, str):
                raise SecretsError(
                    f"secrets file {self._path}: the value of {name!r} is not a string"
                )
        self._values = dict(loaded)

    def secret(self, name: str) -> str | None:
        return self._values.get(name)


class ChainedSecrets:
    """Asks each provider in turn; the first that has the secret answers."""

    def __init__(self, *providers: SecretsProvider) -> None:
        self._providers = providers

    def secret(self, name: str) -> str | None:
        for provider in self._providers:
            value = provider.secret(name)
            if value is not None:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ResolvedSecrets:
    """The secrets resolved for one job."""

    values: Mapping[str, str] = field(default_factory=dict)
    """Each secret's value by name."""
    missing: tuple[str, ...] = ()
    """The names the provider did not have."""

    def scrub(self, text: str) -> str:
        """``text`` with every resolved value replaced by :data:`MASK`."""
        for value in sorted(self.values.values(), key=len, reverse=True):
            if value:
                text = text.replace(value, MASK)
        return text


def resolve(provider: SecretsProvider | None, names: Iterable[str]) -> ResolvedSecrets:
    """The secrets ``names`` from ``provider`` (all missing without a provider)."""
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in dict.fromkeys(names):
        value = None if provider is None else provider.secret(name)
        if value is None:
            missing.append(name)
        else:
            values[name] = value
    return ResolvedSecrets(values, tuple(missing))
