"""Declared parameters: ``{type: int, default: 3, required: false, description: …}``.

A param whose value is a mapping of only these keys, with ``type``, ``required`` or ``secret``
among them, is a declaration; any other value (a plain dict included) is the param's value.
A workflow param declared ``secret: true`` is given at run time, stored sealed and never
shown (see :mod:`podium.vault.params`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.definition.problems import did_you_mean

DECLARATION_KEYS = frozenset({"type", "default", "required", "description", "secret"})
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "any": (object,),
}


@dataclass(frozen=True)
class Declaration:
    name: str
    type: str = "any"
    default: Any = None
    required: bool = False
    description: str | None = None
    secret: bool = False


def is_declaration(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= DECLARATION_KEYS
        and ("type" in value or "required" in value or "secret" in value)
    )


def secret_names(params: Mapping[str, Any]) -> frozenset[str]:
    """The params of a workflow declared ``secret: true``."""
    return frozenset(
        name for name, value in params.items() if is_declaration(value) and value.get("secret")
    )


def declaration(name: str, value: Mapping[str, Any]) -> Declaration:
    return Declaration(
        name=name,
        type=str(value.get("type", "any")),
        default=value.get("default"),
        required=bool(value.get("required", False)),
        description=value.get("description"),
        secret=value.get("secret") is True,
    )


def type_problem(decl: Declaration, value: Any) -> str | None:
    """Why ``value`` does not fit the declaration, or None."""
    allowed = TYPES.get(decl.type, (object,))
    numeric = decl.type in ("int", "float")
    if isinstance(value, allowed) and not (numeric and isinstance(value, bool)):
        return None
    if decl.secret:  # the value is a secret: its type may be named, never its text
        return f"param {decl.name!r} must be of type {decl.type}, not {type(value).__name__}"
    return (
        f"param {decl.name!r} must be of type {decl.type}, not {type(value).__name__} ({value!r})"
    )


def declaration_problems(name: str, value: Mapping[str, Any]) -> list[str]:
    """What is wrong with a declaration itself (checked at push)."""
    decl = declaration(name, value)
    problems = []
    if decl.type not in TYPES:
        problems.append(f"unknown type {decl.type!r}: use one of {', '.join(TYPES)}")
    elif "default" in value and decl.default is not None:
        wrong = type_problem(decl, decl.default)
        if wrong and not (isinstance(decl.default, str) and "${" in decl.default):
            problems.append(f"default: {wrong}")
    if "required" in value and not isinstance(value["required"], bool):
        problems.append("required must be true or false")
    if decl.required and "default" in value:
        problems.append("a required param has no default: drop one of them")
    if "secret" in value and not isinstance(value["secret"], bool):
        problems.append("secret must be true or false")
    if decl.secret and "default" in value:
        problems.append(
            "a secret param has no default: a definition is stored and shown as written; "
            "pass the value when the run starts (-p NAME=VALUE), or ship the file as an asset"
        )
    return problems


def undeclared_problem(name: str, known: Sequence[str]) -> str:
    """Why a value given for ``name`` is refused: the workflow's ``params`` do not name it,
    so no expression of the workflow can read it (push refuses unknown names), and a
    misspelt ``-p`` would otherwise run with the default in silence."""
    if not known:
        return (
            f"param {name!r} is not declared: this workflow declares no params "
            "(declare it under params: to pass it)"
        )
    return (
        f"param {name!r} is not declared{did_you_mean(name, known)}; "
        f"the workflow declares {', '.join(known)}"
    )
