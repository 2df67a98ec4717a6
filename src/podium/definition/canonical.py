"""The one text a workflow version is stored as, and the JSON the engine reads.

Canonical rule: keys in model field order, spelled as in the DSL (``if``, not ``if_``), and
every value equal to its default left out, whether the user wrote it or not (so
``retries: {limit: 0}`` disappears, and ``timezone: UTC`` too). Two definitions that mean the
same thing therefore store the same text, and ``canonical_yaml`` is a fixed point:
loading its output and writing it again gives the same text.
"""

from __future__ import annotations

from typing import Any

import yaml

from podium.definition.model import Workflow


class _CanonicalDumper(yaml.SafeDumper):
    """Safe dumper with indented lists and multi-line text as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_OTHER_LINE_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when a literal block cannot hold the
    # text exactly (trailing spaces, control characters), but it mangles the rarer line
    # breaks in single quotes, so those always get double quotes and escapes.
    style: str | None = None
    if any(brk in value for brk in _OTHER_LINE_BREAKS):
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CanonicalDumper.add_representer(str, _represent_str)


def canonical_yaml(wf: Workflow) -> str:
    """The canonical YAML text of ``wf`` (see the module docstring for the rule)."""
    data = wf.model_dump(by_alias=True, exclude_defaults=True)
    return yaml.dump(
        data,
        Dumper=_CanonicalDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def definition_json(wf: Workflow) -> dict[str, Any]:
    """Every field, defaults included, as JSON-ready data keyed as in the DSL."""
    return wf.model_dump(mode="json", by_alias=True)
