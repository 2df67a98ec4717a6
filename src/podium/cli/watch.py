"""Following an instance until it ends: a live Rich view on a terminal, one line otherwise."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podium.cli.client import ApiError, CliError
from podium.cli.output import (
    TERMINAL_STATUSES,
    elapsed,
    error_text,
    format_duration,
    local_time,
    status_text,
)

POLL_INTERVAL_S = 0.2
"""How often an instance is read when its server has no event stream to follow."""
SAFETY_READ_S = 5.0
"""Even when following the stream, the instance is read again this often."""
REDRAW_S = 1.0

FetchInstance = Callable[[], dict[str, Any]]
Follow = Callable[..., Generator[dict[str, Any], None, None]]
"""``follow(after=ID, on_open=F)``: the instance's events (see PodiumClient.follow_events)."""


class Changes:
    """Something happened to the instance: set by a thread that follows its event stream
    (reconnecting from the last event it saw), or all along when the server has none."""

    def __init__(self, follow: Follow | None) -> None:
        self._changed = threading.Event()
        self._open = threading.Event()
        self._done = threading.Event()
        self.streaming = follow is not None
        if follow is not None:
            thread = threading.Thread(
                target=self._follow, args=(follow,), name="podium-follow", daemon=True
            )
            thread.start()
            # Read the instance only once the server follows it for us: nothing is missed.
            if not self._open.wait(timeout=SAFETY_READ_S):
                self.streaming = False

    def wait(self, timeout_s: float) -> bool:
        """Until something changed (True) or ``timeout_s`` passed (False); when not
        streaming, the poll interval, and then it may have changed."""
        if not self.streaming:
            time.sleep(POLL_INTERVAL_S)
            return True
        changed = self._changed.wait(timeout_s)
        self._changed.clear()
        return changed

    def stop(self) -> None:
        self._done.set()

    def _follow(self, follow: Follow) -> None:
        last: int | None = None
        while not self._done.is_set():
            try:
                with contextlib.closing(follow(after=last, on_open=self._open.set)) as events:
                    for event in events:
                        last = int(event.get("id") or 0) or last
                        self._changed.set()
                        if self._done.is_set():
                            return
            except ApiError:
                break  # a server without the stream (or that refuses it): poll instead
            except CliError:
                pass  # broken: follow again from the last event seen
            except Exception:  # an answer it cannot read: poll instead, never hang
                break
            self._changed.set()
            self._done.wait(1.0)
        self.streaming = False
        self._open.set()
        self._changed.set()


def wait_for_end(
    fetch: FetchInstance, *, follow: Follow | None = None, live: Console | None = None
) -> dict[str, Any]:
    """Read the instance until its status is terminal: each time its event stream (``follow``)
    says something changed, or every POLL_INTERVAL_S without one; with ``live``, redraw a
    progress view."""
    started = time.monotonic()
    changes = Changes(follow)
    try:
        document = fetch()
        if live is None:
            while document.get("status") not in TERMINAL_STATUSES:
                changes.wait(SAFETY_READ_S)
                document = fetch()
            return document
        with Live(
            progress_view(document, time.monotonic() - started),
            console=live,
            refresh_per_second=8,
            transient=False,
        ) as view:
            read_at = time.monotonic()
            while document.get("status") not in TERMINAL_STATUSES:
                # The elapsed time moves every REDRAW_S; the instance is read when it changed.
                if changes.wait(REDRAW_S) or time.monotonic() - read_at >= SAFETY_READ_S:
                    document = fetch()
                    read_at = time.monotonic()
                view.update(progress_view(document, time.monotonic() - started))
        return document
    finally:
        changes.stop()


def step_counts(document: dict[str, Any]) -> Counter[str]:
    return Counter(str(step.get("status", "?")) for step in document.get("steps") or [])


def progress_view(document: dict[str, Any], waited_s: float) -> Group:
    counts = step_counts(document)
    total = sum(counts.values())
    header = Text.assemble(
        (f"{document.get('workflow_id')} ", "bold"),
        f"{document.get('instance_id')}  ",
        status_text(document.get("status")),
        f"  {counts.get('SUCCEEDED', 0)}/{total} succeeded",
        f", {counts['RUNNING']} running" if counts.get("RUNNING") else "",
        f", {counts['FAILED']} failed" if counts.get("FAILED") else "",
        f"  elapsed {format_duration(waited_s)}",
    )
    return Group(header, steps_table(document))


def steps_table(document: dict[str, Any], *, with_errors: bool = True) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("step", "status", "attempts", "started", "duration"):
        table.add_column(column, no_wrap=True)
    if with_errors:
        table.add_column("error", overflow="fold")
    for step in document.get("steps") or []:
        row = [
            Text(str(step.get("id", ""))),
            _step_status(step),
            Text(str(step.get("attempts", 0))),
            Text(local_time(step.get("started_at"))),
            Text(elapsed(step.get("started_at"), step.get("ended_at"))),
        ]
        if with_errors:
            row.append(Text(error_text(step.get("error")), style="red"))
        table.add_row(*row)
    return table


def _step_status(step: dict[str, Any]) -> Text:
    text = status_text(step.get("status"))
    iterations = step.get("iterations")
    if isinstance(iterations, dict) and iterations.get("total") is not None:
        done = iterations.get("succeeded", 0)
        failed = iterations.get("failed", 0)
        text.append(
            f" ({done}/{iterations['total']} ok" + (f", {failed} failed)" if failed else ")")
        )
    return text


def permit_lines(document: dict[str, Any]) -> list[str]:
    """Which permit each waiting step needs: ``load: needs a 'db' permit (2/2 in use, 1
    ahead)``."""
    lines = []
    for step in document.get("steps") or []:
        waiting = step.get("waiting_for")
        if isinstance(waiting, dict):
            limit = waiting.get("limit")
            use = f"{waiting.get('in_use', 0)}/{'no limit' if limit is None else limit} in use"
            lines.append(
                f"{step.get('id')}: needs a {waiting.get('tag')!r} permit "
                f"({use}, {waiting.get('ahead', 0)} ahead of it)"
            )
        for wait in step.get("waiting_for_signals") or []:
            match = wait.get("match") or {}
            shown = ", ".join(f"{k}={_json(v)}" for k, v in match.items())
            lines.append(
                f"{step.get('id')}: waits for signal {wait.get('name')!r}"
                + (f" with {shown}" if shown else "")
            )
    return ["", *lines] if lines else []


def final_line(document: dict[str, Any]) -> str:
    counts = step_counts(document)
    total = sum(counts.values())
    duration = elapsed(document.get("started_at"), document.get("ended_at"))
    return (
        f"{document.get('workflow_id')} {document.get('instance_id')}: {document.get('status')} "
        f"({counts.get('SUCCEEDED', 0)}/{total} steps succeeded, {duration})"
    )


def failure_lines(document: dict[str, Any]) -> list[str]:
    """One line per step that did not succeed, with the error kind and message."""
    lines: list[str] = []
    for step in document.get("steps") or []:
        error = step.get("error")
        if error or step.get("status") in ("FAILED", "TIMED_OUT", "COMPLETED_WITH_ERROR"):
            lines.append(f"step {step.get('id')} {step.get('status')}: {error_text(error) or '-'}")
            tail = (error or {}).get("log_tail") or ""
            lines.extend(f"  | {line}" for line in tail.splitlines()[-10:])
    instance_error = error_text(document.get("error"))
    if instance_error and not lines:
        lines.append(f"instance {document.get('status')}: {instance_error}")
    return lines


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
