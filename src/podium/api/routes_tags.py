"""Tag limits: cap the steps carrying a tag that run at once, across all workflows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context
from podium.api.views import iso
from podium.definition.fields import tag_problem
from podium.errors import InvalidInput, NotFound
from podium.store import permits, queue

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


def _checked(tag: str) -> str:
    problem = tag_problem(tag)
    if problem is not None:
        raise InvalidInput(problem)
    return tag


@router.get("")
def list_tags(ctx: Context) -> dict[str, Any]:
    """Every known tag (pushed in a workflow or given a limit), its limit and use."""
    with ctx.db.read() as conn:
        views = permits.tag_views(conn)
    return {"tags": [_json(v) for v in views]}


@router.get("/{tag}")
def show_tag(tag: str, ctx: Context) -> dict[str, Any]:
    """One tag: its limit, the steps holding its permits and those waiting, in line order."""
    with ctx.db.read() as conn:
        views = permits.tag_views(conn, _checked(tag))
    if not views:
        raise NotFound(f"no tag {tag!r}: no pushed step carries it and it has no limit")
    return _json(views[0])


@router.put("/{tag}")
def set_limit(tag: str, body: LimitBody, ctx: Context) -> dict[str, Any]:
    """Set a tag's limit (null: no limit). Steps waiting for it start at once if it rose;
    if it fell below the steps running, they finish and no new one starts until there is
    room."""
    now = ctx.clock()
    with ctx.db.transaction() as conn:
        granted = permits.set_limit(conn, _checked(tag), body.limit, now)
        queue.add_work(
            conn,
            [
                {"kind": "permit", "instance_pk": pk, "step_id": step_id, "due_at": now}
                for pk, step_id in granted
            ],
        )
        view = permits.tag_views(conn, tag)[0]
    if granted:
        ctx.on_work()
    return _json(view)
