"""Encryption at rest: which stored values are sealed, and how a sealed value looks.

The store encrypts through a :class:`ValueCipher` (implemented above it, by
:class:`legato.security.keyring.KeyRing`); :class:`Sealing` decides what goes through it:

* in mode ``sensitive`` (the default), the parts of variables that a
  :class:`~legato.model.sensitive.SensitiveSelector` calls sensitive (declared paths of the
  instance's process, and texts its detector recognises), wherever a variable is stored:
  the variables of every scope in the instance state, ``VariableSet`` and the ``variables``
  of events in the history, the changes an operator made;
* in mode ``everything``, every variable value, every message payload and every event value;
* in both modes, the variables of buffered messages (their process is not known yet), and
  the free texts that quote a sensitive value of their instance (an incident message, a
  job's error, a decision result, a multi-instance collection): whatever text holds a
  sensitive value is sealed whole.

A sealed part of a JSON document is ``{"$sealed": "<key id>.<ciphertext>"}`` (the engine
spells its own encodings the same way, ``{"$decimal": ...}``); a sealed text column is
``"$sealed:<key id>.<ciphertext>"``. The plaintext is the part's JSON. The associated data
names the row's column and key (``state/42``): a value moved to another row does not decrypt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator
from typing import Any, Literal, Protocol

from legato.model.sensitive import SensitivePath, SensitiveSelector, replace_sensitive
from legato.store._rules import dump_json, load_json

__all__ = [
    "MODES",
    "SEALED",
    "SEALED_TEXT",
    "Mode",
    "Sealing",
    "ValueCipher",
    "key_id_of",
    "sealed_tokens",
]

SEALED = "$sealed"
"""The key of a sealed part of a JSON document."""
SEALED_TEXT = "$sealed:"
"""The prefix of a sealed text column."""

Mode = Literal["sensitive", "everything"]
MODES: tuple[Mode, ...] = ("sensitive", "everything")

_MIN_QUOTE = 3
"""Sensitive scalars shorter than this are not looked for in free texts (a ``1`` would be
found in every message)."""


_MEMO_SIZE = 100_000
"""Sealed values remembered (see :meth:`Sealing._seal_memo`)."""


class ValueCipher(Protocol):
    """Authenticated encryption with a ring of keys (:class:`legato.security.keyring.KeyRing`)."""

    @property
    def primary_key_id(self) -> str:
        """The key that encrypts new values."""

    def encrypt(self, plain: bytes, context: bytes) -> str:
        """``<key id>.<ciphertext>`` of ``plain``, ``context`` authenticated with it."""

    def decrypt(self, token: str, context: bytes) -> bytes:
        """The plaintext of :meth:`encrypt`'s result; raises
        :class:`~legato.errors.EncryptionError` naming the key when it is not in the ring."""


def key_id_of(token: str) -> str:
    """The id of the key a ciphertext was made with."""
    return token.partition(".")[0]


def sealed_tokens(value: Any) -> Iterator[str]:
    """The ciphertexts in a JSON document or text, at any depth."""
    if isinstance(value, str):
        if value.startswith(SEALED_TEXT):
            yield value[len(SEALED_TEXT) :]
    elif isinstance(value, dict):
        token = value.get(SEALED)
        if isinstance(token, str) and len(value) == 1:
            yield token
            return
        for item in value.values():
            yield from sealed_tokens(item)
    elif isinstance(value, list):
        for item in value:
            yield from sealed_tokens(item)


def _no_paths(process_id: str) -> Collection[SensitivePath]:
    return ()


class Sealing:
    """What is sealed, with which cipher (see the module's text)."""

    def __init__(
        self,
        cipher: ValueCipher,
        selector: SensitiveSelector | None = None,
        mode: Mode = "sensitive",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"encryption mode {mode!r}: use 'sensitive' or 'everything'")
        self.cipher = cipher
        self.everything = mode == "everything"
        self._paths: Callable[[str], Collection[SensitivePath]] = (
            selector.paths if selector is not None else _no_paths
        )
        # A selector that says it has no detector (``detects = False``) spares every save
        # the walk over every text value.
        self._detect: Callable[[str], bool] | None = (
            selector.detect if selector is not None and getattr(selector, "detects", True) else None
        )
        self._memo: dict[
            tuple[bytes, tuple[str, str | int]], tuple[Any, dict[str, str], tuple[str, ...]]
        ] = {}

    # -- single values --------------------------------------------------------------------

    def seal(self, value: Any, context: bytes) -> dict[str, str]:
        """A JSON part sealed whole."""
        return {SEALED: self.cipher.encrypt(dump_json(value).encode("utf-8"), context)}

    def seal_text(self, text: str, context: bytes) -> str:
        """A text column sealed whole."""
        return SEALED_TEXT + self.cipher.encrypt(text.encode("utf-8"), context)

    def open_text(self, text: str | None, context: bytes) -> str | None:
        """A text column as it was before :meth:`seal_text` (an unsealed one as it is)."""
        if text is None or not text.startswith(SEALED_TEXT):
            return text
        return self.cipher.decrypt(text[len(SEALED_TEXT) :], context).decode("utf-8")

    def open(self, value: Any, context: bytes, quotes: set[str] | None = None) -> Any:
        """A JSON document with every sealed part decrypted (unchanged parts shared); the
        texts of the decrypted parts are added to ``quotes`` when given."""
        if type(value) is dict:
            token = value.get(SEALED)
            if token is not None and len(value) == 1:
                opened = load_json(self.cipher.decrypt(token, context))
                if quotes is not None:
                    _collect_quotes(opened, quotes)
                return opened
            result: dict[str, Any] | None = None
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    new = self.open(item, context, quotes)
                    if new is not item:
                        if result is None:
                            result = dict(value)
                        result[key] = new
            return value if result is None else result
        if type(value) is list:
            items: list[Any] | None = None
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    new = self.open(item, context, quotes)
                    if new is not item:
                        if items is None:
                            items = list(value)
                        items[index] = new
            return value if items is None else items
        return value

    # -- variables --------------------------------------------------------------------------

    def seal_variables(
        self,
        variables: dict[str, Any],
        process_id: str,
        context: bytes,
        quotes: set[str],
        scope: str = "",
    ) -> dict[str, Any] | None:
        """``variables`` (of ``scope``, in a state) with their sensitive parts sealed, or None
        when none is; the texts of the sealed parts are added to ``quotes``."""
        if self.everything:
            return {
                name: self._seal_memo((scope, name), value, context, quotes)
                for name, value in variables.items()
            }
        ordinal = itertools.count()

        def change(part: Any) -> Any:
            return self._seal_memo((scope, next(ordinal)), part, context, quotes)

        return replace_sensitive(variables, self._paths(process_id), change, self._detect)

    def _seal_memo(
        self, place: tuple[str, str | int], value: Any, context: bytes, quotes: set[str]
    ) -> Any:
        """``value`` sealed, or its seal of an earlier save when it is the same object at the
        same place (the engine encodes a variable again only when it is set: an unchanged one
        is the same object, immutable, and is not encrypted again). ``place`` is the scope and
        the variable's name, or the part's position in the walk of the scope: two equal
        parts of one row never share a ciphertext. The memo holds the value, so its identity
        is not reused meanwhile."""
        memo = self._memo.get((context, place))
        if memo is not None and memo[0] is value and memo[1][SEALED].startswith(self._prefix()):
            quotes.update(memo[2])
            return memo[1]
        found: set[str] = set()
        _collect_quotes(value, found)
        sealed = self.seal(value, context)
        if len(self._memo) > _MEMO_SIZE:
            self._memo.clear()
        self._memo[(context, place)] = (value, sealed, tuple(found))
        quotes.update(found)
        return sealed

    def _prefix(self) -> str:
        return self.cipher.primary_key_id + "."

    def is_sensitive_name(self, process_id: str, name: str) -> bool:
        """Whether a root variable is sensitive whole (as its indexed copy would show it)."""
        return self.everything or (name,) in self._paths(process_id)

    def may_quote(self, quotes: Collection[str]) -> bool:
        """Whether any free text could need sealing (else none is looked at)."""
        return self.everything or bool(quotes) or self._detect is not None

    def quotes(self, text: str, quotes: Collection[str]) -> bool:
        """Whether a free text must be sealed: everything is, or it holds a sensitive value
        of its instance, or the detector recognises it."""
        if self.everything:
            return True
        for quote in quotes:
            if quote in text:
                return True
        return self._detect is not None and self._detect(text)


def _collect_quotes(value: Any, quotes: set[str]) -> None:
    """The texts of a sensitive part's scalars, as they would appear quoted in a message."""
    if isinstance(value, str):
        if len(value) >= _MIN_QUOTE:
            quotes.add(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        text = str(value)
        if len(text) >= _MIN_QUOTE:
            quotes.add(text)
    elif isinstance(value, dict):
        if "$decimal" in value and len(value) == 1:
            _collect_quotes(str(value["$decimal"]), quotes)
            return
        for item in value.values():
            _collect_quotes(item, quotes)
    elif isinstance(value, list):
        for item in value:
            _collect_quotes(item, quotes)
