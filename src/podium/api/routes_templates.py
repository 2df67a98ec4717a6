"""Job templates: list those this server knows, register a new one (or a new version)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, JsonValue

from podium.api.context import Context, ServerReader, Who, act
from podium.api.views import iso
from podium.control import templates as control
from podium.definition.problems import did_you_mean
from podium.errors import NotFound
from podium.job_templates import registry

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class TemplateBody(BaseModel):
    name: str
    description: str | None = None
    script: str
    parameters: dict[str, JsonValue] = Field(default_factory=dict)


class TemplateNotFound(NotFound):
    code = "template_not_found"


@router.post("", status_code=201, openapi_extra=act("template.register"))
def register(body: TemplateBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """Store the template as the next version of its name; jobs that start from now on
    run it."""
    now = ctx.clock()
    request = control.RegisterRequest(body.name, body.script, body.description, body.parameters)
    template = control.register(ctx, request, caller, now=now)
    return {**template.as_json(), "created_at": iso(now)}


@router.get("", openapi_extra=act("server.read"))
def list_templates(ctx: Context, _: ServerReader) -> dict[str, Any]:
    with ctx.db.read() as conn:
        found = registry.all_templates(conn)
    return {"templates": [t.as_json() for t in found.values()]}


@router.get("/{name}", openapi_extra=act("server.read"))
def show(name: str, ctx: Context, _: ServerReader) -> dict[str, Any]:
    with ctx.db.read() as conn:
        template = registry.find_template(conn, name)
        names = list(registry.all_templates(conn))
    if template is None:
        raise TemplateNotFound(
            f"no template {name!r} on this server{did_you_mean(name, names)}; "
            "podium templates lists them"
        )
    return template.as_json(with_script=True)
