"""Commands that need no server: ``validate`` and ``cron``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from podium.cli.client import CliError
from podium.cli.context import json_option
from podium.cli.output import format_problem, print_json, stdout_console
from podium.errors import PodiumError

PYTHON_DSL_MESSAGE = "Python DSL files are not supported yet"


class UnreadableFile(CliError):
    """A definition file that cannot be read as text; ``reason`` says why, without the path."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}", exit_code=2)
        self.reason = reason


@dataclass
class FileCheck:
    """The result of loading one definition file locally."""

    file: str
    workflow_id: str | None = None
    step_count: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    """Valid but dangerous: scripts that paste a value as code (``${ raw(…) }``)."""
    workflow: Any = field(default=None, repr=False)
    asset_files: list[Any] = field(default_factory=list, repr=False)
    """The ``AssetFile`` s its steps ship (``assets: [{name, file}]``): push stores them first."""

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "valid": self.valid,
            "workflow_id": self.workflow_id,
            "problems": self.problems,
            "warnings": self.warnings,
        }

    def echo_warnings(self) -> None:
        for warning in self.warnings:
            click.echo(f"{self.file}: warning: {format_problem(warning)}", err=True)


def load_definition_file(path: Path, *, templates: Any = None) -> Any:
    """Load a YAML definition the way the server will see it (``file:`` scripts inlined,
    asset files replaced by their names).

    Template steps are checked against ``templates`` (a ``TemplateCatalog``; default: the
    templates shipped with Podium). Raises :class:`podium.errors.PodiumError`
    (``InvalidDefinition`` carries ``problems``).
    """
    from podium.definition import load_workflow

    text = read_definition_file(path)
    return load_workflow(text, source=str(path), base_dir=path.parent, templates=templates)


def read_definition_file(path: Path) -> str:
    """The text of a definition file, or UnreadableFile saying why not."""
    if path.suffix == ".py":
        raise CliError(PYTHON_DSL_MESSAGE, exit_code=2)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        reason = (
            f"not a UTF-8 text file: byte {byte:#04x} at offset {exc.start}; "
            "a workflow definition is a YAML text file"
        )
        raise UnreadableFile(path, reason) from None
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read: {exc.strerror or exc}") from exc
    return text


def definition_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the ``.yaml``/``.yml`` files directly inside the directories named."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            raise CliError(f"{path} is a directory without .yaml or .yml files", exit_code=2)
        files.extend(found)
    return files


def check_file(path: Path, *, templates: Any = None) -> FileCheck:
    """Load ``path`` locally; its problems, or the loaded workflow (``templates`` as for
    :func:`load_definition_file`)."""
    check = FileCheck(file=str(path))
    try:
        workflow = load_definition_file(path, templates=templates)
    except CliError as exc:
        message = exc.reason if isinstance(exc, UnreadableFile) else exc.message
        check.problems = [{"location": "", "message": message}]
        return check
    except PodiumError as exc:
        problems = getattr(exc, "problems", None) or [{"location": "", "message": exc.message}]
        check.problems = [dict(p) for p in problems]
        return check
    from podium.definition.assets import shipped_asset_files
    from podium.definition.expressions import script_warnings

    check.workflow = workflow
    check.warnings = [w.as_dict() for w in script_warnings(workflow)]
    check.workflow_id = str(workflow.id)
    check.step_count = len(getattr(workflow, "steps", ()) or ())
    check.asset_files = shipped_asset_files(read_definition_file(path), path.parent)
    return check


definition_paths = click.argument(
    "paths",
    metavar="FILE_OR_DIR...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
)
"""``FILE_OR_DIR...``: definition files, a directory standing for its .yaml and .yml files."""


@click.command()
@definition_paths
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files locally.

    A directory stands for its .yaml and .yml files. Needs no server; prints every problem
    with its location and exits 2 if there is any.
    """
    checks = [check_file(path) for path in definition_files(paths)]
    if as_json:
        print_json({"files": [check.as_json() for check in checks]})
    else:
        for check in checks:
            if check.valid:
                steps = "step" if check.step_count == 1 else "steps"
                click.echo(
                    f"{check.file}: ok (workflow {check.workflow_id}, {check.step_count} {steps})"
                )
            for problem in check.problems:
                click.echo(f"{check.file}: {format_problem(problem)}", err=True)
            check.echo_warnings()
    if any(not check.valid for check in checks):
        raise click.exceptions.Exit(2)


def _parse_after(value: str | None, timezone: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(
            f"bad --after {value!r}: give an ISO-8601 time such as 2026-03-01T12:00:00+01:00",
            exit_code=2,
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed


@click.command()
@click.argument("expr")
@click.option("--timezone", "timezone", default="UTC", show_default=True, help="IANA zone name.")
@click.option("--after", metavar="ISO-TIME", help="Start after this time (default: now).")
@click.option(
    "--count", type=click.IntRange(1, 1000), default=5, show_default=True, help="How many."
)
@json_option
def cron(expr: str, timezone: str, after: str | None, count: int, as_json: bool) -> None:
    """The next fire times of a cron expression.

    Shown in --timezone and in UTC; needs no server.
    """
    from podium.timing.cron import check_cron, check_timezone, next_fire_times

    problem = check_cron(expr)
    if problem:
        raise CliError(problem, exit_code=2)
    problem = check_timezone(timezone)
    if problem:
        raise CliError(problem, exit_code=2)
    times = next_fire_times(expr, timezone, after=_parse_after(after, timezone), count=count)
    if as_json:
        print_json(
            {
                "fire_times": [
                    {"local": t.isoformat(), "utc": t.astimezone(UTC).isoformat()} for t in times
                ]
            }
        )
        return
    table = Table(box=None, pad_edge=False)
    table.add_column(f"local ({timezone})")
    table.add_column("UTC")
    for t in times:
        table.add_row(
            t.strftime("%Y-%m-%d %H:%M:%S %a %Z (%z)"),
            t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
    stdout_console().print(table)
