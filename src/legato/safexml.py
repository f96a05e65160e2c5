"""Hardened XML parsing for model files (BPMN and DMN), shared by their readers.

Model files come from users and modelers, so the parser refuses what XML can do to a reader:
no DTD, no entity expansion, no network access, no huge trees, and a size limit. Every
refusal is a :class:`~legato.errors.ModelError` naming the file and line; a reader passes
the subclass its callers expect (``BpmnParseError``, ``DmnParseError``).

This module is a leaf: it imports only lxml and :mod:`legato.errors`, so the BPMN and DMN
readers share it without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from legato.errors import ModelError, SourceLocation

MAX_MODEL_BYTES = 20 * 1024 * 1024
"""The largest model file read (20 MiB); real models are far smaller."""
MAX_ATTRIBUTE_CHARS = 64 * 1024
"""The longest attribute value a model may have (an expression or a name is far shorter; a
longer one is an attempt to make every later reader of the model slow or large)."""

ModelSource = str | bytes | os.PathLike[str]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def read_source(
    source: ModelSource, error: type[ModelError] = ModelError
) -> tuple[bytes, str | None]:
    """The bytes of a model and its file name (None for a string of XML).

    ``source`` is a path, or the XML itself as ``str``/``bytes`` (recognised by a leading
    ``<``).

    Raises:
        ModelError: Of the class ``error``, naming the file, for a file that cannot be read
            or a model larger than :data:`MAX_MODEL_BYTES`.
    """
    if isinstance(source, bytes):
        data, name = source, None
    elif isinstance(source, str) and source.lstrip().startswith("<"):
        data, name = source.encode("utf-8"), None
    else:
        path = Path(os.fspath(source))
        name = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_MODEL_BYTES:
                raise error(
                    f"model file is {size} bytes, more than the limit of {MAX_MODEL_BYTES}",
                    SourceLocation(name),
                )
            data = path.read_bytes()
        except OSError as exc:
            raise error(f"cannot read model file: {exc.strerror}", SourceLocation(name)) from exc
    if len(data) > MAX_MODEL_BYTES:
        raise error(
            f"model is {len(data)} bytes, more than the limit of {MAX_MODEL_BYTES}",
            SourceLocation(name),
        )
    return data, name


def parse_xml(
    data: bytes, file_name: str | None, error: type[ModelError] = ModelError
) -> etree._Element:
    """Parse model XML safely and return the root element.

    Raises:
        ModelError: Of the class ``error``, naming the file and line, for malformed XML, a
            DOCTYPE (which is how entity expansion and external entities get in), or an
            empty document.
    """
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        line = _line_of(data, b"<!DOCTYPE") or _line_of(data, b"<!ENTITY")
        raise error(
            "DOCTYPE and entity declarations are not allowed in model files",
            SourceLocation(file_name, line),
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise error(f"malformed XML: {exc.msg}", SourceLocation(file_name, line)) from exc
    if root is None:
        raise error("the document is empty", SourceLocation(file_name))
    _check_attributes(root, file_name, error)
    return root


def _check_attributes(root: etree._Element, file_name: str | None, error: type[ModelError]) -> None:
    for element in root.iter():
        for name, value in element.attrib.items():
            if len(value) > MAX_ATTRIBUTE_CHARS:
                line = element.sourceline
                raise error(
                    f"attribute '{etree.QName(name).localname}' has {len(value)} characters,"
                    f" more than the limit of {MAX_ATTRIBUTE_CHARS}",
                    SourceLocation(file_name, line if isinstance(line, int) else None),
                )


def _line_of(data: bytes, needle: bytes) -> int | None:
    index = data.upper().find(needle)
    if index < 0:
        return None
    return data.count(b"\n", 0, index) + 1
