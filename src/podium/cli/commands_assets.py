"""``podium asset``: files stored sealed that jobs receive in ``$PODIUM_ASSETS``; and
``podium keys``: the master keys that seal them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from podium.cli.client import CliError, PodiumClient, quote_segment
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import local_time, print_json, stdout_console


def _echo(text: str) -> None:
    stdout_console().print(text, markup=False, highlight=False)


def read_asset_file(name: str, path: Path) -> bytes:
    """The bytes of ``path``, refused before any upload when they cannot be an asset."""
    from podium.definition.assets import asset_name_problem, asset_size_problem

    problem = asset_name_problem(name)
    if problem is not None:
        raise CliError(problem, exit_code=2)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", exit_code=2) from None
    problem = asset_size_problem(name, size)
    if problem is not None:
        raise CliError(problem, exit_code=2)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", exit_code=2) from None


def upload_asset(
    client: PodiumClient, name: str, path: Path, owner: str | None = None
) -> dict[str, Any]:
    return client.put_asset(name, read_asset_file(name, path), owner=owner)


@click.group()
def asset() -> None:
    """Files jobs receive while they run (keys, certificates, configs), stored encrypted: a
    step lists them in assets: and finds them in $PODIUM_ASSETS. Their content is never shown."""


@asset.command("put")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--owner",
    metavar="NAME",
    help="Whose jobs may read it: you (default), or a group of yours (others: an admin).",
)
@json_option
@server_option
def put(name: str, file: Path, owner: str | None, as_json: bool) -> None:
    """Store FILE, encrypted, as the asset NAME (replacing one you own). Jobs that run as its
    owner, or as a member of the group that owns it, and list NAME in assets: read it at
    $PODIUM_ASSETS/NAME."""
    document = upload_asset(current_client(), name, file, owner)
    if as_json:
        print_json(document)
        return
    verb = "stored" if document.get("created") else "replaced"
    _echo(
        f"{verb} asset {document['name']} ({document['size']} bytes, owner {document['owner']}, "
        f"key {document['key_id']})"
    )


@asset.command("list")
@json_option
@server_option
def list_(as_json: bool) -> None:
    """Every asset: its owner, size, the master key it is sealed under, and when it changed."""
    document = current_client().get("/assets")
    if as_json:
        print_json(document)
        return
    assets = document.get("assets") or []
    if not assets:
        _echo("no assets yet: podium asset put NAME FILE stores one")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("name", "owner", "size", "key", "updated", "by"):
        table.add_column(column, no_wrap=True)
    for row in assets:
        table.add_row(
            Text(str(row["name"])),
            Text(str(row["owner"])),
            Text(str(row["size"])),
            Text(str(row["key_id"])),
            Text(local_time(row.get("updated_at"))),
            Text(str(row.get("created_by") or "")),
        )
    stdout_console().print(table)


@asset.command("rm")
@click.argument("name")
@json_option
@server_option
def rm(name: str, as_json: bool) -> None:
    """Remove the asset NAME (yours; an admin: any). Steps that list it fail from then on."""
    document = current_client().delete(f"/assets/{quote_segment(name)}")
    if as_json:
        print_json(document)
        return
    _echo(f"removed asset {document.get('name', name)}")


@asset.command("rewrap")
@json_option
@server_option
def rewrap(as_json: bool) -> None:
    """After podium keys add: wrap every asset's key, and every run's sealed secret params,
    under the new master key (an admin).
    Jobs keep reading their assets meanwhile; older keys may go once it is done."""
    document = current_client().post("/assets/rewrap")
    if as_json:
        print_json(document)
        return
    _echo(
        f"re-wrapped {document['rewrapped']} of {document['total']} assets and "
        f"{document.get('params_rewrapped', 0)} sealed secret params; all are under "
        f"master key {document['primary_key_id']}"
    )


@click.group()
def keys() -> None:
    """The master keys that seal assets, on this machine (no server needed)."""


@keys.command("add")
@click.option(
    "--file",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key file (default: PODIUM_MASTER_KEY_FILE, else PODIUM_HOME/master.key).",
)
@json_option
def keys_add(key_file: Path | None, as_json: bool) -> None:
    """Append a fresh master key to the key file (created 0600): it seals from now on, in
    running servers too. Keep the older keys until podium asset rewrap has run."""
    from podium.config import podium_home
    from podium.vault import add_key
    from podium.vault.keyring import DEFAULT_KEY_FILE_NAME, ENV_KEY_FILE, ENV_KEYS

    if key_file is None:
        if os.environ.get(ENV_KEYS) is not None:
            raise CliError(
                f"{ENV_KEYS} holds the keys here, not a file: put a new ID:BASE64URL first in "
                f"it (keep the others after it), or pass --file",
                exit_code=2,
            )
        named = os.environ.get(ENV_KEY_FILE)
        key_file = Path(named).expanduser() if named else podium_home() / DEFAULT_KEY_FILE_NAME
    key_id = add_key(key_file)
    if as_json:
        print_json({"key_id": key_id, "file": str(key_file)})
        return
    _echo(
        f"added master key {key_id} to {key_file}; it seals new assets from now on. Workers "
        "on other machines need it too (they only open assets: give it to them first); then "
        "re-wrap the older assets: podium asset rewrap"
    )


COMMANDS = (asset, keys)
