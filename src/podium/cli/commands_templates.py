"""``podium templates``: the job templates a server knows, and registering new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from podium.cli.client import CliError, quote_segment
from podium.cli.context import current_client, json_option, server_option
from podium.cli.output import print_json, stdout_console
from podium.errors import PodiumError


class TemplatesGroup(click.Group):
    """``podium templates NAME`` is ``podium templates show NAME``: a word that is not a
    subcommand names a template."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=TemplatesGroup, invoke_without_command=True)
@json_option
@server_option
@click.pass_context
def templates(ctx: click.Context, as_json: bool) -> None:
    """The job templates of the server: podium templates lists them and their parameters,
    podium templates NAME shows one (with its script), podium templates register FILE adds
    one or a new version of one. A step runs a template by naming it as its type."""
    if ctx.invoked_subcommand is not None:
        return
    document = current_client().get("/templates")
    if as_json:
        print_json(document)
        return
    _print_templates(document.get("templates") or [])


@templates.command("show")
@click.argument("name")
@json_option
@server_option
def show(name: str, as_json: bool) -> None:
    """One template: its parameters and its script."""
    document = current_client().get(f"/templates/{quote_segment(name)}")
    if as_json:
        print_json(document)
        return
    _print_template(document)


@templates.command("register")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@json_option
@server_option
def register(file: Path, as_json: bool) -> None:
    """Register the template described by FILE (a template.yaml, or a directory holding
    one), with the script it names (run.py by default). Registering a name again makes a
    new version: every job that starts afterwards runs it."""
    body = _read_template(file)
    document = current_client().post("/templates", body)
    if as_json:
        print_json(document)
        return
    click.echo(f"registered template {document['name']} version {document['version']}")


def _read_template(file: Path) -> dict[str, Any]:
    from podium.definition.templates import parameter_json, script_file_of, template_from_yaml

    declaration_file = file / "template.yaml" if file.is_dir() else file
    try:
        text = declaration_file.read_text(encoding="utf-8")
        script_path = declaration_file.parent / script_file_of(text)
        script = script_path.read_text(encoding="utf-8") if script_path.is_file() else None
        template = template_from_yaml(text, script, source="registered")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the template at {file}: {exc}", exit_code=2) from exc
    except PodiumError as exc:
        raise CliError(f"{declaration_file}: {exc.message}", exit_code=2) from exc
    return {
        "name": template.name,
        "description": template.description or None,
        "script": template.script,
        "parameters": {p.name: parameter_json(p) for p in template.parameters},
    }


def _source(view: dict[str, Any]) -> str:
    if view.get("source") == "registered":
        return f"registered v{view.get('version')}"
    return str(view.get("source") or "")


def _parameter_text(name: str, spec: dict[str, Any]) -> str:
    text = f"{name} ({spec.get('type', 'any')}"
    if spec.get("required"):
        text += ", required"
    elif "default" in spec:
        text += f", default {spec['default']!r}"
    return text + ")"


def _print_templates(views: list[dict[str, Any]]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("type", "source", "parameters", "description"):
        table.add_column(column, no_wrap=column in ("type", "source"), overflow="fold")
    for view in views:
        parameters = view.get("parameters") or {}
        table.add_row(
            Text(str(view["name"])),
            Text(_source(view)),
            Text(", ".join(_parameter_text(n, s) for n, s in parameters.items())),
            Text(str(view.get("description") or "")),
        )
    stdout_console().print(table)


def _print_template(view: dict[str, Any]) -> None:
    console = stdout_console()
    console.print(f"{view['name']} ({_source(view)})", markup=False)
    if view.get("description"):
        console.print(str(view["description"]), markup=False)
    console.print("parameters (give them in the step's params):", markup=False)
    for name, spec in (view.get("parameters") or {}).items():
        line = f"  {_parameter_text(name, spec)}"
        if spec.get("description"):
            line += f": {spec['description']}"
        console.print(line, markup=False)
    if view.get("script"):
        console.print("script:", markup=False)
        console.print(str(view["script"]), markup=False, highlight=False)
