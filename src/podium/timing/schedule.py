"""When a cron trigger fires: jitter, due ticks and catch-up, as pure functions of time.

The scheduler hands in what it read from the store and the time it looked; nothing here
reads a clock or a database, so every rule is tested with plain numbers.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from podium.timing.cron import iter_fire_times

Catchup = Literal["none", "latest", "all"]

MAX_CATCHUP_FIRES = 100
"""``catchup: all`` fires at most this many missed ticks (the most recent); older ones are
skipped, so a long outage cannot bury the engine under runs nobody needs any more."""

MISSED_GRACE_S = 5.0
"""A tick that fell due less than this long before the scheduler was last watching still
counts as on time (a scheduler that is running is never more than this late to look)."""

_FIRST_WINDOW_S = 86_400.0


def jitter_offset_s(workflow_id: str, jitter_s: float) -> float:
    """A delay in [0, jitter_s) that is the same for a workflow on every replica and every
    fire, so its runs spread out from other workflows' but keep a steady rhythm."""
    if jitter_s <= 0:
        return 0.0
    digest = hashlib.sha256(workflow_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * jitter_s


def next_fire_after(expr: str, timezone: str, after: float) -> float:
    """The first nominal fire time strictly after ``after`` (UTC epoch seconds)."""
    start = datetime.fromtimestamp(after, UTC)
    return next(iter_fire_times(expr, timezone, start)).timestamp()


@dataclass(frozen=True)
class CronState:
    """A stored trigger as the scheduler sees it."""

    workflow_id: str
    cron: str
    timezone: str
    catchup: Catchup
    next_fire_at: float
    offset_s: float


@dataclass(frozen=True)
class FirePlan:
    fire: list[float]
    """Nominal fire times to start an instance for, oldest first."""
    skipped: int
    """Due ticks not fired (missed, and not wanted by the catch-up policy)."""
    next_fire_at: float


def plan_fires(
    state: CronState,
    *,
    now: float,
    watching_since: float,
    grace_s: float = MISSED_GRACE_S,
    max_catchup: int = MAX_CATCHUP_FIRES,
) -> FirePlan:
    """What to fire at ``now``: ticks due since ``next_fire_at`` under the catch-up policy.

    A tick is missed when it fell due (jitter included) more than ``grace_s`` before
    ``watching_since``, the time from which this scheduler has been looking: ``none``
    skips missed ticks, ``latest`` fires the most recent due tick only, ``all`` fires
    every due tick up to the ``max_catchup`` most recent.
    """
    last_due = now - state.offset_s
    if state.next_fire_at > last_due:
        return FirePlan([], 0, state.next_fire_at)
    due, total = _ticks_between(state, state.next_fire_at, last_due, max_catchup)
    on_time_from = watching_since - grace_s - state.offset_s
    on_time = [t for t in due if t >= on_time_from]
    missed = [t for t in due if t < on_time_from]
    if state.catchup == "none":
        fire = on_time
    elif state.catchup == "latest":
        fire = on_time or missed[-1:]
    else:
        fire = due
    following = next_fire_after(state.cron, state.timezone, last_due)
    return FirePlan(fire, total - len(fire), following)


def _ticks_between(
    state: CronState, first: float, last: float, keep: int
) -> tuple[list[float], int]:
    """The ``keep`` most recent ticks in [first, last] and how many there are at least.

    Looks back from ``last`` over a window that grows until it holds ``keep`` ticks or
    reaches ``first``: after a long outage of a frequent schedule, the cost stays that of
    the ticks kept, not of every tick missed.
    """
    window = _FIRST_WINDOW_S
    while True:
        start = max(first, last - window)
        found: deque[float] = deque(maxlen=keep)
        count = 0
        after = datetime.fromtimestamp(start - 0.001, UTC)
        for fire in iter_fire_times(state.cron, state.timezone, after):
            at = fire.timestamp()
            if at > last:
                break
            found.append(at)
            count += 1
        if count >= keep or start <= first:
            if start > first:
                count += 1  # at least one more before the window; exact numbers do not matter
            return list(found), count
        window *= 4
