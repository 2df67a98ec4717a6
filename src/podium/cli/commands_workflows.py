"""Commands about workflows and their versions: ``push``, ``activate``, ``deactivate``, ``info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from podium.cli.client import ApiError, CliError
from podium.cli.commands_local import FileCheck, check_file, definition_files, definition_paths
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import (
    elapsed,
    local_time,
    print_json,
    status_text,
    stdout_console,
)


@click.command()
@definition_paths
@click.option("--inactive", is_flag=True, help="Create the versions without activating them.")
@json_option
@server_option
def push(paths: tuple[Path, ...], inactive: bool, as_json: bool) -> None:
    """Push definition files as the next versions of their workflows.

    A directory stands for its .yaml and .yml files. Every file is checked first and nothing
    is pushed if one is invalid. Each new version becomes the active one unless --inactive.
    """
    from podium.definition.templates import OPEN_CATALOG

    # Templates registered on the server are known there only: it checks them.
    checks = [check_file(path, templates=OPEN_CATALOG) for path in definition_files(paths)]
    _refuse_invalid(checks)
    stored = _store_assets(checks)
    pushed = _push_checked(checks, active=not inactive)
    if as_json:
        single = len(paths) == 1 and not paths[0].is_dir()
        shown = [_with_file(p) for p in pushed]
        for shown_one, check in zip(shown, checks, strict=True):
            if check.warnings:
                shown_one["warnings"] = check.warnings
            if check.asset_files:
                shown_one["assets_stored"] = sorted({f.name for f in check.asset_files})
        print_json(shown[0] if single else {"workflows": shown})
        return
    for check in checks:
        check.echo_warnings()
    for line in stored:
        click.echo(line)
    for result in pushed:
        state = "active" if result.get("active") else "inactive"
        click.echo(f"pushed {result.get('workflow_id')} version {result.get('version')} ({state})")


class PushRefused(CliError):
    """The server refused a file: says why, and which files were pushed before it and which not."""

    def __init__(
        self, exc: CliError, file: str, pushed: list[dict[str, Any]], rest: list[str]
    ) -> None:
        problems = [_located(Path(file), p) for p in exc.problems]
        # With problems, the server's message repeats them: they are listed below instead.
        head = f"the server refused {file}" if isinstance(exc, ApiError) else f"{file} not pushed"
        message = head + ("" if problems else f": {exc.message}")
        if pushed:
            done = ", ".join(f"{p['workflow_id']} version {p['version']}" for p in pushed)
            message += f"; pushed before it: {done}"
        if rest:
            message += f"; not pushed: {', '.join(rest)}"
        super().__init__(message, exit_code=exc.exit_code, problems=problems)
        self.code = getattr(exc, "code", "failed")
        self.details = {
            "pushed": [_with_file(p) for p in pushed],
            "refused": file,
            "not_pushed": rest,
            "problems": problems,
        }


def _refuse_invalid(checks: list[FileCheck]) -> None:
    """Every file valid, and each workflow in one file only, or nothing is pushed."""
    problems = [_located(Path(c.file), p) for c in checks for p in c.problems]
    bad = {c.file for c in checks if c.problems}
    files_of: dict[str, list[str]] = {}
    for check in checks:
        if check.workflow_id is not None:
            files_of.setdefault(check.workflow_id, []).append(check.file)
    for workflow_id, files in files_of.items():
        if len(files) > 1:
            message = f"workflow {workflow_id!r} is also defined in {files[0]}"
            problems += [{"location": file, "message": message} for file in files[1:]]
            bad.update(files[1:])
    if not problems:
        return
    if len(checks) == 1:
        message = f"{checks[0].file} is not a valid workflow definition"
    else:
        verb = "has" if len(bad) == 1 else "have"
        message = f"{len(bad)} of {len(checks)} files {verb} problems; nothing was pushed"
    raise CliError(message, exit_code=2, problems=problems)


def _store_assets(checks: list[FileCheck]) -> list[str]:
    """Store the files the definitions ship as assets (``assets: [{name, file}]``) before any
    is pushed, each owned by its workflow's ``owner:`` (else the pusher) so its jobs read it."""
    from podium.cli.commands_assets import upload_asset

    wanted: dict[str, tuple[Path, str | None, str]] = {}
    for check in checks:
        for shipped in check.asset_files:
            where = f"{check.file}: {shipped.location}"
            owner = getattr(check.workflow, "owner", None)
            first = wanted.setdefault(shipped.name, (shipped.path, owner, where))
            if first[0].resolve() != shipped.path.resolve() or first[1] != owner:
                raise CliError(
                    f"asset {shipped.name!r} is shipped twice, differently, at {first[2]} and "
                    f"{where}: one name, one file and one owner; nothing was pushed",
                    exit_code=2,
                )
    client = current_client()
    said: list[str] = []
    done: list[str] = []
    for name, (path, owner, where) in wanted.items():
        try:
            stored = upload_asset(client, name, path, owner)
        except CliError as exc:
            before = f" (stored before it: {', '.join(done)})" if done else ""
            raise CliError(
                f"asset {name!r} ({where}) was not stored, so nothing was pushed{before}: "
                f"{exc.message}",
                exit_code=exc.exit_code,
            ) from exc
        said.append(f"stored asset {name} from {path} ({stored.get('size')} bytes)")
        done.append(name)
    return said


def _push_checked(checks: list[FileCheck], *, active: bool) -> list[dict[str, Any]]:
    from podium.definition import canonical_yaml

    client = current_client()
    pushed: list[dict[str, Any]] = []
    for index, check in enumerate(checks):
        try:
            result = client.push_workflow(canonical_yaml(check.workflow), active=active)
        except CliError as exc:
            if not pushed and not isinstance(exc, ApiError):
                raise  # the server is not there: nothing else to say
            rest = [c.file for c in checks[index + 1 :]]
            raise PushRefused(exc, check.file, pushed, rest) from exc
        pushed.append({**result, "file": check.file})
    return pushed


def _with_file(pushed: dict[str, Any]) -> dict[str, Any]:
    return {"file": pushed.get("file"), **{k: v for k, v in pushed.items() if k != "file"}}


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

    Also its next fire times, the starts its triggers could not make and why, and the link
    to the UI.
    """
    document = current_client().workflow_info(workflow_id)
    if as_json:
        print_json(document)
        return
    console = stdout_console()
    _print_summary(console, document)
    _print_trigger(console, document)
    _print_trigger_failures(console, document.get("trigger_failures") or [])
    instances = document.get("instances") or []
    if instances:
        console.print()
        console.print("[bold]last instances[/bold]")
        console.print(instances_table(instances))
    else:
        console.print()
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
        # Zone and catch-up belong to a cron schedule: without one they say nothing.
        parts = [
            f"{key}={value}"
            for key, value in trigger.items()
            if key != "signals" and value not in (None, "") and trigger.get("cron")
        ]
        if parts:
            console.print(f"trigger: {', '.join(parts)}", markup=False, soft_wrap=True)
        groups = trigger.get("signals") or []
        if groups:
            console.print("trigger: signals (a group starts a run when all its signals arrived)")
        for index, group in enumerate(groups):
            shown = " + ".join(_signal_text(spec) for spec in group)
            console.print(f"  signals[{index}]: {shown}", markup=False, soft_wrap=True)
    else:
        console.print(f"trigger: {trigger}", markup=False, soft_wrap=True)
    fire_times = document.get("next_fire_times") or []
    if fire_times:
        console.print(
            "next fire times: " + ", ".join(local_time(t) for t in fire_times), soft_wrap=True
        )


def _signal_text(spec: Any) -> str:
    """``partition_landed (table=db.users, partition>=20240101)``."""
    if not isinstance(spec, dict):
        return str(spec)
    conditions = []
    for key, wanted in (spec.get("match") or {}).items():
        tests = wanted.items() if isinstance(wanted, dict) else [("=", wanted)]
        conditions += [f"{key}{op}{_plain(value)}" for op, value in tests]
    name = str(spec.get("name"))
    return f"{name} ({', '.join(conditions)})" if conditions else name


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _print_trigger_failures(console: Console, failures: list[dict[str, Any]]) -> None:
    """The last starts each trigger could not make: when, which version, with what, why."""
    if not failures:
        return
    console.print()
    console.print("[bold]trigger failures (newest first)[/bold]")
    for failure in failures:
        context = [f"version {failure.get('version')}"]
        if failure.get("scheduled_at"):
            context.append(f"tick {local_time(failure['scheduled_at'])}")
        used = [f"{s.get('name')} #{s.get('seq')}" for s in failure.get("signals") or []]
        if used:
            context.append("from " + " + ".join(used))
        console.print(
            f"  {failure.get('trigger')} at {local_time(failure.get('at'))} "
            f"({', '.join(context)}): {failure.get('reason')}",
            markup=False,
            soft_wrap=True,
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
