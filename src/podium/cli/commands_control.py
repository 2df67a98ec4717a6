"""Commands that steer a run: ``restart``, ``breakpoint``, ``resume``."""

from __future__ import annotations

import click

from podium.cli.client import quote_segment
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import print_json, stdout_console
from podium.cli.params import parse_params


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@click.option("--from", "from_step", metavar="STEP", help="Rerun STEP and everything downstream.")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a param of the run (repeatable).",
)
@json_option
@server_option
def restart(
    workflow_id: str,
    instance_id: str,
    from_step: str | None,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Restart an ended instance: rerun what did not succeed (or --from STEP and all
    downstream of it), keeping what succeeded with its outputs. A new run of the same
    instance; its history is kept."""
    result = current_client().restart_instance(
        workflow_id, instance_id, from_step, parse_params(params)
    )
    if as_json:
        print_json(result)
        return
    rerun = ", ".join(result.get("rerun") or [])
    click.echo(f"{workflow_id} {instance_id}: run {result.get('run')} started; rerunning {rerun}")


@click.group()
def breakpoint() -> None:
    """Pause a step before it runs (every future instance, or one with --instance)."""


@breakpoint.command("set")
@click.argument("workflow_id", metavar="WF")
@click.argument("step_id", metavar="STEP")
@click.option("--instance", "instance_id", type=int, help="Only this instance.")
@json_option
@server_option
def set_breakpoint(workflow_id: str, step_id: str, instance_id: int | None, as_json: bool) -> None:
    """Pause STEP before it runs; its params are resolved and shown while it waits."""
    result = current_client().set_breakpoint(workflow_id, step_id, instance_id)
    if as_json:
        print_json(result)
        return
    where = f"instance {instance_id}" if instance_id else "every new instance"
    click.echo(f"breakpoint on {workflow_id}.{step_id} ({where})")


@breakpoint.command("clear")
@click.argument("workflow_id", metavar="WF")
@click.argument("step_id", metavar="STEP")
@click.option("--instance", "instance_id", type=int, help="The breakpoint of this instance.")
@json_option
@server_option
def clear_breakpoint(
    workflow_id: str, step_id: str, instance_id: int | None, as_json: bool
) -> None:
    """Remove a breakpoint; steps already paused stay paused until resumed."""
    result = current_client().clear_breakpoint(workflow_id, step_id, instance_id)
    if as_json:
        print_json(result)
        return
    if result.get("removed"):
        click.echo(f"breakpoint on {workflow_id}.{step_id} cleared")
    else:
        click.echo(f"no such breakpoint on {workflow_id}.{step_id}")


@breakpoint.command("list")
@click.argument("workflow_id", metavar="WF")
@json_option
@server_option
def list_breakpoints(workflow_id: str, as_json: bool) -> None:
    """The breakpoints of WF."""
    result = current_client().list_breakpoints(workflow_id)
    if as_json:
        print_json(result)
        return
    console = stdout_console()
    for bp in result.get("breakpoints") or []:
        where = f"instance {bp['instance_id']}" if bp.get("instance_id") else "every instance"
        console.print(f"{bp['step_id']}  ({where})", markup=False)


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@click.argument("step_id", metavar="STEP")
@json_option
@server_option
def resume(workflow_id: str, instance_id: str, step_id: str, as_json: bool) -> None:
    """Let a step paused at a breakpoint run."""
    result = current_client().resume_step(workflow_id, instance_id, step_id)
    if as_json:
        print_json(result)
        return
    click.echo(f"{workflow_id} {instance_id}: {step_id} resumed")


@click.command()
@click.argument("workflow_id", metavar="WF")
@json_option
@server_option
def unblock(workflow_id: str, as_json: bool) -> None:
    """Let a strict_sequential workflow go on after a failed instance: the instances queued
    behind it start (the failure stays as it is)."""
    result = current_client().post(f"/workflows/{quote_segment(workflow_id)}/unblock")
    if as_json:
        print_json(result)
        return
    click.echo(f"{workflow_id}: unblocked (failed instances up to {result['unblocked_through']})")
