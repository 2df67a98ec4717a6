"""Commands about instances: ``run``, ``instances``, ``status`` (and its timeline), ``logs``,
``stop``."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from podium.cli.client import CliError, PodiumClient
from podium.cli.commands_workflows import instances_table
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import (
    elapsed,
    error_text,
    format_duration,
    is_stdout_terminal,
    local_time,
    parse_time,
    print_json,
    status_text,
    stdout_console,
)
from podium.cli.params import parse_params
from podium.cli.watch import (
    POLL_INTERVAL_S,
    failure_lines,
    final_line,
    permit_lines,
    steps_table,
    wait_for_end,
)

TIMELINE_PAGE = 1000
LOG_TAIL_LINES = 10


@dataclass(frozen=True)
class LogAddress:
    """Which log ``podium logs`` reads: a step path and the iterations of its foreach steps."""

    workflow_id: str
    instance_id: str
    step: str
    iterations: tuple[int, ...] = ()


def parse_version(value: str | None) -> int | str | None:
    if value is None:
        return None
    if value in ("active", "latest"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise CliError(
        f"bad --version {value!r}: give a version number, 'active' or 'latest'", exit_code=2
    )


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.option("--version", metavar="V", help="A version number, 'active' (default) or 'latest'.")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter; VALUE is JSON when valid JSON, else a string (repeatable).",
)
@click.option("--wait", is_flag=True, help="Follow the instance; exit 0 only if it SUCCEEDED.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the resolved params of the run and of every step whose inputs are known; run nothing.",
)
@json_option
@server_option
def run(
    workflow_id: str,
    version: str | None,
    params: tuple[str, ...],
    wait: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Start an instance of WF and print its id."""
    parsed_params = parse_params(params)
    client = current_client()
    if dry_run:
        print_dry_run(client.dry_run(workflow_id, parse_version(version), parsed_params), as_json)
        return
    started = client.start_instance(workflow_id, parse_version(version), parsed_params)
    instance_id = str(started.get("instance_id"))
    if not wait:
        if as_json:
            print_json(started)
        else:
            click.echo(instance_id)
        return
    live = stdout_console() if is_stdout_terminal() and not as_json else None
    if live is None and not as_json:
        click.echo(instance_id)
    try:
        final = wait_for_end(
            lambda: client.instance(workflow_id, instance_id),
            follow=functools.partial(client.follow_events, workflow_id, instance_id),
            live=live,
        )
    except KeyboardInterrupt:
        click.echo(
            f"stopped following {instance_id}; it keeps running "
            f"(`podium stop {workflow_id} {instance_id}` stops it)",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    if as_json:
        print_json(final)
    else:
        click.echo(final_line(final))
        for line in failure_lines(final) if final.get("status") != "SUCCEEDED" else []:
            click.echo(line)
    if final.get("status") != "SUCCEEDED":
        raise click.exceptions.Exit(1)


def print_dry_run(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(document)
        return
    out = stdout_console()
    out.print(f"dry run of {document['workflow_id']} version {document['version']}", markup=False)
    out.print("params:", markup=False)
    for name, value in (document.get("params") or {}).items():
        out.print(f"  {name} = {json.dumps(value)}", markup=False, soft_wrap=True)
    for step in document.get("steps") or []:
        out.print(f"step {step['id']} ({step['type']}):", markup=False)
        if "error" in step:
            out.print(f"  error: {step['error']}", markup=False, soft_wrap=True)
        elif "waits_for_outputs_of" in step:
            waits = ", ".join(step["waits_for_outputs_of"])
            out.print(f"  known when these have run: {waits}", markup=False)
        else:
            for name, value in (step.get("params") or {}).items():
                out.print(f"  {name} = {json.dumps(value)}", markup=False, soft_wrap=True)
            if step.get("script") is not None:
                out.print("  script:", markup=False)
                for line in str(step["script"]).splitlines():
                    out.print(f"    {line}", markup=False, soft_wrap=True)


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@server_option
def instances(workflow_id: str, limit: int, as_json: bool) -> None:
    """List the instances of WF, newest first."""
    found = current_client().list_instances(workflow_id, limit=limit)
    if as_json:
        print_json({"instances": found})
        return
    if not found:
        click.echo(f"{workflow_id}: no instances yet")
        return
    stdout_console().print(instances_table(found))


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@click.option(
    "--timeline",
    "with_timeline",
    is_flag=True,
    help="Also show what happened, event by event (statuses, attempts, retries, milestones).",
)
@click.option(
    "--step",
    "step_id",
    metavar="STEP",
    help="With --iteration, that iteration of foreach STEP (outer[2].inner when nested); "
    "else only STEP's events (implies --timeline).",
)
@click.option("--iteration", type=click.IntRange(min=0), help="An iteration of the foreach --step.")
@json_option
@server_option
def status(
    workflow_id: str,
    instance_id: str,
    with_timeline: bool,
    step_id: str | None,
    iteration: int | None,
    as_json: bool,
) -> None:
    """Show an instance and its steps (or one iteration of a foreach step)."""
    client = current_client()
    if iteration is not None:
        if step_id is None:
            raise CliError("--iteration needs --step, the foreach step", exit_code=2)
        document = client.iteration(workflow_id, instance_id, step_id, iteration)
        if as_json:
            print_json(document)
        else:
            stdout_console().print(f"iteration {iteration} of {step_id}:", markup=False)
            print_status(document, workflow_id, instance_id)
        return
    document = client.instance(workflow_id, instance_id)
    events = None
    if with_timeline or step_id is not None:
        events = fetch_timeline(client, workflow_id, instance_id, step_id)
    if as_json:
        print_json(document if events is None else {**document, "timeline": events})
        return
    print_status(document, workflow_id, instance_id)
    if events is not None:
        console = stdout_console()
        console.print()
        console.print(timeline_table(events) if events else "no events yet", markup=False)


def print_status(document: dict[str, Any], workflow_id: str, instance_id: str) -> None:
    console = stdout_console()
    header = status_text(document.get("status"))
    header.append(
        f"  version {document.get('version')}  created {local_time(document.get('created_at'))}"
        f"  started {local_time(document.get('started_at'))}"
        f"  duration {elapsed(document.get('started_at'), document.get('ended_at'))}"
    )
    console.print(
        Text.assemble(
            (str(document.get("workflow_id", workflow_id)), "bold"),
            f" {document.get('instance_id', instance_id)}",
        )
    )
    console.print(header)
    if document.get("params"):
        console.print(f"params: {_compact(document['params'])}", markup=False, soft_wrap=True)
    if document.get("error"):
        console.print(f"error: {error_text(document['error'])}", markup=False, soft_wrap=True)
    console.print()
    console.print(steps_table(document))
    lines = permit_lines(document) + step_value_lines(document) + artifact_lines(document)
    for line in lines + log_tail_lines(document):
        console.print(line, markup=False, soft_wrap=True)


def log_tail_lines(document: dict[str, Any]) -> list[str]:
    """The last lines of each failed step's log, so most failures need no `podium logs`."""
    lines: list[str] = []
    for step in document.get("steps") or []:
        error = step.get("error")
        tail = str(error.get("log_tail") or "") if isinstance(error, dict) else ""
        if not tail:
            continue
        attempt = f" (attempt {error['attempt']})" if error.get("attempt") else ""
        lines.append(f"{step.get('id')}: last lines of its log{attempt}:")
        lines.extend(f"  | {line}" for line in tail.splitlines()[-LOG_TAIL_LINES:])
    return ["", *lines] if lines else []


def fetch_timeline(
    client: PodiumClient, workflow_id: str, instance_id: str, step_id: str | None
) -> list[dict[str, Any]]:
    """Every event, page after page."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.instance_timeline(
            workflow_id, instance_id, step_id=step_id, after=after, limit=TIMELINE_PAGE
        )
        batch: list[dict[str, Any]] = page.get("events") or []
        events.extend(batch)
        if len(batch) < TIMELINE_PAGE:
            return events
        after = int(batch[-1]["id"])


def timeline_table(events: list[dict[str, Any]]) -> Table:
    """The events under their stamps: when the engine decided each change (its transaction
    began), which clients could see once that transaction committed (docs/decisions.md)."""
    table = Table(box=None, pad_edge=False, caption=TIMELINE_CAPTION, caption_justify="left")
    for column in ("decided", "step", "event"):
        table.add_column(column, no_wrap=True)
    table.add_column("what", overflow="fold")
    for event in events:
        table.add_row(
            Text(local_time(event.get("at"))),
            Text(str(event.get("step_id") or "-")),
            Text(str(event.get("event", ""))),
            Text(describe_event(event)),
        )
    return table


TIMELINE_CAPTION = (
    "decided: when the engine made the change; it is visible once its transaction commits, "
    "later for a long cascade of steps"
)


def describe_event(event: dict[str, Any]) -> str:
    """A short human sentence for a timeline event, from its detail."""
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    name = event.get("event")
    if name == "step.retry":
        return _describe_retry(event, detail)
    if name == "step.milestone":
        return f"milestone: {detail.get('text', '')}"
    parts: list[str] = []
    if detail.get("status"):
        parts.append(str(detail["status"]))
    if detail.get("attempt") is not None:
        parts.append(f"(attempt {detail['attempt']})")
    if detail.get("tag"):
        parts.append(f"(for a {detail['tag']!r} permit)")
    if isinstance(detail.get("error"), dict):
        parts.append(error_text(detail["error"]))
    text = " ".join(parts)
    for key in ("reason", "text", "message"):
        if detail.get(key):
            text = f"{text}: {detail[key]}" if text else str(detail[key])
    if not text and detail:
        text = _compact(detail)
    return text


def _describe_retry(event: dict[str, Any], detail: dict[str, Any]) -> str:
    at = parse_time(event.get("at"))
    retry_at = detail.get("retry_at")
    when = "retry"
    if at is not None and isinstance(retry_at, int | float):
        when = f"retry in {_short_delay(retry_at - at.timestamp())}"
    kind = detail.get("kind")
    text = f"{when} after a {kind} error" if kind else f"{when} after a failure"
    if detail.get("attempt") is not None:
        text += f" in attempt {detail['attempt']}"
    error = detail.get("error")
    reason = detail.get("reason") or detail.get("message")
    if not reason and isinstance(error, dict):
        reason = error.get("message")
    return f"{text}: {reason}" if reason else text


def _short_delay(seconds: float) -> str:
    seconds = max(seconds, 0.0)  # the ISO time of the event loses a little precision
    rounded = round(seconds)
    if seconds < 60 and abs(seconds - rounded) < 0.05:
        return f"{rounded}s"
    return format_duration(seconds)


def step_value_lines(document: dict[str, Any]) -> list[str]:
    """Each step's resolved params (those that differ from the run's) and its outputs."""
    run_params = document.get("params") or {}
    lines: list[str] = []
    for step in document.get("steps") or []:
        own = {k: v for k, v in (step.get("params") or {}).items() if run_params.get(k, ...) != v}
        outputs = step.get("outputs") or {}
        if not own and not outputs:
            continue
        lines.append(f"{step.get('id')}:")
        if own:
            lines.append(f"  params: {_compact(own)}")
        if outputs:
            lines.append(f"  outputs: {_compact(outputs)}")
    return ["", *lines] if lines else []


def artifact_lines(document: dict[str, Any]) -> list[str]:
    """The files each step's latest attempt kept in ``PODIUM_ARTIFACTS``."""
    lines = [
        f"{step.get('id')}: artifacts {', '.join(step['artifacts'])}"
        for step in document.get("steps") or []
        if step.get("artifacts")
    ]
    return ["", *lines] if lines else []


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str)


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@json_option
@server_option
def stop(workflow_id: str, instance_id: str, as_json: bool) -> None:
    """Stop an instance.

    Running jobs are killed; the instance ends STOPPED.
    """
    result = current_client().stop_instance(workflow_id, instance_id)
    if as_json:
        print_json(result)
        return
    click.echo(f"stop requested for {workflow_id} {instance_id} (status {result.get('status')})")


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@click.argument("step_id", metavar="STEP")
@click.option(
    "--iteration",
    "iterations",
    type=click.IntRange(min=0),
    multiple=True,
    metavar="N",
    help="The iteration of each foreach on the STEP path, in order (repeatable): "
    "`load.aggregate --iteration 2` is step aggregate of iteration 2 of foreach load.",
)
@click.option("--attempt", type=click.IntRange(min=1), help="The attempt (default: the last).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the attempt has ended.")
@json_option
@server_option
def logs(
    workflow_id: str,
    instance_id: str,
    step_id: str,
    iterations: tuple[int, ...],
    attempt: int | None,
    follow: bool,
    as_json: bool,
) -> None:
    """Print a step's log as it arrives.

    STEP is a step id, or a path to a step inside a foreach (FOREACH.STEP with --iteration N,
    or FOREACH[N].STEP) or inside a subworkflow (SUBWORKFLOW.STEP), as in `podium status`.
    """
    client = current_client()
    chunks: list[str] = []
    emit = chunks.append if as_json else _write_stdout
    address = LogAddress(workflow_id, instance_id, step_id, iterations)
    last = _stream_logs(client, address, attempt, follow, emit)
    if last.get("attempt") is None and not last.get("complete"):
        waiting = last.get("waiting") or f"step {step_id!r} has not started yet"
        raise CliError(f"{waiting}: no log yet; add --follow to wait for it", exit_code=1)
    if as_json:
        print_json(
            {
                "workflow_id": workflow_id,
                "instance_id": _as_int(instance_id),
                "step_id": step_id,
                "step": last.get("step", step_id),
                "iterations": list(iterations),
                "attempt": last.get("attempt"),
                "text": "".join(chunks),
                "next_offset": last.get("next_offset"),
                "complete": last.get("complete"),
            }
        )


def _as_int(instance_id: str) -> int | str:
    return int(instance_id) if instance_id.isdigit() else instance_id


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _stream_logs(
    client: PodiumClient,
    address: LogAddress,
    attempt: int | None,
    follow: bool,
    emit: Callable[[str], None],
) -> dict[str, Any]:
    """Read the log page by page from offset 0; with ``follow``, poll until it is complete."""
    offset = 0
    while True:
        page = client.step_logs(
            address.workflow_id,
            address.instance_id,
            address.step,
            offset=offset,
            attempt=attempt,
            iterations=address.iterations,
        )
        text = str(page.get("text") or "")
        if text:
            emit(text)
        if attempt is None and page.get("attempt") is not None:
            attempt = int(page["attempt"])
        next_offset = int(page.get("next_offset", offset + len(text.encode())))
        advanced = next_offset > offset
        offset = next_offset
        if page.get("complete"):
            return page
        if not advanced:
            if not follow:
                return page
            time.sleep(POLL_INTERVAL_S)
