"""An event log as IEEE XES (1849-2016), written as a stream of text.

The log declares the standard extensions it uses (Concept, Lifecycle, Time, Organizational)
and Legato's own (``legato:``, defined in ``legato.xesext`` beside this module), the
attributes every trace and every event carries (``global``), and classifiers by activity,
activity and transition, and element id. A trace is an instance (``concept:name`` is its
key); its events carry ``concept:name`` (the activity), ``concept:instance`` (the element
instance, which pairs a start with its end), ``lifecycle:transition``, ``time:timestamp``
(UTC, milliseconds), ``org:resource`` where a person completed a user task, and the
element's id and BPMN type.

The text is built with plain escaped writes rather than an XML tree: a log of millions of
events is never held, each event is a few string joins, and the output validates against
the standard's schema (a test checks it with lxml).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from legato.analytics.eventlog import LogCase, LogEvent, LogItem

XES_VERSION = "2.0"
"""``xes.version``: the XES 2.0 definition that IEEE 1849-2016 standardised (the schema
types the attribute as a decimal)."""

LEGATO_EXTENSION_URI = "https://legato.dev/xes/legato.xesext"
"""Where Legato's XES extension is defined (its text ships as ``legato.xesext``)."""

EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Legato", "legato", LEGATO_EXTENSION_URI),
)
"""(name, prefix, URI) of each extension the log declares."""

CLASSIFIERS = (
    ("Activity", "concept:name"),
    ("ActivityLifecycle", "concept:name lifecycle:transition"),
    ("Element", "legato:elementId"),
)
"""(name, keys) of the log's event classifiers."""

FLUSH_EVERY = 1000
"""Pieces of text joined into one write."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# XML 1.0 allows tab, newline and carriage return among the control characters; in an
# attribute they are written as references so that a reader's normalisation keeps them.
_TRANSLATION: dict[int, str] = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    0x9: "&#9;",
    0xA: "&#10;",
    0xD: "&#13;",
}
# The other control characters (and U+FFFE, U+FFFF) cannot appear in XML 1.0 at all.
_TRANSLATION.update(
    {code: "\ufffd" for code in (*range(0x9), 0xB, 0xC, *range(0xE, 0x20), 0xFFFE, 0xFFFF)}
)


def escape(value: str) -> str:
    """``value`` as the text of an XML attribute in double quotes."""
    return value.translate(_TRANSLATION)


def timestamp(value: datetime) -> str:
    """An ``xs:dateTime`` in UTC with milliseconds, as XES tools write them."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def header(log_name: str) -> str:
    """The log element's start: extensions, globals, classifiers and log attributes."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<log xes.version="{XES_VERSION}">']
    lines += [
        f'  <extension name="{name}" prefix="{prefix}" uri="{uri}"/>'
        for name, prefix, uri in EXTENSIONS
    ]
    lines += [
        '  <global scope="trace">',
        '    <string key="concept:name" value="UNKNOWN"/>',
        '    <string key="legato:processId" value="UNKNOWN"/>',
        '    <int key="legato:processVersion" value="0"/>',
        '    <string key="legato:status" value="UNKNOWN"/>',
        f'    <date key="legato:startedAt" value="{timestamp(_EPOCH)}"/>',
        "  </global>",
        '  <global scope="event">',
        '    <string key="concept:name" value="UNKNOWN"/>',
        '    <string key="concept:instance" value="UNKNOWN"/>',
        '    <string key="lifecycle:transition" value="complete"/>',
        f'    <date key="time:timestamp" value="{timestamp(_EPOCH)}"/>',
        '    <string key="legato:elementId" value="UNKNOWN"/>',
        '    <string key="legato:elementType" value="UNKNOWN"/>',
        '    <int key="legato:position" value="0"/>',
        "  </global>",
    ]
    lines += [f'  <classifier name="{name}" keys="{keys}"/>' for name, keys in CLASSIFIERS]
    lines += [
        f'  <string key="concept:name" value="{escape(log_name)}"/>',
        '  <string key="lifecycle:model" value="standard"/>',
    ]
    return "\n".join(lines) + "\n"


def xes_text(items: Iterable[LogItem], log_name: str) -> Iterator[str]:
    """The XES document of a log, in pieces of text to write one after the other."""
    yield header(log_name)
    pieces: list[str] = []
    in_trace = False
    last_at: datetime | None = None
    last_stamp = ""
    for item in items:
        if type(item) is LogEvent:
            if item.at is not last_at:
                # The events of one command share their instant: format it once.
                last_at, last_stamp = item.at, timestamp(item.at)
            pieces.append(_event(item, last_stamp))
        else:
            assert isinstance(item, LogCase)
            if in_trace:
                pieces.append("  </trace>\n")
            pieces.append(_trace(item))
            in_trace = True
        if len(pieces) >= FLUSH_EVERY:
            yield "".join(pieces)
            pieces.clear()
    if in_trace:
        pieces.append("  </trace>\n")
    pieces.append("</log>\n")
    yield "".join(pieces)


def _trace(case: LogCase) -> str:
    instance = case.instance
    parts = [
        "  <trace>\n",
        f'    <string key="concept:name" value="{instance.instance_key}"/>\n',
        f'    <string key="legato:processId" value="{escape(instance.process_id)}"/>\n',
        f'    <int key="legato:processVersion" value="{instance.version}"/>\n',
        f'    <string key="legato:status" value="{instance.status}"/>\n',
        f'    <date key="legato:startedAt" value="{timestamp(instance.started_at)}"/>\n',
    ]
    if instance.ended_at is not None:
        parts.append(f'    <date key="legato:endedAt" value="{timestamp(instance.ended_at)}"/>\n')
    if instance.business_key is not None:
        parts.append(
            f'    <string key="legato:businessKey" value="{escape(instance.business_key)}"/>\n'
        )
    if instance.parent_instance_key is not None:
        parts.append(
            f'    <string key="legato:parentInstanceKey" value="{instance.parent_instance_key}"/>\n'
        )
    return "".join(parts)


def _event(event: LogEvent, stamp: str) -> str:
    resource = (
        ""
        if event.resource is None
        else f'\n      <string key="org:resource" value="{escape(event.resource)}"/>'
    )
    return (
        "    <event>\n"
        f'      <string key="concept:name" value="{escape(event.activity)}"/>\n'
        f'      <string key="concept:instance" value="{event.element_instance_key}"/>\n'
        f'      <string key="lifecycle:transition" value="{event.transition}"/>\n'
        f'      <date key="time:timestamp" value="{stamp}"/>{resource}\n'
        f'      <string key="legato:elementId" value="{escape(event.element_id)}"/>\n'
        f'      <string key="legato:elementType" value="{event.element_type}"/>\n'
        f'      <int key="legato:position" value="{event.position}"/>\n'
        "    </event>\n"
    )
