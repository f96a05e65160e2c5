"""The window a process dashboard covers: the named windows, a custom one, and the bucket
its throughput chart is cut into."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from legato.web.dashboard import MAX_BUCKETS, Window, WindowError, bucket_for, window_of

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "length", "bucket"),
    [
        ("24h", timedelta(hours=24), "PT1H"),
        ("7d", timedelta(days=7), "PT6H"),
        ("30d", timedelta(days=30), "PT12H"),
    ],
)
def test_a_named_window_ends_now(name: str, length: timedelta, bucket: str) -> None:
    window = window_of(name, None, None, NOW)
    assert (window.since, window.until) == (NOW - length, NOW)
    assert window.bucket_iso == bucket
    assert (window.until - window.since) / window.bucket <= MAX_BUCKETS


def test_a_custom_window_reads_times_without_a_zone_as_utc() -> None:
    window = window_of("custom", "2026-12-01T08:00", "2026-12-01T20:00", NOW)
    assert window == Window(
        "custom",
        datetime(2026, 12, 1, 8, tzinfo=UTC),
        datetime(2026, 12, 1, 20, tzinfo=UTC),
        timedelta(hours=1),
    )
    assert window_of("custom", "2026-12-07T10:30+01:00", "", NOW).since == datetime(
        2026, 12, 7, 9, 30, tzinfo=UTC
    )
    assert window_of("custom", "2026-12-07T10:30", None, NOW).until == NOW


@pytest.mark.parametrize(
    ("name", "since", "until", "message"),
    [
        ("week", None, None, "window: 'week' is none of 24h, 7d, 30d, custom"),
        ("custom", None, None, "since: a custom window needs its start"),
        ("custom", "yesterday", None, "since: 'yesterday' is not a date and time"),
        ("custom", "2026-12-01T08:00", "noon", "until: 'noon' is not a date and time"),
        ("custom", "2026-12-01T08:00", "2026-12-01T07:00", "until: must be later than since"),
    ],
)
def test_a_window_that_cannot_be_shown_names_the_field(
    name: str, since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(WindowError, match=message):
        window_of(name, since, until, NOW)


def test_the_bucket_is_the_finest_that_keeps_the_chart_readable() -> None:
    assert bucket_for(timedelta(hours=3)) == timedelta(hours=1)
    assert bucket_for(timedelta(hours=61)) == timedelta(hours=2)
    assert bucket_for(timedelta(days=90)) == timedelta(days=7)
    assert bucket_for(timedelta(days=3650)) == timedelta(days=7)  # the coarsest there is
