"""Sensitive data: the parts of an instance's variables that must not be shown or stored in
the clear.

A process declares sensitive *paths*: a variable name (``ssn``) or a path into a variable's
value (``applicant.ssn``: the ``ssn`` entry of the object held by ``applicant``). A path that
meets a list goes on into each item (``applicants.ssn`` reaches the ``ssn`` of every
applicant). What a path reaches is sensitive whole, whatever its type. Besides declared paths,
a *detector* may call any text value sensitive wherever it sits (a payment card number, an
IBAN).

This module holds the vocabulary shared by everything that protects such data (encryption at
rest in the store, masking on the way out): :data:`SensitivePath`, :func:`parse_sensitive_path`,
the :class:`SensitiveSelector` protocol that answers "which paths of this process, and is this
text sensitive", and :func:`replace_sensitive`, the one walk that finds the sensitive parts of a
set of variables and replaces them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

__all__ = [
    "SensitivePath",
    "SensitiveSelector",
    "parse_sensitive_path",
    "replace_sensitive",
]

SensitivePath = tuple[str, ...]
"""A variable name followed by the keys that lead into its value: ``("applicant", "ssn")``."""


def parse_sensitive_path(text: str) -> SensitivePath:
    """``"applicant.ssn"`` -> ``("applicant", "ssn")``.

    Raises ValueError, naming the path, when it is empty or has an empty segment
    (``"applicant..ssn"``, ``".ssn"``) or a segment with spaces around it.
    """
    parts = tuple(text.split("."))
    for part in parts:
        if not part or part != part.strip():
            raise ValueError(
                f"sensitive path {text!r} is not a variable name or a dotted path into one "
                "(like applicant.ssn)"
            )
    return parts


class SensitiveSelector(Protocol):
    """What is sensitive in the instances of a process."""

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        """The declared sensitive paths of ``process_id`` (the model's and the policy's)."""

    def detect(self, text: str) -> bool:
        """Whether a text value is sensitive wherever it appears (always False when no detector
        is configured)."""


def replace_sensitive(
    variables: Mapping[str, Any],
    paths: Collection[SensitivePath],
    change: Callable[[Any], Any],
    detect: Callable[[str], bool] | None = None,
) -> dict[str, Any] | None:
    """A copy of ``variables`` whose sensitive parts are replaced by ``change(part)``, or None
    when nothing in them is sensitive (the common case costs no copy).

    A part is sensitive when a path in ``paths`` reaches it, or, with ``detect``, when it is a
    text for which ``detect`` answers True (at any depth). Only the containers on the way to a
    replaced part are copied; the rest is shared with ``variables``.
    """
    tree = _tree(paths)
    if not tree and detect is None:
        return None
    result: dict[str, Any] | None = None
    for name, value in variables.items():
        new = _replace(value, tree.get(name), change, detect)
        if new is not _SAME:
            if result is None:
                result = dict(variables)
            result[name] = new
    return result


_SAME: Any = object()
"""Returned by :func:`_replace` when nothing under a value changed."""

_WHOLE = "whole"
"""The sub-tree marker of a value that is sensitive whole."""


def _tree(paths: Collection[SensitivePath]) -> dict[str, Any]:
    """The paths as a tree of keys whose leaves are :data:`_WHOLE`."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for key in path[:-1]:
            child = node.get(key)
            if child is _WHOLE:
                break
            if child is None:
                child = node[key] = {}
            node = child
        else:
            node[path[-1]] = _WHOLE
    return tree


def _replace(
    value: Any, tree: Any, change: Callable[[Any], Any], detect: Callable[[str], bool] | None
) -> Any:
    if tree is _WHOLE:
        return change(value)
    if isinstance(value, str):
        return change(value) if detect is not None and detect(value) else _SAME
    if tree is None and detect is None:
        return _SAME
    if isinstance(value, Mapping):
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            new = _replace(item, None if tree is None else tree.get(key), change, detect)
            if new is not _SAME:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return _SAME if copy is None else copy
    if isinstance(value, list):
        items: list[Any] | None = None
        for index, item in enumerate(value):
            new = _replace(item, tree, change, detect)
            if new is not _SAME:
                if items is None:
                    items = list(value)
                items[index] = new
        return _SAME if items is None else items
    return _SAME
