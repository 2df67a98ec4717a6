"""What starts a workflow without a person asking: cron schedules (and, later, signals)."""

from __future__ import annotations

from podium.timing.cron import check_cron, check_timezone, next_fire_times

__all__ = ["check_cron", "check_timezone", "next_fire_times"]
