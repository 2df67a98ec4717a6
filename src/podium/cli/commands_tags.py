"""``podium tag-limit``: cap, across all workflows, the steps carrying a tag that run at once."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from podium.cli.client import CliError, quote_segment
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import local_time, print_json, stdout_console


def _limit(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise CliError(
            f"bad limit {value!r}: give a whole number of steps, 0 or more "
            "(0 lets none start; --clear removes the limit)",
            exit_code=2,
        )
    return number


@click.command("tag-limit")
@click.argument("tag", required=False)
@click.argument("limit", metavar="[N]", required=False)
@click.option("--clear", is_flag=True, help="Remove TAG's limit: its steps run freely.")
@json_option
@server_option
def tag_limit(tag: str | None, limit: str | None, clear: bool, as_json: bool) -> None:
    """Cap the steps carrying TAG that run at once, across all workflows: podium tag-limit
    TAG N. Steps over the limit wait (WAITING_FOR_PERMITS) and start first come first
    served. With TAG alone: its limit, the steps holding it and those waiting. With no
    argument: every tag, its limit and its use."""
    client = current_client()
    if clear and (tag is None or limit is not None):
        raise CliError("--clear takes a TAG and no N: podium tag-limit TAG --clear", exit_code=2)
    if tag is None:
        document = client.get("/tags")
        if as_json:
            print_json(document)
        else:
            _print_tags(document.get("tags") or [])
        return
    path = f"/tags/{quote_segment(tag)}"
    if limit is not None or clear:
        document = client.put(path, {"limit": None if clear else _limit(limit)})
    else:
        document = client.get(path)
    if as_json:
        print_json(document)
        return
    _print_tag(document)


def _limit_text(limit: int | None) -> str:
    return "no limit" if limit is None else str(limit)


def _print_tags(tags: list[dict[str, Any]]) -> None:
    console = stdout_console()
    if not tags:
        console.print("no tags yet: steps carry them with `tags: [...]`", markup=False)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("tag", "limit", "running", "waiting", "holders"):
        table.add_column(column, no_wrap=column != "holders", overflow="fold")
    for view in tags:
        holders = ", ".join(_where(h) for h in view.get("holders") or [])
        table.add_row(
            Text(str(view["tag"])),
            Text(_limit_text(view.get("limit"))),
            Text(str(view.get("in_use", 0))),
            Text(str(view.get("waiting", 0))),
            Text(holders),
        )
    console.print(table)


def _where(ref: dict[str, Any]) -> str:
    return f"{ref['workflow_id']} {ref['instance_id']} {ref['step_id']}"


def _print_tag(view: dict[str, Any]) -> None:
    console = stdout_console()
    console.print(
        f"{view['tag']}: limit {_limit_text(view.get('limit'))}, "
        f"{view.get('in_use', 0)} running, {view.get('waiting', 0)} waiting",
        markup=False,
    )
    for title, refs in (("running", view.get("holders")), ("waiting", view.get("waiters"))):
        if refs:
            console.print(f"{title}:", markup=False)
            for ref in refs:
                console.print(
                    f"  {_where(ref)}  since {local_time(ref.get('since'))}", markup=False
                )
