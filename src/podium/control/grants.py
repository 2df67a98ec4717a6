"""Per-workflow roles: who may read, run or change a workflow beyond its owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.control.access import audit, authorize
from podium.control.identity import Caller, Role
from podium.control.principals import checked_name
from podium.control.services import Services
from podium.errors import InvalidInput, NotFound
from podium.store import access as store_access
from podium.store import workflows as store_workflows


@dataclass(frozen=True)
class AccessChange:
    workflow_id: str
    grant: dict[str, str] = field(default_factory=dict)
    revoke: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AccessView:
    workflow_id: str
    owner: str | None
    grants: list[dict[str, Any]]


def change_access(svc: Services, request: AccessChange, caller: Caller) -> AccessView:
    """Grant roles (viewer, operator, owner) on a workflow, or revoke those granted here;
    the grants of a definition's ``access:`` change with the next push."""
    grants = {
        checked_name(n, "a user or group name"): Role.parse(r, allow_admin=False).label
        for n, r in request.grant.items()
    }
    revoked = [checked_name(n, "a user or group name") for n in request.revoke]
    now = svc.clock()
    with svc.db.transaction() as conn:
        if grants or revoked:
            authorize(conn, caller, "workflow.access", request.workflow_id)
        else:
            authorize(conn, caller, "workflow.read", request.workflow_id)
        wf = store_workflows.get_workflow(conn, request.workflow_id)
        for name, role in grants.items():
            store_access.grant(conn, wf.workflow_id, name, role, by=caller.name, now=now)
        for name in revoked:
            if not store_access.revoke(conn, wf.workflow_id, name):
                rows = [r for r in store_access.list_access(conn, wf.workflow_id) if r.name == name]
                if rows:
                    raise InvalidInput(
                        f"{name}'s role on {wf.workflow_id!r} comes from the definition's access:; "
                        "push a version without it"
                    )
                raise NotFound(f"{name} holds no role granted on {wf.workflow_id!r}")
        if grants or revoked:
            audit(
                conn,
                caller,
                "workflow.access",
                workflow_id=wf.workflow_id,
                detail={"grant": grants, "revoke": revoked},
                now=now,
            )
        rows = store_access.list_access(conn, wf.workflow_id)
    return AccessView(
        wf.workflow_id,
        wf.owner,
        [
            {"name": r.name, "role": r.role, "source": r.source, "granted_by": r.granted_by}
            for r in rows
        ],
    )
