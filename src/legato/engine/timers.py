"""When a timer is due: ISO 8601 dates, durations and repeating cycles, and cron expressions.

``timeCycle`` takes ``R[n]/[start/]duration`` (``n`` firings, unbounded without it) or a cron
expression with the seconds field first, as Camunda and Spring read it
(``0 0 9 * * MON-FRI``: 09:00 on weekdays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import isodate
from croniter import croniter

UNBOUNDED = -1
"""Repetitions of a cycle without an end (``R/PT1H`` or a cron expression)."""


class TimerError(ValueError):
    """A timer expression that cannot be read."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a timer first fires, and how it repeats."""

    due_at: datetime
    repetitions: int | None = None
    """Firings left after the first, for a cycle (``UNBOUNDED`` for no end); None: one-off."""
    cycle: str | None = None
    """The cycle text, to compute the next firing from."""


def at_date(value: Any) -> Schedule:
    """A ``timeDate``: a date and time (ISO text or a FEEL date and time)."""
    return Schedule(_as_datetime(value))


def after_duration(value: Any, now: datetime) -> Schedule:
    """A ``timeDuration``: an ISO duration (or a FEEL duration) from now."""
    return Schedule(now + _as_delta(value, now))


def cycle(value: Any, now: datetime) -> Schedule:
    """A ``timeCycle``: an ISO repeating interval or a cron expression."""
    if not isinstance(value, str) or not value.strip():
        raise TimerError(f"a timer cycle must be text, got {value!r}")
    text = value.strip()
    if text.startswith("R"):
        count, start, interval = _repeating(text, now)
        first = start if start is not None else now + interval
        return Schedule(first, UNBOUNDED if count is None else count - 1, text)
    return Schedule(_next_cron(text, now), UNBOUNDED, text)


def next_occurrence(value: Any, now: datetime) -> Schedule:
    """A ``timeCycle`` read as a moment, as an intermediate catch event reads it: the first
    occurrence of the cycle at or after ``now``, once.

    The BPMN timer intermediate event is a delay "based on a specific time-date or a specific
    cycle (e.g., every Monday at 9am)", and its token leaves at the first firing; Camunda 7
    does the same. ``R4/PT1S`` is due a second after ``now``; ``R/2020-01-06T09:00Z/P7D`` at
    the next Monday 09:00; a cron expression at its next match.

    Raises:
        TimerError: the cycle cannot be read, or its last occurrence has passed.
    """
    schedule = cycle(value, now)
    if schedule.due_at >= now or schedule.cycle is None or not schedule.cycle.startswith("R"):
        return Schedule(schedule.due_at)
    count, start, interval = _repeating(schedule.cycle, now)
    assert start is not None  # only a cycle with a start can begin in the past
    passed = -((start - now) // interval)  # occurrences before now, rounded up
    if count is not None and passed >= count:
        raise TimerError(f"the last occurrence of the cycle {schedule.cycle!r} has passed")
    return Schedule(start + passed * interval)


def next_firing(schedule_cycle: str, previous_due: datetime, now: datetime) -> datetime:
    """The firing after ``previous_due`` of a cycle (never in the past of ``now``... for cron)."""
    text = schedule_cycle.strip()
    if text.startswith("R"):
        _, _, interval = _repeating(text, now)
        return previous_due + interval
    return _next_cron(text, max(previous_due, now))


_REPEAT = re.compile(r"^R(\d*)/(.+)$")


def _repeating(text: str, now: datetime) -> tuple[int | None, datetime | None, timedelta]:
    match = _REPEAT.match(text)
    if match is None:
        raise TimerError(f"not an ISO 8601 repeating interval: {text!r}")
    count = int(match.group(1)) if match.group(1) else None
    parts = match.group(2).split("/")
    start: datetime | None = None
    if len(parts) == 2:
        start = _as_datetime(parts[0])
        interval = _as_delta(parts[1], start)
    elif len(parts) == 1:
        interval = _as_delta(parts[0], now)
    else:
        raise TimerError(f"not an ISO 8601 repeating interval: {text!r}")
    if interval <= timedelta(0):
        raise TimerError(f"the interval of {text!r} must be positive")
    if count is not None and count < 1:
        raise TimerError(f"the repetitions of {text!r} must be at least 1")
    return count, start, interval


def _next_cron(text: str, now: datetime) -> datetime:
    fields = text.split()
    if len(fields) != 6:
        raise TimerError(
            f"a cron expression needs six fields (seconds first), got {len(fields)}: {text!r}"
        )
    try:
        iterator = croniter(text, now, second_at_beginning=True)
        result = iterator.get_next(datetime)
    except (ValueError, KeyError) as exc:
        raise TimerError(f"invalid cron expression {text!r}: {exc}") from exc
    assert isinstance(result, datetime)
    return result


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise TimerError(f"not an ISO 8601 date and time: {value!r}") from exc
    else:
        raise TimerError(f"a timer date must be a date and time, got {value!r}")
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _as_delta(value: Any, now: datetime) -> timedelta:
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str):
        try:
            parsed = isodate.parse_duration(value.strip())
        except (isodate.ISO8601Error, ValueError) as exc:
            raise TimerError(f"not an ISO 8601 duration: {value!r}") from exc
        delta = parsed if isinstance(parsed, timedelta) else (now + parsed) - now
    elif hasattr(value, "months") and hasattr(value, "years"):
        months = int(value.years) * 12 + int(value.months)
        delta = (now + isodate.Duration(months=months)) - now
    else:
        raise TimerError(f"a timer duration must be a duration, got {value!r}")
    if delta < timedelta(0):
        raise TimerError(f"a timer duration must not be negative: {value!r}")
    return delta
