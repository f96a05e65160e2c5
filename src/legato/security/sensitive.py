"""What is sensitive, and who may see it: the deployment's policy file, the detectors, the
selector that answers for a process, and the masking of every value that leaves the engine.

A value is sensitive when the process model declares it (``<legato:sensitive>``, see
:mod:`legato.bpmn.sensitive`), when the policy file names it, or when a detector that the
policy switches on recognises it. The policy file is TOML::

    [sensitive]
    variables = ["iban", "customer.email"]      # sensitive in every process
    detect = ["card", "iban", "email"]          # off unless listed

    [sensitive.processes]
    onboarding = ["applicant.ssn", "creditScore"]

Whoever lacks :data:`~legato.security.VARIABLES_REVEAL` for a process sees each sensitive
value replaced by :data:`MASK` (the variable keeps its name and its place);
:func:`may_reveal` is the one check of that permission and :func:`mask_variables` the one
masking, which every output of the engine goes through.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato.errors import InvalidCommandError
from legato.model.sensitive import (
    SensitivePath,
    SensitiveSelector,
    parse_sensitive_path,
    replace_sensitive,
)
from legato.security import VARIABLES_REVEAL, Principal

__all__ = [
    "DETECTORS",
    "MASK",
    "MIN_TEXT",
    "PolicyError",
    "SensitiveData",
    "SensitivePolicy",
    "Viewer",
    "is_card_number",
    "is_email",
    "is_iban",
    "load_policy",
    "mask_text",
    "mask_variables",
    "may_reveal",
    "parse_policy",
    "restore_masked",
    "sensitive_texts",
    "view_variables",
]

MASK = "****"
"""What a sensitive value is replaced by for whoever may not see it."""
MIN_TEXT = 4
"""The shortest sensitive value looked for inside texts (messages, stack traces, logs)."""


# -- detectors --------------------------------------------------------------------------------

_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def is_card_number(text: str) -> bool:
    """A payment card number: 13 to 19 digits (spaces or dashes between them allowed) that
    pass the Luhn check."""
    text = text.strip()
    if not _CARD.fullmatch(text):
        return False
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_iban(text: str) -> bool:
    """An IBAN: a country code, two check digits and up to 30 letters or digits (spaces
    allowed in groups) whose ISO 7064 mod-97 check gives 1."""
    text = text.strip().upper()
    if not _IBAN.fullmatch(text):
        return False
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def is_email(text: str) -> bool:
    """An e-mail address (``name@domain.tld``), the whole text."""
    return _EMAIL.fullmatch(text.strip()) is not None


DETECTORS: Mapping[str, Callable[[str], bool]] = {
    "card": is_card_number,
    "iban": is_iban,
    "email": is_email,
}
"""The detectors a policy may switch on, by name."""


# -- the policy file --------------------------------------------------------------------------


class PolicyError(InvalidCommandError):
    """A policy file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class SensitivePolicy:
    """The deployment's word on sensitive data, beside what the models declare."""

    everywhere: tuple[SensitivePath, ...] = ()
    """Paths sensitive in every process."""
    processes: Mapping[str, tuple[SensitivePath, ...]] = field(default_factory=dict)
    """Paths sensitive in one process, by process id."""
    detect: frozenset[str] = frozenset()
    """The detectors switched on (names of :data:`DETECTORS`)."""

    def paths(self, process_id: str) -> tuple[SensitivePath, ...]:
        """The policy's paths for ``process_id`` (its own and those of every process)."""
        return self.everywhere + tuple(self.processes.get(process_id, ()))


def load_policy(path: str | os.PathLike[str]) -> SensitivePolicy:
    """Read a policy file.

    Raises:
        PolicyError: the file cannot be read, is not TOML, or a key holds what it may not;
            the message names the file and the line or key.
    """
    name = str(path)
    try:
        with Path(path).open("rb") as stream:
            data = tomllib.load(stream)
    except OSError as error:
        raise PolicyError(f"{name}: cannot be read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{name}: not TOML: {error}") from None
    return parse_policy(data, name)


def parse_policy(data: Mapping[str, Any], name: str = "policy") -> SensitivePolicy:
    """A policy from the parsed TOML of a policy file called ``name`` (for the messages).

    Raises:
        PolicyError: an unknown key, a path that is not one, an unknown detector.
    """
    _only(data, {"sensitive"}, name, "")
    table = data.get("sensitive", {})
    if not isinstance(table, Mapping):
        raise PolicyError(f"{name}: sensitive: must be a table")
    _only(table, {"variables", "detect", "processes"}, name, "sensitive.")
    everywhere = _paths(table.get("variables", []), name, "sensitive.variables")
    detect = _strings(table.get("detect", []), name, "sensitive.detect")
    for index, detector in enumerate(detect):
        if detector not in DETECTORS:
            raise PolicyError(
                f"{name}: sensitive.detect[{index}]: unknown detector {detector!r} "
                f"(known: {', '.join(DETECTORS)})"
            )
    processes = table.get("processes", {})
    if not isinstance(processes, Mapping):
        raise PolicyError(f"{name}: sensitive.processes: must be a table of process ids")
    return SensitivePolicy(
        everywhere=everywhere,
        processes={
            str(process_id): _paths(paths, name, f"sensitive.processes.{process_id}")
            for process_id, paths in processes.items()
        },
        detect=frozenset(detect),
    )


def _only(table: Mapping[str, Any], known: set[str], name: str, prefix: str) -> None:
    for key in table:
        if key not in known:
            raise PolicyError(
                f"{name}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})"
            )


def _strings(value: Any, name: str, key: str) -> list[str]:
    if not isinstance(value, list):
        raise PolicyError(f"{name}: {key}: must be a list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise PolicyError(f"{name}: {key}[{index}]: {item!r} is not a string")
    return value


def _paths(value: Any, name: str, key: str) -> tuple[SensitivePath, ...]:
    paths: list[SensitivePath] = []
    for index, text in enumerate(_strings(value, name, key)):
        try:
            paths.append(parse_sensitive_path(text))
        except ValueError as error:
            raise PolicyError(f"{name}: {key}[{index}]: {error}") from None
    return tuple(paths)


# -- the selector -----------------------------------------------------------------------------


class SensitiveData:
    """Implements :class:`~legato.model.sensitive.SensitiveSelector`: the deployed models'
    declarations (every version of a process), the policy, the detectors it switches on, and
    a selector of the user's own (``extra``: more paths, another detector).

    ``model_paths`` answers the paths the deployed versions of a process declare (the
    engine passes its definitions' answer).
    """

    def __init__(
        self,
        policy: SensitivePolicy | None = None,
        model_paths: Callable[[str], Collection[SensitivePath]] = lambda _: (),
        *,
        extra: SensitiveSelector | None = None,
    ) -> None:
        self.policy = policy or SensitivePolicy()
        self._model_paths = model_paths
        self._detectors = tuple(DETECTORS[name] for name in sorted(self.policy.detect))
        self._extra = extra

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        """The sensitive paths of ``process_id``: its models', the policy's and ``extra``'s."""
        own = self._model_paths(process_id)
        policy = self.policy.paths(process_id)
        extra = () if self._extra is None else self._extra.paths(process_id)
        if not policy and not extra:
            return own
        return tuple(dict.fromkeys((*own, *policy, *extra)))

    def detect(self, text: str) -> bool:
        """Whether a switched-on detector (or ``extra``'s) recognises ``text``."""
        if any(detector(text) for detector in self._detectors):
            return True
        return self._extra is not None and self._extra.detect(text)

    @property
    def detecting(self) -> bool:
        """Whether any detector is on (``extra`` counts unless it says ``detects = False``)."""
        extra = self._extra is not None and bool(getattr(self._extra, "detects", True))
        return bool(self._detectors) or extra

    @property
    def detects(self) -> bool:
        """:attr:`detecting`, by the name the store's sealing asks: False spares every save
        a look at every text."""
        return self.detecting


# -- masking ----------------------------------------------------------------------------------


def may_reveal(principal: Principal | None, process_id: str) -> bool:
    """Whether ``principal`` may see the sensitive values of ``process_id`` unmasked (None:
    nobody in particular, masked). The one check of the reveal permission: held, and on a
    process within the principal's process limit."""
    return principal is not None and principal.may_on(VARIABLES_REVEAL, process_id)


@dataclass(eq=False)
class Viewer:
    """Who is shown what leaves the engine in one request (or one command of the command
    line), and what sensitive values were shown to them unmasked.

    ``Viewer()`` (nobody in particular) sees everything sensitive masked. ``revealed``
    collects, per process id and instance key, the names of the variables whose sensitive
    values were shown in the clear: the caller writes one ``value.reveal`` audit record of
    them when the request is done (never the values).
    """

    principal: Principal | None = None
    revealed: dict[tuple[str, int | None], set[str]] = field(default_factory=dict)

    def reveals(self, process_id: str) -> bool:
        """Whether this viewer sees the sensitive values of ``process_id`` unmasked."""
        return may_reveal(self.principal, process_id)

    def reveal_details(self) -> dict[str, Any]:
        """What a ``value.reveal`` audit record holds: per process and instance the names of
        the variables shown unmasked, never their values."""
        shown = sorted(self.revealed.items(), key=lambda item: (item[0][0], item[0][1] or 0))
        return {
            "revealed": [
                {"process_id": process_id, "instance_key": key, "variables": sorted(names)}
                for (process_id, key), names in shown
            ]
        }

    def note(self, process_id: str, instance_key: int | None, names: Iterable[str]) -> None:
        """Remember that the sensitive values of ``names`` were shown unmasked."""
        names = set(names)
        if names:
            self.revealed.setdefault((process_id, instance_key), set()).update(names)


def view_variables(
    selector: SensitiveSelector,
    viewer: Viewer,
    process_id: str,
    variables: Mapping[str, Any],
    instance_key: int | None = None,
) -> Mapping[str, Any]:
    """``variables`` as ``viewer`` may see them: masked, or (for a viewer who may reveal)
    unmasked, noting the names of the sensitive ones shown. The one masking of the outputs."""
    masked = mask_variables(selector, process_id, variables)
    if masked is variables:
        return variables
    if not viewer.reveals(process_id):
        return masked
    viewer.note(process_id, instance_key, (k for k in masked if masked[k] is not variables[k]))
    return variables


def _mask(_: Any) -> str:
    return MASK


def mask_variables(
    selector: SensitiveSelector, process_id: str, variables: Mapping[str, Any]
) -> Mapping[str, Any]:
    """``variables`` with every sensitive part replaced by :data:`MASK` (the same mapping
    when nothing is sensitive)."""
    paths = selector.paths(process_id)
    detect = selector.detect if getattr(selector, "detecting", True) else None
    if not paths and detect is None:
        return variables
    masked = replace_sensitive(variables, paths, _mask, detect)
    return variables if masked is None else masked


def sensitive_texts(
    selector: SensitiveSelector, process_id: str, variables: Mapping[str, Any]
) -> list[str]:
    """The sensitive values of ``variables`` as they would appear in a text (an incident
    message, a log line): strings as they are, numbers as written; those shorter than
    :data:`MIN_TEXT` are left out (they would match everywhere)."""
    found: list[str] = []

    def keep(value: Any) -> Any:
        _collect(value, found)
        return value

    detect = selector.detect if getattr(selector, "detecting", True) else None
    replace_sensitive(variables, selector.paths(process_id), keep, detect)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)
    elif isinstance(value, bool) or value is None:
        return
    else:
        text = value if isinstance(value, str) else str(value)
        if len(text) >= MIN_TEXT:
            found.append(text)


def mask_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``values`` replaced by :data:`MASK` (the
    longest first, so that a value inside another is not left half shown)."""
    for value in sorted(set(values), key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def restore_masked(submitted: Any, shown: Any, real: Any) -> Any:
    """A value submitted back from a form that was prefilled with ``shown`` (the masked view
    of ``real``): wherever the submission still holds the mask that was shown, the real
    value is put back, so that saving a form does not overwrite a sensitive value with
    :data:`MASK`."""
    if submitted == MASK and shown == MASK:
        return real
    if isinstance(submitted, dict) and isinstance(shown, Mapping) and isinstance(real, Mapping):
        return {
            key: restore_masked(value, shown.get(key), real.get(key))
            for key, value in submitted.items()
        }
    if (
        isinstance(submitted, list)
        and isinstance(shown, list)
        and isinstance(real, list)
        and len(submitted) == len(shown) == len(real)
    ):
        return [restore_masked(*trio) for trio in zip(submitted, shown, real, strict=True)]
    return submitted
