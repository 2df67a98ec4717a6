"""Time as pure functions: cron expressions and time zones, and when a cron trigger fires.

A leaf: it imports nothing of Podium's, so the definition (checking a ``trigger.cron``), the
store (the next fire time it keeps) and the scheduler all share it without importing each other.
Nothing here reads a clock or a database.
"""

from __future__ import annotations

from podium.timing.cron import check_cron, check_timezone, next_fire_times

__all__ = ["check_cron", "check_timezone", "next_fire_times"]
