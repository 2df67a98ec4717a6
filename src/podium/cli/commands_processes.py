"""Commands that run Podium itself: ``server``, ``api`` and ``worker``."""

from __future__ import annotations

from pathlib import Path

import click

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


@click.command()
@click.option(
    "--db",
    "db_url",
    metavar="URL",
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
    from podium.runtime import run_server

    run_server(db_url=db_url, host=host, port=port, load=load)


@click.command()
@click.option("--db", "db_url", metavar="URL", required=True, help="The shared database URL.")
@_host_option
@_port_option
def api(db_url: str, host: str, port: int) -> None:
    """Run only the API.

    Several API replicas and workers may share one PostgreSQL database.
    """
    from podium.runtime import run_api

    run_api(db_url=db_url, host=host, port=port)


@click.command()
@click.option("--db", "db_url", metavar="URL", required=True, help="The shared database URL.")
@click.option(
    "--worker-id", metavar="ID", help="A stable name for this worker (default: generated)."
)
def worker(db_url: str, worker_id: str | None) -> None:
    """Run only the engine and the triggers.

    It keeps running while the API is down.
    """
    from podium.runtime import run_worker

    run_worker(db_url=db_url, worker_id=worker_id)
