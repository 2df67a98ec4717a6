"""Every path that lists or catches up cron fires gives exactly the times the engine fires at.

The engine finds its next tick one at a time (``next_fire_after`` from the tick it just fired);
``podium cron``, ``podium info`` and catch-up list many at once (``iter_fire_times`` and
``plan_fires``). They are checked against each other over every DST transition of a year in
zones that move by an hour, by half an hour, at midnight, and backwards (Dublin's winter time),
and against the wall clock: no matching minute is lost, and a fixed time is never fired twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.timing.cron import iter_fire_times, next_fire_times
from podium.timing.schedule import CronState, next_fire_after, plan_fires

YEAR = 2026
ZONES = (
    "America/New_York",
    "Australia/Lord_Howe",  # moves by 30 minutes
    "America/Santiago",  # changes at midnight
    "Europe/London",
    "Europe/Dublin",  # "winter time" is the negative offset in tzdata
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Havana",  # skips midnight itself
)
WINDOW = timedelta(hours=30)
STEP = timedelta(minutes=15)


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The instants of ``YEAR`` at which ``zone``'s offset changes, to the quarter hour."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    at = datetime(YEAR, 1, 1, tzinfo=UTC)
    end = datetime(YEAR + 1, 1, 1, tzinfo=UTC)
    before = at.astimezone(tz).utcoffset()
    while at < end:
        at += STEP
        offset = at.astimezone(tz).utcoffset()
        if offset != before:
            found.append(at)
            before = offset
    return tuple(found)


def every_transition() -> Iterator[tuple[str, datetime]]:
    for zone in ZONES:
        for moment in transitions(zone):
            yield zone, moment


def listed(expr: str, zone: str, start: datetime, end: datetime) -> list[float]:
    times: list[float] = []
    for fire in iter_fire_times(expr, zone, start):
        if fire >= end:
            break
        times.append(fire.timestamp())
    return times


def engine(expr: str, zone: str, start: datetime, end: datetime) -> list[float]:
    """The scheduler's own iteration: the next tick after the one just fired."""
    times: list[float] = []
    at = start.timestamp()
    while (at := next_fire_after(expr, zone, at)) < end.timestamp():
        times.append(at)
    return times


def caught_up(expr: str, zone: str, first: float, end: datetime) -> list[float]:
    """What ``catchup: all`` fires after an outage that covered the whole window."""
    state = CronState("w", expr, zone, "all", first, 0.0)
    now = end.timestamp() - 0.001
    plan = plan_fires(state, now=now, watching_since=now, max_catchup=10_000)
    return plan.fire


def fields_match(expr: str, local: datetime) -> bool:
    """Does the wall clock ``local`` match ``expr`` (minute and hour fields; day fields ``*``)?"""
    minute, hour = expr.split()[:2]
    return _field(minute, local.minute, 60) and _field(hour, local.hour, 24)


def _field(spec: str, value: int, size: int) -> bool:
    for part in spec.split(","):
        base, _, step = part.partition("/")
        values = range(size) if base == "*" else [int(v) for v in base.split("-")]
        low, high = (values[0], values[-1]) if base != "*" else (0, size - 1)
        if low <= value <= high and (value - low) % int(step or 1) == 0:
            return True
    return False


def check_against_the_wall_clock(
    expr: str, zone: str, start: datetime, end: datetime, fires: list[float]
) -> None:
    """No wall-clock match is lost; a time with a fixed hour fires once; every fire matches
    or is the first instant after a gap that swallowed a match."""
    tz = ZoneInfo(zone)
    fired = set(fires)
    minute = timedelta(minutes=1)
    at = start.replace(second=0, microsecond=0) + minute
    matched_walls: dict[datetime, list[float]] = {}
    while at < end:
        local = at.astimezone(tz)
        if fields_match(expr, local):
            matched_walls.setdefault(local.replace(tzinfo=None, fold=0), []).append(at.timestamp())
        at += minute
    fixed_hour = expr.split()[1] != "*"
    for wall, instants in matched_walls.items():
        hits = [t for t in instants if t in fired]
        assert hits, f"{expr} in {zone}: {wall} was never fired"
        if fixed_hour:
            assert len(hits) == 1, f"{expr} in {zone}: {wall} fired {len(hits)} times"
    for t in fires:
        local = datetime.fromtimestamp(t, tz)
        if fields_match(expr, local):
            continue
        before = datetime.fromtimestamp(t - 1, tz)
        jumped = local.utcoffset() != before.utcoffset()
        assert jumped, f"{expr} in {zone}: fired at {local.isoformat()}, which does not match"


def agree(expr: str, zone: str, start: datetime, end: datetime) -> list[float]:
    by_engine = engine(expr, zone, start, end)
    assert listed(expr, zone, start, end) == by_engine, (expr, zone, start)
    if by_engine:
        assert caught_up(expr, zone, by_engine[0], end) == by_engine, (expr, zone, start)
    return by_engine


def around(moment: datetime) -> tuple[datetime, datetime]:
    return moment - WINDOW, moment + WINDOW


def local_hour_of(zone: str, moment: datetime) -> int:
    return (moment - timedelta(minutes=1)).astimezone(ZoneInfo(zone)).hour


def test_every_zone_has_its_transitions() -> None:
    for zone in ZONES:
        assert len(transitions(zone)) == 2, zone


@pytest.mark.parametrize(("zone", "moment"), list(every_transition()), ids=str)
def test_listing_catchup_and_engine_agree_at_every_transition(zone: str, moment: datetime) -> None:
    start, end = around(moment)
    hour = local_hour_of(zone, moment)
    later = (hour + 1) % 24
    for expr in (
        "0 * * * *",
        "*/30 * * * *",
        "15,45 * * * *",
        "*/15 * * * *",
        f"30 {hour} * * *",
        f"0 {later} * * *",
        f"45 {hour},{later} * * *",
        "0 0 * * *",
        "0 23 * * *",
    ):
        fires = agree(expr, zone, start, end)
        check_against_the_wall_clock(expr, zone, start, end, fires)


@pytest.mark.parametrize("zone", ZONES)
def test_a_whole_year_of_hours_agrees(zone: str) -> None:
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    end = datetime(YEAR + 1, 1, 1, tzinfo=UTC)
    fires = agree("0 * * * *", zone, start, end)
    # Every instant whose wall clock reads :00, each once (a :00 swallowed by Lord Howe's
    # half-hour jump is not one).
    tz = ZoneInfo(zone)
    on_the_hour = [
        at.timestamp()
        for n in range(1, 366 * 24 * 4)
        if (at := start + n * STEP) < end and at.astimezone(tz).minute == 0
    ]
    assert fires == on_the_hour


minutes = st.lists(st.integers(0, 59), min_size=1, max_size=4, unique=True)
hours = st.one_of(
    st.just("*"),
    st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True).map(
        lambda hs: ",".join(map(str, sorted(hs)))
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    pick=st.sampled_from(list(every_transition())),
    minute=minutes,
    hour=hours,
    near=st.booleans(),
)
def test_any_schedule_agrees_near_any_transition(
    pick: tuple[str, datetime], minute: list[int], hour: str, near: bool
) -> None:
    zone, moment = pick
    if near:  # aim the hours at the ones the transition touches
        h = local_hour_of(zone, moment)
        hour = f"{h},{(h + 1) % 24}" if h < 23 else "0,23"
    expr = f"{','.join(map(str, sorted(minute)))} {hour} * * *"
    start, end = around(moment)
    fires = agree(expr, zone, start, end)
    check_against_the_wall_clock(expr, zone, start, end, fires)


def test_the_repeated_hour_of_new_york_is_listed() -> None:
    after = datetime.fromisoformat("2025-11-02T00:30:00-04:00")
    hourly = next_fire_times("0 * * * *", "America/New_York", after=after, count=3)
    assert [t.astimezone(UTC).strftime("%H:%M") for t in hourly] == ["05:00", "06:00", "07:00"]
    halves = next_fire_times("*/30 * * * *", "America/New_York", after=after, count=5)
    assert [t.astimezone(UTC).strftime("%H:%M") for t in halves] == [
        "05:00",
        "05:30",
        "06:00",
        "06:30",
        "07:00",
    ]
