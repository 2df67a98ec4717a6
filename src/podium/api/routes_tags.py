"""Tag limits: cap the steps carrying a tag that run at once, across all workflows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context, ServerReader, Who, act
from podium.api.views import iso
from podium.control import tags as control
from podium.errors import NotFound
from podium.store import permits

router = APIRouter(prefix="/api/v1/tags", tags=["tags"])


class LimitBody(BaseModel):
    limit: int | None = Field(
        description="How many steps carrying the tag may run at once; null removes the limit",
        ge=0,
    )


def _json(view: permits.TagView) -> dict[str, Any]:
    document = view.to_json()
    for key in ("holders", "waiters"):
        for ref in document[key]:
            ref["since"] = iso(ref["since"])
    return document


@router.get("", openapi_extra=act("server.read"))
def list_tags(ctx: Context, _: ServerReader) -> dict[str, Any]:
    """Every known tag (pushed in a workflow or given a limit), its limit and use."""
    with ctx.db.read() as conn:
        views = permits.tag_views(conn)
    return {"tags": [_json(v) for v in views]}


@router.get("/{tag}", openapi_extra=act("server.read"))
def show_tag(tag: str, ctx: Context, _: ServerReader) -> dict[str, Any]:
    """One tag: its limit, the steps holding its permits and those waiting, in line order."""
    with ctx.db.read() as conn:
        views = permits.tag_views(conn, control.checked_tag(tag))
    if not views:
        raise NotFound(f"no tag {tag!r}: no pushed step carries it and it has no limit")
    return _json(views[0])


@router.put("/{tag}", openapi_extra=act("tag.limit"))
def set_limit(tag: str, body: LimitBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """Set a tag's limit (null: no limit). Steps waiting for it start at once if it rose;
    if it fell below the steps running, they finish and no new one starts until there is
    room."""
    return _json(control.set_limit(ctx, control.LimitRequest(tag, body.limit), caller))
