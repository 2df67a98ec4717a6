"""Commands about workflows and their versions: ``push``, ``activate``, ``deactivate``, ``info``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from podium.cli.client import CliError
from podium.cli.commands_local import load_definition_file
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import (
    elapsed,
    local_time,
    print_json,
    status_text,
    stdout_console,
)
from podium.errors import PodiumError


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--inactive", is_flag=True, help="Create the version without activating it.")
@json_option
@server_option
def push(file: Path, inactive: bool, as_json: bool) -> None:
    """Push FILE as the next version of its workflow.

    The new version becomes the active one unless --inactive is given.
    """
    from podium.definition import canonical_yaml
    from podium.definition.templates import OPEN_CATALOG

    try:
        # Templates registered on the server are known there only: it checks them.
        workflow = load_definition_file(file, templates=OPEN_CATALOG)
    except PodiumError as exc:
        problems = getattr(exc, "problems", None) or exc.details.get("problems")
        raise CliError(
            f"{file} is not a valid workflow definition",
            exit_code=2,
            problems=[_located(file, p) for p in problems or []],
        ) from exc
    pushed = current_client().push_workflow(canonical_yaml(workflow), active=not inactive)
    if as_json:
        print_json(pushed)
        return
    state = "active" if pushed.get("active") else "inactive"
    click.echo(f"pushed {pushed.get('workflow_id')} version {pushed.get('version')} ({state})")


def _located(file: Path, problem: dict[str, str]) -> dict[str, str]:
    location = str(problem.get("location") or "")
    return {
        "location": f"{file}: {location}" if location else str(file),
        "message": str(problem.get("message", "")),
    }


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.option("--version", type=click.IntRange(min=1), help="The version (default: the latest).")
@json_option
@server_option
def activate(workflow_id: str, version: int | None, as_json: bool) -> None:
    """Choose the active version (default the latest).

    Activating an older version is the rollback.
    """
    result = current_client().activate(workflow_id, version)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"{result.get('workflow_id', workflow_id)}: active version {result.get('active_version')} "
        f"(latest {result.get('latest_version')})"
    )


@click.command()
@click.argument("workflow_id", metavar="WF")
@json_option
@server_option
def deactivate(workflow_id: str, as_json: bool) -> None:
    """Turn a workflow off.

    It keeps its versions but has no active one: no trigger fires for it.
    """
    result = current_client().deactivate(workflow_id)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"{result.get('workflow_id', workflow_id)}: deactivated "
        f"(latest version {result.get('latest_version')})"
    )


@click.command()
@click.argument("workflow_id", metavar="WF")
@json_option
@server_option
def info(workflow_id: str, as_json: bool) -> None:
    """Show a workflow: versions, trigger, last instances.

    Also its next fire times and the link to the UI.
    """
    document = current_client().workflow_info(workflow_id)
    if as_json:
        print_json(document)
        return
    console = stdout_console()
    _print_summary(console, document)
    _print_trigger(console, document)
    instances = document.get("instances") or []
    if instances:
        console.print()
        console.print("[bold]last instances[/bold]")
        console.print(instances_table(instances))
    else:
        console.print("no instances yet")
    queued = document.get("queued") or []
    if queued:
        console.print()
        strategy = document.get("run_strategy") or "parallel"
        console.print(f"[bold]queued ({strategy})[/bold]")
        for item in queued:
            why = item.get("waiting") or "waiting for its turn"
            console.print(f"  {item['instance_id']}: {why}", markup=False, soft_wrap=True)
    if document.get("ui_url"):
        console.print()
        console.print(f"ui: {document['ui_url']}", soft_wrap=True, markup=False)


def _print_summary(console: Console, document: dict[str, Any]) -> None:
    status = str(document.get("status") or "-")
    console.print(
        Text.assemble(
            (str(document.get("workflow_id")), "bold"),
            "  ",
            (status, "green" if status == "active" else "yellow"),
        ),
        soft_wrap=True,
    )
    if document.get("description"):
        console.print(str(document["description"]).strip(), soft_wrap=True, markup=False)
    active = document.get("active_version")
    console.print(
        f"active version: {active if active is not None else '-'}    "
        f"latest version: {document.get('latest_version', '-')}"
    )
    if document.get("owner"):
        console.print(f"owner: {document['owner']}", markup=False)


def _print_trigger(console: Console, document: dict[str, Any]) -> None:
    trigger = document.get("trigger")
    if not trigger:
        console.print("trigger: none (runs only when asked)")
        return
    if isinstance(trigger, dict):
        parts = [f"{key}={value}" for key, value in trigger.items() if value not in (None, "")]
        console.print(f"trigger: {', '.join(parts)}", markup=False, soft_wrap=True)
    else:
        console.print(f"trigger: {trigger}", markup=False, soft_wrap=True)
    fire_times = document.get("next_fire_times") or []
    if fire_times:
        console.print(
            "next fire times: " + ", ".join(local_time(t) for t in fire_times), soft_wrap=True
        )


def instances_table(instances: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("instance", "version", "status", "created", "started", "duration"):
        table.add_column(column)
    for item in instances:
        table.add_row(
            Text(str(item.get("instance_id", ""))),
            Text(str(item.get("version", ""))),
            status_text(item.get("status")),
            Text(local_time(item.get("created_at"))),
            Text(local_time(item.get("started_at"))),
            Text(elapsed(item.get("started_at"), item.get("ended_at"))),
        )
    return table
