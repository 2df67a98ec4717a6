"""Commands of the contract that later releases implement; listed now so ``--help`` is complete."""

from __future__ import annotations

import click

from podium.cli.client import CliError

LATER_COMMANDS: dict[str, str] = {
    "skip": "Skip a step that has not run yet; downstream treats it as SKIPPED.",
    "signal": "Announce a signal: podium signal NAME [-p NAME=VALUE]…",
}


def _later_command(name: str, summary: str) -> click.Command:
    def callback(args: tuple[str, ...]) -> None:
        raise CliError(f"podium {name}: not supported yet in this release", exit_code=2)

    return click.Command(
        name,
        callback=callback,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=f"{summary} (Not supported yet in this release.)",
        short_help="(not supported yet) "
        + summary.split(":")[0].split(",")[0].split(";")[0].rstrip("."),
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def register_later_commands(group: click.Group) -> None:
    for name, summary in LATER_COMMANDS.items():
        group.add_command(_later_command(name, summary))
