"""The templates a server knows: those shipped with Podium and those registered on it.

A registered template shadows a shipped one of the same name, and a template is looked up
when a job starts, not when a workflow is pushed: registering a fix changes every job that
starts afterwards, in every workflow that uses the template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podium.definition.params import type_problem
from podium.definition.templates import (
    JobTemplate,
    TemplateCatalog,
    build_template,
    parameter_json,
    shipped_templates,
)
from podium.expr import ExprError
from podium.store import Connection
from podium.store import templates as store_templates
from podium.store.database import Database


def registered_template(row: store_templates.TemplateRow) -> JobTemplate:
    return build_template(
        row.name,
        row.description,
        row.parameters,
        row.script,
        source="registered",
        version=row.version,
    )


def all_templates(conn: Connection) -> dict[str, JobTemplate]:
    """Every template by name, a registered one in place of a shipped one of its name."""
    found = dict(shipped_templates())
    for row in store_templates.latest_templates(conn):
        found[row.name] = registered_template(row)
    return dict(sorted(found.items()))


def server_catalog(db: Database) -> TemplateCatalog:
    """What a push to this server is checked against."""
    with db.read() as conn:
        return TemplateCatalog(all_templates(conn), complete=True, where="on this server")


def find_template(conn: Connection, name: str) -> JobTemplate | None:
    """The template a job of type ``name`` runs now: the latest registered, else shipped."""
    row = store_templates.latest_template(conn, name)
    if row is not None:
        return registered_template(row)
    return shipped_templates().get(name)


def register(
    db: Database,
    *,
    name: Any,
    description: Any,
    parameters: Any,
    script: Any,
    created_by: str | None,
    now: float,
    before: Callable[[Connection], None] = lambda _conn: None,
) -> JobTemplate:
    """Check a template and store it as the next version of its name; ``before`` runs
    first in the same transaction (authorization and audit)."""
    template = build_template(name, description, parameters, script, source="registered")
    declared = {p.name: parameter_json(p) for p in template.parameters}
    with db.transaction() as conn:
        before(conn)
        version = store_templates.register_template(
            conn,
            name=template.name,
            description=template.description or None,
            parameters=declared,
            script=template.script,
            created_by=created_by,
            now=now,
        )
    return JobTemplate(
        template.name,
        template.description,
        template.parameters,
        template.script,
        source="registered",
        version=version,
    )


def template_job(
    conn: Connection, name: str, given: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """The params and script of a job of template ``name`` whose step gave ``given``
    (resolved): the declared defaults, then the given values, checked against the template
    as it is now. ``ExprError`` (a user error, not retried) says what does not fit."""
    template = find_template(conn, name)
    if template is None:
        raise ExprError(
            f"template {name!r} is neither shipped with Podium nor registered on this server; "
            "register it (podium templates register) and restart the step"
        )
    problems: list[str] = []
    values: dict[str, Any] = {}
    for decl in template.parameters:
        if decl.name in given:
            value = given[decl.name]
            wrong = type_problem(decl, value) if value is not None else None
            if wrong is not None:
                problems.append(wrong.replace("param ", "parameter ", 1))
            values[decl.name] = value
        elif decl.required:
            problems.append(f"the required parameter {decl.name!r} is missing")
        elif decl.default is not None:
            values[decl.name] = decl.default
    unknown = sorted(set(given) - {d.name for d in template.parameters})
    if unknown:
        problems.append(f"no parameter {', '.join(repr(u) for u in unknown)} any more")
    if problems:
        version = f" (version {template.version})" if template.version is not None else ""
        raise ExprError(f"template {name!r}{version}: " + "; ".join(problems))
    return values, template.script
