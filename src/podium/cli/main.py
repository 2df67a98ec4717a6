"""The ``podium`` command: the group, its global options and error handling.

Commands live in ``commands_*`` modules; heavy imports (the definition loader, the runtime) happen
inside the commands that need them so that ``podium --help`` always works.
"""

from __future__ import annotations

from typing import Any

import click

from podium.cli.client import DEFAULT_SERVER, CliError
from podium.cli.commands_control import breakpoint, restart, resume, unblock
from podium.cli.commands_instances import instances, logs, run, status, stop
from podium.cli.commands_local import cron, validate
from podium.cli.commands_processes import api, server, worker
from podium.cli.commands_signals import signal, skip
from podium.cli.commands_tags import tag_limit
from podium.cli.commands_templates import templates
from podium.cli.commands_workflows import activate, deactivate, info, push
from podium.cli.context import CliContext
from podium.cli.output import print_error
from podium.errors import PodiumError


class PodiumGroup(click.Group):
    """Turns the errors commands raise into ``error: …`` on stderr and the contract's exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            print_error(exc.message, exc.problems)
            ctx.exit(exc.exit_code)
        except PodiumError as exc:
            problems = exc.details.get("problems") if isinstance(exc.details, dict) else None
            print_error(exc.message, problems if isinstance(problems, list) else None)
            ctx.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=PodiumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="PODIUM_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    metavar="URL",
    help="The Podium server to talk to (env PODIUM_SERVER).",
)
@click.version_option(package_name="podium", prog_name="podium")
@click.pass_context
def cli(ctx: click.Context, server: str) -> None:
    """Podium: define workflows in YAML, push them, run them and follow them."""
    ctx.obj = CliContext(server=server)
    ctx.call_on_close(ctx.obj.close)


for _command in (
    server,
    api,
    worker,
    validate,
    push,
    run,
    activate,
    deactivate,
    info,
    instances,
    status,
    logs,
    stop,
    cron,
    restart,
    breakpoint,
    resume,
    unblock,
    tag_limit,
    templates,
    signal,
    skip,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="podium")


if __name__ == "__main__":
    main()
