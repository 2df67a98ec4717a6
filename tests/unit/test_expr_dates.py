"""Date helpers: both representations, month and year boundaries, leap years, time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from podium.expr import ExprError, Template

NOON_UTC = datetime(2024, 3, 10, 2, 30, tzinfo=UTC)


def ev(text: str, **scope: Any) -> Any:
    return Template.parse(text).evaluate(scope, clock=lambda: NOON_UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${ dates.between(20240227, 20240301) }", [20240227, 20240228, 20240229, 20240301]),
        ("${ dates.between(20230227, 20230301) }", [20230227, 20230228, 20230301]),
        ("${ dates.between('2023-12-31', '2024-01-01') }", ["2023-12-31", "2024-01-01"]),
        ("${ dates.between('20240131', '20240201') }", ["20240131", "20240201"]),
        ("${ dates.between(20240105, 20240105) }", [20240105]),
        ("${ dates.between(20240105, 20240101) }", []),
        ("${ dates.between(20240101, '2024-01-02') }", [20240101, 20240102]),
        ("${ dates.add(20240228, days=1) }", 20240229),
        ("${ dates.add(20230228, days=1) }", 20230301),
        ("${ dates.add(20231231, days=1) }", 20240101),
        ("${ dates.add('2024-03-01', days=-1) }", "2024-02-29"),
        ("${ dates.add('2024-01-01', -1) }", "2023-12-31"),
        ("${ dates.add(20240131, months=1) }", 20240229),
        ("${ dates.add(20240229, years=1) }", 20250228),
        ("${ dates.add(20240115, weeks=2) }", 20240129),
        ("${ dates.add(20241130, months=2) }", 20250130),
        ("${ dates.add('2024-01-31T23:00:00+00:00', days=1) }", "2024-02-01T23:00:00+00:00"),
        ("${ dates.format(20240305, '%Y/%m/%d') }", "2024/03/05"),
        ("${ dates.format('2024-03-05', '%d %b %Y, %A') }", "05 Mar 2024, Tuesday"),
        ("${ dates.format(20240101, '%j %%') }", "001 %"),
        ("${ dates.today() }", 20240310),
        ("${ dates.today(tz='America/Los_Angeles') }", 20240309),
        ("${ dates.today('Asia/Tokyo') }", 20240310),
        ("${ dates.parse('2024-03-10T02:30:00Z', tz='America/New_York') }", "2024-03-09"),
        ("${ dates.parse('2024-03-10T02:30:00+00:00') }", "2024-03-10"),
        ("${ dates.parse(20240310) }", "2024-03-10"),
        ("${ dates.parse('20240310') }", "2024-03-10"),
        ("${ dates.to_int('2024-02-29') }", 20240229),
        ("${ dates.to_iso(20240229) }", "2024-02-29"),
        ("${ dates.diff(20240101, 20240301) }", 60),
        ("${ dates.diff('2023-01-01', '2023-03-01') }", 59),
        ("${ len(dates.between(20240101, 20241231)) }", 366),
    ],
)
def test_date_helpers(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${ dates.add(20230229, days=1) }", "not a valid date"),
        ("${ dates.add('2024-13-01', days=1) }", "not a valid date"),
        ("${ dates.add(2024010, days=1) }", "not a valid date"),
        ("${ dates.add(True, days=1) }", "YYYYMMDD"),
        ("${ dates.add([20240101], days=1) }", "YYYYMMDD"),
        ("${ dates.add(20240101, days=1.5) }", "must be an integer"),
        ("${ dates.add(99991231, days=1) }", "outside the years"),
        ("${ dates.add(20240101, days=10**9) }", "leaves the calendar"),
        ("${ dates.format(20240101, '%s') }", "%s is not supported"),
        ("${ dates.today(tz='Mars/Olympus') }", "unknown time zone"),
        ("${ dates.today(tz='../../etc/passwd') }", "not a time zone name"),
        ("${ dates.between('2024-01-01T00:00:00', '2024-01-02') }", "not date-times"),
        ("${ dates.parse('yesterday') }", "not a valid date"),
    ],
)
def test_bad_dates(text: str, fragment: str) -> None:
    with pytest.raises(ExprError) as caught:
        ev(text)
    assert fragment in caught.value.message


def test_between_is_bounded_before_building() -> None:
    with pytest.raises(ExprError) as caught:
        ev("${ dates.between(10000101, 99991231) }")
    assert caught.value.budget == "collection_size"
