"""``-p NAME=VALUE``: VALUE is JSON when it parses as JSON, else a plain string."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from podium.cli.client import CliError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep:
        raise CliError(f"bad parameter {text!r}: write it as NAME=VALUE", exit_code=2)
    if not _NAME.match(name):
        raise CliError(
            f"bad parameter {text!r}: the name {name!r} must be an identifier "
            "(letters, digits, _; not starting with a digit)",
            exit_code=2,
        )
    try:
        value: Any = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        value = raw
    return name, value


def _reject_constant(token: str) -> Any:
    """NaN and Infinity are not JSON: such a VALUE stays a string."""
    raise ValueError(token)


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, value = parse_param(item)
        if name in params:
            raise CliError(f"parameter {name!r} is given twice", exit_code=2)
        params[name] = value
    return params
