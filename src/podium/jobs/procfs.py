"""Reading the Linux process table from /proc.

A pid alone is not an identity (pids are reused), so every check pairs it with the process's
start time; and a zombie counts as gone because it runs nothing and will never write again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    pgrp: int
    start_time: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X", "x")


def read_stat(pid: int) -> ProcStat | None:
    """The fields of /proc/PID/stat we use, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may hold spaces and parentheses; everything after the last ")" is safe.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return ProcStat(
        pid=pid,
        state=fields[0].decode(),
        pgrp=int(fields[2]),
        start_time=int(fields[19]),
    )


def start_time(pid: int) -> int | None:
    stat = read_stat(pid)
    return None if stat is None else stat.start_time


def is_running(pid: int, pid_start: int) -> bool:
    """True when ``pid`` is the very process that started at ``pid_start`` and is not a zombie."""
    stat = read_stat(pid)
    return stat is not None and stat.alive and stat.start_time == pid_start


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``: a scan of /proc, so only for the
    rare kill path, never for the hot path."""
    members: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = read_stat(int(name))
        except (OSError, ValueError, IndexError):
            continue
        if stat is not None and stat.pgrp == pgid and stat.alive:
            members.append(stat.pid)
    return members
