"""The ``podium`` command: the group, its global options and error handling.

Commands live in ``commands_*`` modules; heavy imports (the definition loader, the runtime) happen
inside the commands that need them so that ``podium --help`` always works.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from podium.cli.client import DEFAULT_SERVER, CliError, ServerUnreachable
from podium.cli.commands_assets import COMMANDS as ASSET_COMMANDS
from podium.cli.commands_control import breakpoint, restart, resume, unblock
from podium.cli.commands_identity import COMMANDS as IDENTITY_COMMANDS
from podium.cli.commands_instances import instances, logs, run, status, stop
from podium.cli.commands_local import cron, validate
from podium.cli.commands_processes import api, server, worker
from podium.cli.commands_signals import signal, skip
from podium.cli.commands_tags import tag_limit
from podium.cli.commands_templates import templates
from podium.cli.commands_workflows import activate, deactivate, info, push
from podium.cli.context import CliContext
from podium.cli.output import error_document, print_error, print_json
from podium.errors import PodiumError

_ARGS_KEY = "podium.args"


class PodiumGroup(click.Group):
    """Turns the errors commands raise into ``error: …`` on stderr and the contract's exit codes;
    with ``--json``, also into one error document on stdout."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            details = getattr(exc, "details", None)
            if not isinstance(details, dict):
                details = {"problems": exc.problems} if exc.problems else {}
            self._fail(ctx, _cli_error_code(exc), exc.message, details, exc.problems)
            ctx.exit(exc.exit_code)
        except PodiumError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            problems = details.get("problems")
            self._fail(
                ctx,
                exc.code,
                exc.message,
                details,
                problems if isinstance(problems, list) else None,
            )
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            # Bad arguments: click prints them on stderr (exit 2); a --json caller also gets JSON.
            if _wants_json(self, ctx):
                print_json(error_document("invalid_input", exc.format_message(), {}))
            raise

    def _fail(
        self,
        ctx: click.Context,
        code: str,
        message: str,
        details: dict[str, Any],
        problems: list[dict[str, str]] | None,
    ) -> None:
        if _wants_json(self, ctx):
            print_json(error_document(code, message, details))
        print_error(message, problems)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's first sentence, whole (click cuts it to the width), wrapped."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _cli_error_code(exc: CliError) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str):  # an ApiError's, the server's own
        return code
    if isinstance(exc, ServerUnreachable):
        return "server_unreachable"
    return "invalid_input" if exc.exit_code == 2 else "failed"


def _wants_json(group: click.Group, ctx: click.Context) -> bool:
    """Whether the command line asks for --json of a command that has it."""
    args = ctx.meta.get(_ARGS_KEY) or []
    if "--" in args:
        args = args[: args.index("--")]
    if "--json" not in args or ctx.invoked_subcommand is None:
        return False
    return _has_json_option(group.get_command(ctx, ctx.invoked_subcommand))


def _has_json_option(command: click.Command | None) -> bool:
    if isinstance(command, click.Group):
        return any(_has_json_option(sub) for sub in command.commands.values())
    return command is not None and any(p.name == "as_json" for p in command.params)


@click.group(
    cls=PodiumGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
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
    *IDENTITY_COMMANDS,
    *ASSET_COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="podium")


if __name__ == "__main__":
    main()
