"""Cron schedules behind Podium's own small interface.

The rest of Podium never imports ``cronsim`` directly: if the library changes or is replaced,
only this module moves. Schedules follow Debian cron semantics across DST changes (a job at a
wall-clock time that does not exist runs once when the clock jumps; a time that happens twice
runs once), as cronsim implements them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError

MACROS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}

CRON_FORMAT = (
    "use five fields (minute hour day-of-month month day-of-week), "
    "or one of @hourly, @daily, @weekly, @monthly, @yearly"
)


def _expand(expr: str) -> str:
    """Return the five-field form of ``expr``; raise ``ValueError`` with a user message."""
    text = expr.strip()
    if text.startswith("@"):
        if text not in MACROS:
            raise ValueError(f"unknown cron macro {text!r}; {CRON_FORMAT}")
        return MACROS[text]
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expr!r} has {len(fields)} fields; {CRON_FORMAT}")
    return text


def check_cron(expr: str) -> str | None:
    """Return ``None`` if ``expr`` is a usable schedule, else a message a user can act on.

    A schedule that never fires (such as February 30th) is rejected too: it would silently
    never run.
    """
    try:
        five = _expand(expr)
        schedule = CronSim(five, datetime(2000, 1, 1, tzinfo=UTC))
        next(schedule)
    except ValueError as exc:
        return str(exc)
    except CronSimError as exc:
        return f"bad cron expression {expr!r}: {str(exc).lower()}; {CRON_FORMAT}"
    except StopIteration:
        return f"cron expression {expr!r} never fires"
    return None


def next_fire_times(
    expr: str,
    timezone: str = "UTC",
    after: datetime | None = None,
    count: int = 5,
) -> list[datetime]:
    """Return the next ``count`` fire times strictly after ``after`` (default: now).

    Times are aware datetimes in ``timezone``. Raises ``ValueError`` for a bad expression,
    a bad time zone or a naive ``after``.
    """
    times: list[datetime] = []
    for fire in iter_fire_times(expr, timezone, after):
        times.append(fire)
        if len(times) >= count:
            break
    return times


def iter_fire_times(
    expr: str, timezone: str = "UTC", after: datetime | None = None
) -> Iterator[datetime]:
    """Every fire time strictly after ``after`` (default: now), in order, without end."""
    problem = check_cron(expr) or check_timezone(timezone)
    if problem is not None:
        raise ValueError(problem)
    if after is None:
        after = datetime.now(UTC)
    if after.tzinfo is None:
        raise ValueError("after must be a timezone-aware datetime")
    zone = ZoneInfo(timezone)
    five = _expand(expr)
    start = after.astimezone(zone)
    last = after.timestamp()
    # cronsim walks in real time when the minute or the hour field is a wildcard, else on
    # the wall clock (Debian cron's rules for fixed times across DST).
    real_time = any(field.startswith("*") for field in five.split()[:2])
    # Wall-clock iteration can return a time already past when ``after`` falls in the
    # repeated hour of a DST fall-back, so results are filtered on absolute time. Two aware
    # datetimes in one zone compare by wall clock, ignoring ``fold``: the second 01:00 of a
    # fall-back equals the first, so only epoch seconds tell them apart.
    for fire in CronSim(five, start):
        at = fire.timestamp()
        if at <= last:
            continue
        if real_time:
            yield from _fires_after_jump(five, zone, last, at)
        last = at
        yield fire


def _fires_after_jump(five: str, zone: ZoneInfo, after: float, before: float) -> list[datetime]:
    """Fires between a forward DST jump and ``before`` that cronsim 2.8 stepped over.

    In real time it skips to a target minute by the wall-clock distance, which overshoots
    when a jump lies on the way: with Lord Howe's 30-minute jump from 02:00 to 02:30,
    ``31 * * * *`` went from 01:31 to 03:31. Scanned again from the jump itself, the
    stretch has no jump in it and is walked right.
    """
    jump = _forward_jump(zone, int(after), int(before))
    if jump is None:
        return []
    found: list[datetime] = []
    for fire in CronSim(five, datetime.fromtimestamp(jump - 1, zone)):
        at = fire.timestamp()
        if at >= before:
            break
        if at > after:
            found.append(fire)
    return found


def _forward_jump(zone: ZoneInfo, after: int, before: int) -> int | None:
    """The first second of a later UTC offset between two instants, if the offset grows
    (at most one change lies between two fires that cronsim walks in real time)."""
    first = _offset(zone, after)
    if _offset(zone, before) <= first:
        return None
    lo, hi = after, before
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(zone, mid) == first:
            lo = mid
        else:
            hi = mid
    return hi


def _offset(zone: ZoneInfo, at: int) -> timedelta:
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return offset if offset is not None else timedelta(0)


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _suggest_zone(name: str) -> str | None:
    """Find the zone the user probably meant, by full name or by city."""
    names = _zone_names()
    by_lower = {n.lower(): n for n in names}
    wanted = name.strip().lower().replace(" ", "_")
    if wanted in by_lower:
        return by_lower[wanted]
    close = difflib.get_close_matches(wanted, list(by_lower), n=1, cutoff=0.75)
    if close:
        return by_lower[close[0]]
    by_city: dict[str, str] = {}
    for n in names:
        by_city.setdefault(n.rsplit("/", 1)[-1].lower(), n)
    city = wanted.rsplit("/", 1)[-1]
    close = difflib.get_close_matches(city, list(by_city), n=1, cutoff=0.75)
    return by_city[close[0]] if close else None


def check_timezone(name: str) -> str | None:
    """Return ``None`` if ``name`` is a known IANA time zone, else a message with a suggestion."""
    try:
        if name in _zone_names():
            ZoneInfo(name)
            return None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    suggestion = _suggest_zone(name)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return f"unknown time zone {name!r}{hint}; use an IANA name such as 'Europe/Paris' or 'UTC'"
