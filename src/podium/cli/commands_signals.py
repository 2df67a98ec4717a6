"""``podium signal`` (announce one) and ``podium skip`` (skip a step that waits)."""

from __future__ import annotations

import click

from podium.cli.client import quote_segment
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import print_json
from podium.cli.params import parse_params


@click.command()
@click.argument("name")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A param of the signal (repeatable); VALUE is read as JSON when it can be.",
)
@click.option(
    "--request-id",
    metavar="ID",
    help="Announcing again with the same ID does nothing a second time (safe retries).",
)
@json_option
@server_option
def signal(name: str, params: tuple[str, ...], request_id: str | None, as_json: bool) -> None:
    """Announce a signal: it starts the workflows whose signal trigger it completes and lets
    the steps waiting for it run.

    A workflow it could not start (its params did not resolve) is named, with the reason.
    """
    body: dict[str, object] = {"name": name, "params": parse_params(params)}
    if request_id is not None:
        body["request_id"] = request_id
    result = current_client().post("/signals", body)
    if as_json:
        print_json(result)
        return
    if result.get("duplicate"):
        click.echo(f"signal {name} #{result['seq']} was already announced (request id)")
        return
    started = ", ".join(f"{s['workflow_id']} {s['instance_id']}" for s in result["started"])
    line = f"signal {name} #{result['seq']} announced"
    if started:
        line += f"; started {started}"
    if result.get("released"):
        line += f"; {result['released']} waiting step(s) released"
    click.echo(line)
    for failed in result.get("failed") or []:
        click.echo(
            f"could not start {failed.get('workflow_id')} (trigger {failed.get('trigger')}): "
            f"{failed.get('reason')}"
        )


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.argument("instance_id", metavar="INSTANCE")
@click.argument("step_id", metavar="STEP")
@json_option
@server_option
def skip(workflow_id: str, instance_id: str, step_id: str, as_json: bool) -> None:
    """Skip a step that has not run yet and waits (for signals, a permit, a slot or a
    resume): it ends SKIPPED and downstream treats it as skipped."""
    path = (
        f"/workflows/{quote_segment(workflow_id)}/instances/{quote_segment(instance_id)}"
        f"/steps/{quote_segment(step_id)}/skip"
    )
    result = current_client().post(path)
    if as_json:
        print_json(result)
        return
    click.echo(f"{workflow_id} {instance_id}: {step_id} skipped")
