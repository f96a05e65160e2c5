"""Camunda 7 dates: ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` out, any ISO 8601 offset form in.

Camunda writes ``2025-10-01T12:00:00.000+0000`` (milliseconds, an offset without a colon);
pycamunda parses exactly that with ``%Y-%m-%dT%H:%M:%S.%f%z``. Clients send the same, or
``Z``, or ``+hh:mm`` (camunda-client rewrites only ``+00:00``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_BASIC_OFFSET = re.compile(r"([+-])(\d{2})(\d{2})$")
_FRACTION = re.compile(r"\.(\d+)")


def format_date(value: datetime | None) -> str | None:
    """A date as Camunda 7 writes it, in UTC (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_date(text: str) -> datetime:
    """A date a Camunda 7 client sent, as an aware datetime (UTC when it names no offset).

    Raises:
        ValueError: ``text`` is no ISO 8601 date-time.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    cleaned = _BASIC_OFFSET.sub(r"\1\2:\3", cleaned)
    # Python 3.11 reads 3 or 6 fractional digits; pad or cut anything else to 6.
    cleaned = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], cleaned, count=1)
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
