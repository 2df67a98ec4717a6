"""What every command shares: the server address and one lazily opened API client."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from podium.cli.client import PodiumClient


@dataclass
class CliContext:
    server: str
    _client: PodiumClient | None = field(default=None, repr=False)

    @property
    def client(self) -> PodiumClient:
        if self._client is None:
            self._client = PodiumClient(self.server)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def current_client() -> PodiumClient:
    ctx = click.get_current_context()
    obj = ctx.find_object(CliContext)
    if obj is None:  # only when a command is invoked outside the group, as in unit tests
        obj = CliContext(server="http://127.0.0.1:8080")
        ctx.obj = obj
        ctx.call_on_close(obj.close)
    return obj.client


def _set_server(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    obj = ctx.find_object(CliContext)
    if obj is not None:
        obj.close()
        obj.server = value
    else:
        ctx.obj = CliContext(server=value)


server_option = click.option(
    "--server",
    metavar="URL",
    expose_value=False,
    is_eager=True,
    callback=_set_server,
    help="The Podium server (overrides the global --server and PODIUM_SERVER).",
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else."
)
