"""Commands that run Podium itself: ``server``, ``api`` and ``worker``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from podium.cli.client import DEFAULT_SERVER
from podium.cli.context import CliContext

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

_host_option = click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Address the API listens on."
)
_port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port the API listens on.",
)


def _db_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db``, else ``PODIUM_DB_URL``; a password written on the command line is visible to
    every process of the machine (``ps``), jobs included: say so."""
    source = ctx.get_parameter_source(param.name or "db_url")
    if value and source is click.core.ParameterSource.COMMANDLINE and _has_password(value):
        click.echo(
            "podium: warning: the database password is on the command line, where `ps` shows "
            "it to every process of this machine (jobs included): set PODIUM_DB_URL instead",
            err=True,
        )
    return value


def _has_password(url: str) -> bool:
    credentials = url.partition("://")[2].partition("@")
    return bool(credentials[1]) and ":" in credentials[0]


def _db_option(*, required: bool, help: str) -> Callable[[Any], Any]:
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        envvar="PODIUM_DB_URL",
        show_envvar=True,
        required=required,
        callback=_db_url,
        help=help,
    )


@click.command()
@_db_option(
    required=False,
    help="Database URL; default an SQLite file under PODIUM_HOME (~/.podium). "
    "Use postgresql://… in production.",
)
@_host_option
@_port_option
@click.option(
    "--load",
    "load",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A workflow file or directory to push at start when it changed (repeatable).",
)
def server(db_url: str | None, host: str, port: int, load: tuple[Path, ...]) -> None:
    """Run the API, engine and triggers in one process."""
    from podium.processes import run_server

    run_server(db_url=db_url, host=host, port=port, load=load, on_ready=_ready_printer())


@click.command()
@_db_option(required=True, help="The shared database URL.")
@_host_option
@_port_option
def api(db_url: str, host: str, port: int) -> None:
    """Run only the API.

    Several API replicas and workers may share one PostgreSQL database.
    """
    from podium.processes import run_api

    run_api(db_url=db_url, host=host, port=port, on_ready=_ready_printer())


@click.command()
@_db_option(required=True, help="The shared database URL.")
@click.option(
    "--worker-id", metavar="ID", help="A stable name for this worker (default: generated)."
)
def worker(db_url: str, worker_id: str | None) -> None:
    """Run only the engine and the triggers.

    It keeps running while the API is down.
    """
    from podium.processes import run_worker

    run_worker(db_url=db_url, worker_id=worker_id)


def _ready_printer() -> Callable[[str], None]:
    """Prints one plain line on stdout once the server answers (the logs go to stderr)."""
    cli_server = _cli_server()
    return lambda url: click.echo(ready_line(url, cli_server=cli_server))


def ready_line(url: str, *, cli_server: str) -> str:
    """Where the server answers, its API docs, and how the CLI reaches it."""
    if cli_server.rstrip("/") == url:
        reach = (
            "PODIUM_SERVER already points the podium CLI here"
            if os.environ.get("PODIUM_SERVER")
            else "the podium CLI talks to it by default"
        )
    else:
        reach = f"point the podium CLI at it with: export PODIUM_SERVER={url}"
    return f"Podium is ready at {url} (API docs: {url}/docs); {reach}"


def _cli_server() -> str:
    """The server ``podium`` commands of this environment talk to (global --server or env)."""
    context = click.get_current_context(silent=True)
    obj = context.find_object(CliContext) if context is not None else None
    return obj.server if obj is not None else os.environ.get("PODIUM_SERVER") or DEFAULT_SERVER
