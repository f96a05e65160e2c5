"""The template helpers of the web app: filters, autoescape, the navigation registry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from legato.security import Principal
from legato.web.ui import duration_text, key_text, nav_for, templates, time_tag


def test_keys_are_decimal_strings() -> None:
    assert key_text(2251799813685249) == "2251799813685249"
    with pytest.raises(TypeError, match="key"):
        key_text(1.5)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0.35, "350 ms"),
        (4, "4 s"),
        (125, "2 min 5 s"),
        (timedelta(hours=3, minutes=20, seconds=9), "3 h 20 min"),
        (timedelta(days=2, hours=4), "2 d 4 h"),
        (timedelta(hours=1), "1 h"),
        (-90, "-1 min 30 s"),
    ],
)
def test_durations_read_as_people_say_them(value: timedelta | float | None, text: str) -> None:
    assert duration_text(value) == text


def test_times_are_time_elements_in_utc() -> None:
    when = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert str(time_tag(when)) == (
        '<time datetime="2026-01-02T03:04:05Z">2026-01-02 03:04 UTC</time>'
    )
    assert 'datetime="2026-01-02T03:04:05Z"' in str(time_tag(datetime(2026, 1, 2, 3, 4, 5)))
    assert str(time_tag(None)) == ""
    assert str(time_tag("2026-01-02T03:04:05+00:00")).startswith('<time datetime="2026-01-02T')


def test_templates_escape_everything() -> None:
    rendered = templates.from_string("{{ v }}").render(v="<script>x</script>")
    assert rendered == "&lt;script&gt;x&lt;/script&gt;"


def test_the_menu_shows_only_what_the_roles_allow() -> None:
    user = [e.href for e in nav_for(Principal("ann", frozenset({"user"})))]
    operator = [e.href for e in nav_for(Principal("otto", frozenset({"operator"})))]
    assert "/tasks" in user and "/cockpit" not in user
    assert "/cockpit" in operator and "/tasks" not in operator
