"""Catch-up, jitter and due ticks as pure functions of time (no database, no clock)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import pytest

from podium.timing.schedule import (
    Catchup,
    CronState,
    jitter_offset_s,
    next_fire_after,
    plan_fires,
)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def state(
    catchup: str = "latest", *, cron: str = "0 0 * * *", first: str, offset: float = 0.0
) -> CronState:
    return CronState("w", cron, "UTC", cast(Catchup, catchup), epoch(first), offset)


def test_nothing_is_due_before_the_tick_plus_jitter() -> None:
    plan = plan_fires(
        state(first="2026-01-02T00:00:00+00:00", offset=30),
        now=epoch("2026-01-02T00:00:29+00:00"),
        watching_since=epoch("2026-01-01T00:00:00+00:00"),
    )
    assert plan.fire == [] and plan.next_fire_at == epoch("2026-01-02T00:00:00+00:00")


def test_an_on_time_tick_fires_and_the_next_one_follows() -> None:
    plan = plan_fires(
        state("none", first="2026-01-02T00:00:00+00:00", offset=30),
        now=epoch("2026-01-02T00:00:31+00:00"),
        watching_since=epoch("2026-01-01T00:00:00+00:00"),
    )
    assert plan.fire == [epoch("2026-01-02T00:00:00+00:00")]
    assert plan.next_fire_at == epoch("2026-01-03T00:00:00+00:00")


@pytest.mark.parametrize(
    ("catchup", "days"), [("none", []), ("latest", [9]), ("all", [2, 3, 4, 5, 6, 7, 8, 9])]
)
def test_missed_ticks_follow_catchup(catchup: str, days: list[int]) -> None:
    plan = plan_fires(
        state(catchup, first="2026-01-02T00:00:00+00:00"),
        now=epoch("2026-01-09T12:00:00+00:00"),
        watching_since=epoch("2026-01-09T12:00:00+00:00"),
    )
    assert plan.fire == [epoch(f"2026-01-0{d}T00:00:00+00:00") for d in days]
    assert plan.skipped == 8 - len(days)
    assert plan.next_fire_at == epoch("2026-01-10T00:00:00+00:00")


def test_a_year_of_missed_minutes_is_cheap_and_bounded() -> None:
    plan = plan_fires(
        state("all", cron="* * * * *", first="2025-01-01T00:00:00+00:00"),
        now=epoch("2026-01-01T00:00:30+00:00"),
        watching_since=epoch("2026-01-01T00:00:30+00:00"),
        max_catchup=100,
    )
    assert len(plan.fire) == 100
    assert plan.fire[-1] == epoch("2026-01-01T00:00:00+00:00")
    assert plan.skipped > 0


def test_jitter_is_stable_and_bounded() -> None:
    assert jitter_offset_s("a", 600) == jitter_offset_s("a", 600)
    assert jitter_offset_s("a", 600) != jitter_offset_s("b", 600)
    assert 0 <= jitter_offset_s("a", 600) < 600


def test_next_fire_after_is_strict() -> None:
    tick = epoch("2026-01-02T00:00:00+00:00")
    assert next_fire_after("0 0 * * *", "UTC", tick) == epoch("2026-01-03T00:00:00+00:00")
    assert next_fire_after("0 0 * * *", "UTC", tick - 1) == tick
