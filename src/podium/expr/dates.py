"""Date helpers that keep the caller's representation: ``20240131`` in, integers out;
``"2024-01-31"`` in, ISO strings out.

Workflows pass dates around as ``YYYYMMDD`` integers as often as ISO strings, and a helper
that silently switched between them would break the next step's comparison.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from podium.expr.budgets import Meter
from podium.expr.errors import ExprError
from podium.expr.values import Builtin, Namespace, type_name

_COMPACT = re.compile(r"\d{8}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}")
_DIRECTIVE = re.compile(r"%(.?)")
_FORMAT_DIRECTIVES = frozenset("aAbBdHIjmMpSUwWyYzZGuV%")
_MAX_SHIFT = 3_700_000


class _When:
    """A date or an aware date-time, with the representation it came in."""

    __slots__ = ("kind", "value")

    def __init__(self, value: date, kind: str) -> None:
        self.value = value
        self.kind = kind

    def write(self, value: date) -> Any:
        if self.kind == "int":
            return value.year * 10000 + value.month * 100 + value.day
        if self.kind == "compact":
            return value.strftime("%Y%m%d")
        return value.isoformat()


def read(value: Any, what: str = "a date") -> _When:
    """Read a ``YYYYMMDD`` int or str, an ISO date, or an ISO date-time."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ExprError(f"{what} must be a YYYYMMDD integer or an ISO date, not {type_name(value)}")
    try:
        if isinstance(value, int):
            if not 10000101 <= value <= 99991231:
                raise ValueError
            return _When(date(value // 10000, value // 100 % 100, value % 100), "int")
        if _COMPACT.fullmatch(value):
            return _When(date(int(value[:4]), int(value[4:6]), int(value[6:])), "compact")
        if _ISO.fullmatch(value):
            return _When(date.fromisoformat(value), "iso")
        if len(value) <= 64 and value[:4].isdigit():
            return _When(datetime.fromisoformat(value), "datetime")
    except ValueError:
        pass
    raise ExprError(f"{value!r} is not a valid date (write 20240131 or '2024-01-31')")


def _date_only(when: _When, helper: str) -> date:
    if isinstance(when.value, datetime):
        raise ExprError(f"dates.{helper} needs dates, not date-times; use dates.parse(x) first")
    return when.value


def zone(name: Any) -> tzinfo:
    """A named IANA time zone; only well-formed names reach ``ZoneInfo``."""
    if not isinstance(name, str) or len(name) > 64 or not _ZONE.fullmatch(name):
        raise ExprError(f"{name!r} is not a time zone name (write 'UTC' or 'Europe/Paris')")
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):
        raise ExprError(f"unknown time zone {name!r}") from None


def between(m: Meter, start: Any, end: Any, /) -> list[Any]:
    first = read(start, "the first date")
    last = _date_only(read(end, "the last date"), "between")
    begin = _date_only(first, "between")
    count = (last - begin).days + 1
    if count <= 0:
        return m.own([])
    m.check_items(count, "a list of dates")
    return m.own([first.write(begin + timedelta(days=n)) for n in range(count)])


def add(
    m: Meter, when: Any, /, days: Any = 0, *, weeks: Any = 0, months: Any = 0, years: Any = 0
) -> Any:
    parsed = read(when)
    for name, amount in (("days", days), ("weeks", weeks), ("months", months), ("years", years)):
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ExprError(f"dates.add: {name} must be an integer, not {type_name(amount)}")
        if abs(amount) > _MAX_SHIFT:
            raise ExprError(f"dates.add: {name}={amount} leaves the calendar")
    try:
        moved = _add_months(parsed.value, years * 12 + months)
        moved = moved + timedelta(days=days + 7 * weeks)
    except (OverflowError, ValueError):
        raise ExprError("dates.add: the result is outside the years 1 to 9999") from None
    return parsed.write(moved)


def _add_months(value: date, months: int) -> date:
    if months == 0:
        return value
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def format_date(m: Meter, when: Any, fmt: Any, /) -> str:
    parsed = read(when)
    if not isinstance(fmt, str) or len(fmt) > 200:
        raise ExprError("dates.format needs a format string of at most 200 characters")
    for directive in _DIRECTIVE.findall(fmt):
        if directive not in _FORMAT_DIRECTIVES:
            raise ExprError(
                f"dates.format: %{directive} is not supported; use "
                + " ".join(f"%{d}" for d in sorted(_FORMAT_DIRECTIVES))
            )
    m.tick(len(fmt))
    return parsed.value.strftime(fmt)


def today(m: Meter, /, tz: Any = "UTC") -> int:
    local = m.clock().astimezone(zone(tz))
    return local.year * 10000 + local.month * 100 + local.day


def parse(m: Meter, text: Any, /, tz: Any = None) -> str:
    """The ISO date of ``text``; a date-time is first moved into ``tz`` when one is named."""
    parsed = read(text)
    value = parsed.value
    if isinstance(value, datetime):
        if tz is not None:
            value = (value if value.tzinfo else value.replace(tzinfo=zone("UTC"))).astimezone(
                zone(tz)
            )
        value = value.date()
    return value.isoformat()


def to_int(m: Meter, when: Any, /) -> int:
    value = read(when).value
    return value.year * 10000 + value.month * 100 + value.day


def to_iso(m: Meter, when: Any, /) -> str:
    value = read(when).value
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def diff(m: Meter, start: Any, end: Any, /) -> int:
    """Whole days from ``start`` to ``end``."""
    first = read(start).value
    last = read(end).value
    first = first.date() if isinstance(first, datetime) else first
    last = last.date() if isinstance(last, datetime) else last
    return (last - first).days


DATES = Namespace(
    {
        "between": Builtin("dates.between", between),
        "add": Builtin("dates.add", add),
        "format": Builtin("dates.format", format_date),
        "today": Builtin("dates.today", today),
        "parse": Builtin("dates.parse", parse),
        "to_int": Builtin("dates.to_int", to_int),
        "to_iso": Builtin("dates.to_iso", to_iso),
        "diff": Builtin("dates.diff", diff),
    },
    name="dates",
    member="helper",
)
