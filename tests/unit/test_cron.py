"""Cron schedules and time zones, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from podium.timing import check_cron, check_timezone, next_fire_times


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    "expr",
    [
        "0 0 * * *",
        "*/15 9-17 * * MON-FRI",
        "0 3 1,15 * *",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
    ],
)
def test_valid_expressions(expr: str) -> None:
    assert check_cron(expr) is None


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("61 * * * *", "bad minute"),
        ("0 24 * * *", "bad hour"),
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * *", "has 6 fields"),
        ("@midnight", "unknown cron macro '@midnight'"),
        ("@reboot", "unknown cron macro"),
        ("0 0 30 2 *", "bad day-of-month"),
        ("", "has 0 fields"),
    ],
)
def test_invalid_expressions_explain_the_format(expr: str, fragment: str) -> None:
    message = check_cron(expr)
    assert message is not None
    assert fragment in message
    assert "five fields" in message


def test_utc_times_are_strictly_after() -> None:
    times = next_fire_times("0 * * * *", "UTC", after=utc(2026, 1, 1, 10, 0), count=3)
    assert times == [utc(2026, 1, 1, 11), utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)]
    assert all(t.utcoffset() == timedelta(0) for t in times)


def test_macros_expand() -> None:
    after = utc(2026, 1, 1, 10, 30)
    assert next_fire_times("@daily", after=after, count=1) == [utc(2026, 1, 2)]
    assert next_fire_times("@weekly", after=after, count=1) == [utc(2026, 1, 4)]  # a Sunday
    assert next_fire_times("@monthly", after=after, count=1) == [utc(2026, 2, 1)]
    assert next_fire_times("@yearly", after=after, count=1) == [utc(2027, 1, 1)]


def test_default_after_is_now() -> None:
    before = datetime.now(UTC)
    (first,) = next_fire_times("* * * * *", count=1)
    assert before < first <= before + timedelta(minutes=1)


def test_spring_forward_in_new_york_runs_the_missing_time_once_at_the_jump() -> None:
    times = next_fire_times("30 2 * * *", "America/New_York", after=utc(2026, 3, 7, 12), count=2)
    # 2026-03-08 02:30 does not exist in New York: the run happens when clocks reach 03:00.
    assert [t.isoformat() for t in times] == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_spring_forward_keeps_daily_midnight_runs() -> None:
    times = next_fire_times("0 0 * * *", "America/New_York", after=utc(2026, 3, 7, 12), count=2)
    assert [t.astimezone(UTC) for t in times] == [utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)]


def test_fall_back_in_new_york_runs_the_repeated_time_once() -> None:
    times = next_fire_times("30 1 * * *", "America/New_York", after=utc(2026, 10, 31, 12), count=2)
    assert [t.astimezone(UTC) for t in times] == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert times[0].isoformat() == "2026-11-01T01:30:00-04:00"


def test_after_inside_the_repeated_hour_never_returns_an_earlier_time() -> None:
    # 06:15 UTC is 01:15 EST, the second pass through 01:xx; the 01:30 EDT run is already past.
    after = utc(2026, 11, 1, 6, 15)
    times = next_fire_times("30 1 * * *", "America/New_York", after=after, count=1)
    assert times == [utc(2026, 11, 2, 6, 30)]


def test_results_are_aware_and_in_the_zone() -> None:
    times = next_fire_times("0 9 * * *", "Europe/Paris", after=utc(2026, 6, 1), count=1)
    assert times[0].isoformat() == "2026-06-01T09:00:00+02:00"


def test_bad_input_raises_value_error() -> None:
    with pytest.raises(ValueError, match="bad minute"):
        next_fire_times("61 * * * *")
    with pytest.raises(ValueError, match="unknown time zone"):
        next_fire_times("@daily", "Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times("@daily", after=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("America/New_Yrok", "America/New_York"),
        ("new york", "America/New_York"),
        ("utc", "UTC"),
        ("europe/paris", "Europe/Paris"),
    ],
)
def test_check_timezone_suggests(name: str, suggestion: str) -> None:
    message = check_timezone(name)
    assert message is not None
    assert f"(did you mean {suggestion!r}?)" in message


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_known_zones_pass(name: str) -> None:
    assert check_timezone(name) is None


@pytest.mark.parametrize("name", ["", "../etc/passwd", "America", "Nowhere/Atall"])
def test_odd_names_are_refused_without_crashing(name: str) -> None:
    message = check_timezone(name)
    assert message is not None
    assert "unknown time zone" in message
