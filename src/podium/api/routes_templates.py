"""Job templates: list those this server knows, register a new one (or a new version)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, JsonValue

from podium.api.context import Context
from podium.api.views import iso
from podium.definition.problems import did_you_mean
from podium.errors import NotFound
from podium.templates import registry

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class TemplateBody(BaseModel):
    name: str
    description: str | None = None
    script: str
    parameters: dict[str, JsonValue] = Field(default_factory=dict)


class TemplateNotFound(NotFound):
    code = "template_not_found"


@router.post("", status_code=201)
def register(body: TemplateBody, request: Request, ctx: Context) -> dict[str, Any]:
    """Store the template as the next version of its name; jobs that start from now on
    run it."""
    now = ctx.clock()
    template = registry.register(
        ctx.db,
        name=body.name,
        description=body.description,
        parameters=body.parameters,
        script=body.script,
        created_by=request.headers.get("x-podium-user"),
        now=now,
    )
    return {**template.as_json(), "created_at": iso(now)}


@router.get("")
def list_templates(ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        found = registry.all_templates(conn)
    return {"templates": [t.as_json() for t in found.values()]}


@router.get("/{name}")
def show(name: str, ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        template = registry.find_template(conn, name)
        names = list(registry.all_templates(conn))
    if template is None:
        raise TemplateNotFound(
            f"no template {name!r} on this server{did_you_mean(name, names)}; "
            "podium templates lists them"
        )
    return template.as_json(with_script=True)
