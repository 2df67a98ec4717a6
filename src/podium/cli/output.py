"""Printing helpers: one JSON document for machines, compact local times for people."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.text import Text

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT"})

STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "TIMED_OUT": "red",
    "STOPPED": "yellow",
    "COMPLETED_WITH_ERROR": "yellow",
    "SKIPPED": "dim",
    "RUNNING": "cyan",
    "IN_PROGRESS": "cyan",
    "PAUSED": "magenta",
    "CREATED": "dim",
    "WAITING_FOR_SIGNALS": "blue",
    "WAITING_FOR_PERMITS": "blue",
}


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_json(document: Any) -> None:
    """The whole of stdout in --json mode: exactly one document."""
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def error_document(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    """A failure in --json mode: the API's error shape (docs/api.md), on stdout."""
    return {"error": {"code": code, "message": message, "details": details}}


def print_error(message: str, problems: list[dict[str, str]] | None = None) -> None:
    click.echo(f"error: {message}", err=True)
    for problem in problems or []:
        click.echo(f"  {format_problem(problem)}", err=True)


def format_problem(problem: dict[str, str]) -> str:
    location = str(problem.get("location") or "").strip()
    message = str(problem.get("message", ""))
    return f"{location}: {message}" if location else message


def status_text(status: str | None) -> Text:
    value = status or "-"
    return Text(value, style=STATUS_STYLES.get(value, ""))


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_time(value: object, *, now: datetime | None = None) -> str:
    """An API time in the viewer's local zone: just the clock when it is today."""
    parsed = parse_time(value)
    if parsed is None:
        return "-"
    local = parsed.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    if seconds < 0:
        seconds = 0.0
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def elapsed(started: object, ended: object, *, now: datetime | None = None) -> str:
    """How long something ran (or has been running), or '-' when it never started."""
    start = parse_time(started)
    if start is None:
        return "-"
    end = parse_time(ended) or now or datetime.now(UTC)
    return format_duration((end - start).total_seconds())


def error_text(error: object) -> str:
    if not isinstance(error, dict):
        return ""
    kind = error.get("kind")
    message = str(error.get("message", "")).strip()
    return f"[{kind}] {message}" if kind else message


def is_stdout_terminal() -> bool:
    return sys.stdout.isatty()
