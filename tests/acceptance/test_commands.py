"""The command surface: help lists the contract, errors exit 1."""

from __future__ import annotations

from .conftest import Cli

CONTRACT_COMMANDS = [
    "server", "api", "worker", "validate", "push", "run", "activate", "deactivate", "info",
    "instances", "status", "logs", "stop", "restart", "skip", "unblock", "signal",
    "breakpoint", "resume", "tag-limit", "cron",
]  # fmt: skip


def test_help_lists_every_command_of_the_contract(cli: Cli) -> None:
    result = cli("--help")

    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert set(CONTRACT_COMMANDS) <= listed


def test_unreachable_server_exits_1_with_a_hint(cli: Cli) -> None:
    result = cli("info", "anything")

    assert result.returncode == 1
    assert f"cannot reach the Podium server at {cli.server}" in result.stderr
    assert "podium server" in result.stderr
    assert result.stdout == ""


def test_server_option_after_the_command(cli: Cli) -> None:
    result = cli("instances", "anything", "--server", cli.server, "--json")

    assert result.returncode == 1
    assert cli.server in result.stderr
