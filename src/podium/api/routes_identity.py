"""Identity: who am I, users and service accounts, API tokens, who may do what on a
workflow, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from podium.api.context import Context, Who, act
from podium.api.views import iso
from podium.control import grants, principals
from podium.control.access import authorize
from podium.errors import InvalidInput
from podium.store import audit as store_audit
from podium.store.principals import PrincipalRow, TokenRow

router = APIRouter(prefix="/api/v1", tags=["identity"])


def _principal_view(row: PrincipalRow, os_user: str | None = None) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "role": row.role,
        "groups": list(row.groups),
        "disabled": row.disabled,
        "os_user": os_user,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
    }


def _token_view(row: TokenRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "user": row.principal,
        "role": row.role,
        "workflows": list(row.workflows) if row.workflows is not None else None,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "last_used_at": iso(row.last_used_at),
    }


@router.get("/whoami", openapi_extra=act("token.own"))
def whoami(caller: Who) -> dict[str, Any]:
    """The identity this request was made with, and its roles."""
    return {
        "name": caller.name,
        "kind": caller.kind,
        "role": caller.role.label if caller.role is not None else None,
        "groups": list(caller.groups),
        "token_role": caller.cap.label if caller.cap is not None else None,
        "token_workflows": sorted(caller.workflows) if caller.workflows is not None else None,
        "via": caller.via,
    }


class UserBody(BaseModel):
    name: str = Field(max_length=128)
    kind: str = "user"
    role: str | None = "viewer"
    groups: list[str] = Field(default_factory=list, max_length=100)
    os_user: str | None = Field(default=None, max_length=32)


class UserChange(BaseModel):
    disabled: bool | None = None
    role: str | None = None
    groups: list[str] | None = Field(default=None, max_length=100)


class OsUserBody(BaseModel):
    os_user: str | None = Field(max_length=32)


@router.get("/users", openapi_extra=act("user.manage"))
def list_users(ctx: Context, caller: Who) -> dict[str, Any]:
    return {"users": [_principal_view(p, u) for p, u in principals.list_principals(ctx, caller)]}


@router.post("/users", status_code=201, openapi_extra=act("user.manage"))
def add_user(body: UserBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """A user or (``kind: service``) a service account, with a global role (or ``none``:
    only what workflows grant it)."""
    request = principals.NewPrincipal(body.name, body.kind, body.role, body.groups, body.os_user)
    return _principal_view(principals.add_principal(ctx, request, caller), body.os_user)


@router.patch("/users/{name}", openapi_extra=act("user.manage"))
def change_user(
    name: str, body: UserChange, ctx: Context, caller: Who, http: Request
) -> dict[str, Any]:
    """Disable (its tokens stop working at once) or enable a principal, change its role or
    its groups."""
    request = principals.PrincipalChange(name, body.disabled, body.role, body.groups)
    changed = principals.change_principal(ctx, request, caller)
    http.app.state.authenticator.forget()
    return _principal_view(changed)


@router.put("/users/{name}/os-user", openapi_extra=act("user.manage"))
def map_os_user(name: str, body: OsUserBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """The OS user the jobs of ``name`` (a principal or a group) run as when the worker
    runs as root; null removes the mapping (its jobs are then refused)."""
    principals.map_os_user(ctx, name, body.os_user, caller)
    return {"name": name, "os_user": body.os_user}


class TokenBody(BaseModel):
    name: str = Field(max_length=128)
    user: str | None = Field(default=None, max_length=128)
    role: str | None = None
    expires_days: float | None = Field(default=90, gt=0, le=principals.MAX_TOKEN_DAYS)
    workflows: list[str] | None = Field(default=None, max_length=1000)


@router.post("/tokens", status_code=201, openapi_extra=act("token.own"))
def create_token(body: TokenBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """A new API token, shown once: for yourself, or (an admin) for any principal. ``role``
    caps what it may do; ``workflows`` limits it to those."""
    request = principals.TokenRequest(
        body.name, body.user, body.role, body.expires_days, body.workflows
    )
    made = principals.create_token(ctx, request, caller)
    return {**_token_view(made.row), "token": made.token}


@router.get("/tokens", openapi_extra=act("token.own"))
def list_tokens(ctx: Context, caller: Who, user: str | None = None) -> dict[str, Any]:
    """Your tokens (never their secrets); an admin sees everyone's, or ``user``'s."""
    return {"tokens": [_token_view(t) for t in principals.list_tokens(ctx, caller, user)]}


@router.delete("/tokens/{name}", openapi_extra=act("token.own"))
def revoke_token(
    name: str, ctx: Context, caller: Who, http: Request, user: str | None = None
) -> dict[str, Any]:
    """Revoke one of your tokens (an admin: ``user``'s); it stops working at once."""
    principals.revoke_token(ctx, name, caller, user)
    http.app.state.authenticator.forget()
    return {"name": name, "user": user or caller.name, "revoked": True}


class AccessBody(BaseModel):
    grant: dict[str, str] = Field(default_factory=dict, max_length=1000)
    revoke: list[str] = Field(default_factory=list, max_length=1000)


def _access_view(view: grants.AccessView) -> dict[str, Any]:
    return {"workflow_id": view.workflow_id, "owner": view.owner, "grants": view.grants}


@router.get("/workflows/{workflow_id}/access", openapi_extra=act("workflow.read"))
def show_access(workflow_id: str, ctx: Context, caller: Who) -> dict[str, Any]:
    """The workflow's owner and the roles granted on it (by its definition or by hand)."""
    return _access_view(grants.change_access(ctx, grants.AccessChange(workflow_id), caller))


@router.post("/workflows/{workflow_id}/access", openapi_extra=act("workflow.access"))
def change_access(
    workflow_id: str, body: AccessBody, ctx: Context, caller: Who, http: Request
) -> dict[str, Any]:
    """Grant roles on the workflow (``{"bob": "operator"}``) and revoke grants made here."""
    request = grants.AccessChange(workflow_id, body.grant, body.revoke)
    changed = grants.change_access(ctx, request, caller)
    http.app.state.authenticator.forget_grants()  # a revoked grant stops working here at once
    return _access_view(changed)


def _epoch(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO-8601 time such as 2026-12-01T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (2026-12-01T00:00:00Z)")
    return parsed.timestamp()


@router.get("/audit", openapi_extra=act("audit.read"))
def audit_trail(
    ctx: Context,
    caller: Who,
    user: str | None = None,
    workflow: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Who changed what, newest first; an admin sees everything, a workflow's owner that
    workflow's (``workflow=``). ``before`` (an entry id) pages on."""
    start, end = _epoch(since, "since"), _epoch(until, "until")
    with ctx.db.read() as conn:
        if workflow is not None:
            authorize(conn, caller, "audit.read_workflow", workflow)
        else:
            authorize(conn, caller, "audit.read")
        rows = store_audit.list_audit(
            conn,
            actor=user,
            workflow_id=workflow,
            since=start,
            until=end,
            action=action,
            limit=limit,
            before_id=before,
        )
    return {
        "entries": [
            {
                "id": r.id,
                "at": iso(r.at),
                "user": r.actor,
                "action": r.action,
                "workflow_id": r.workflow_id,
                "target": r.target,
                "outcome": r.outcome,
                "detail": r.detail,
            }
            for r in rows
        ]
    }
