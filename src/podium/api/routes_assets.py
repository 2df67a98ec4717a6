"""Assets: store one (the raw file as the body), list them, remove one, re-wrap them all under
the primary master key. No route returns an asset's content: only a job receives it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from podium.api.context import Context, Who, act
from podium.api.views import iso
from podium.control import assets as control
from podium.store.assets import AssetRow

router = APIRouter(prefix="/api/v1/assets", tags=["assets"])

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file, as it is (application/octet-stream)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def _json(view: AssetRow) -> dict[str, Any]:
    return {
        **view.as_json(),
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


@router.put("/{name}", openapi_extra={**act("asset.manage"), **_RAW_BODY})
def put_asset(
    name: str,
    caller: Who,  # before the body: a caller without a token is refused before it is read
    ctx: Context,
    content: RawBody,
    owner: Annotated[
        str | None,
        Query(description="Whose jobs may read it: you (default), or a group of yours"),
    ] = None,
) -> dict[str, Any]:
    """Store the body, sealed, as asset ``name`` (replacing one you own). Jobs of ``owner``
    (or of one of its groups) that list it in ``assets:`` find it in ``$PODIUM_ASSETS``."""
    stored = control.put_asset(ctx, name, content, caller, owner=owner)
    return {**_json(stored.asset), "created": stored.created}


@router.get("", openapi_extra=act("asset.list"))
def list_assets(ctx: Context, caller: Who) -> dict[str, Any]:
    """Every asset's name, owner, size, master key and times; never its content."""
    return {"assets": [_json(view) for view in control.list_assets(ctx, caller)]}


@router.delete("/{name}", openapi_extra=act("asset.manage"))
def delete_asset(name: str, ctx: Context, caller: Who) -> dict[str, Any]:
    """Remove an asset you own (an admin: any asset)."""
    return {**_json(control.delete_asset(ctx, name, caller)), "deleted": True}


@router.post("/rewrap", openapi_extra=act("asset.rewrap"))
def rewrap(ctx: Context, caller: Who) -> dict[str, Any]:
    """After a new master key was added: wrap every asset's data key under it, while jobs keep
    reading theirs. Older keys may be removed from the key file once this returns."""
    return control.rewrap_assets(ctx, caller).as_json()
