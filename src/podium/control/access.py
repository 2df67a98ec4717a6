"""Authorization and audit: the one seam every operation passes through.

Roles are viewer < operator < owner < admin, held globally (the principal's role) or per
workflow (its owner, a definition's ``access:``, ``podium access``). Each action names the
role it needs and whether a workflow's roles count; :func:`authorize` answers or raises, in
the transaction of the change, and :func:`audit` records the change in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from podium.control.identity import Caller, Role
from podium.errors import Forbidden
from podium.store import Connection
from podium.store import access as store_access
from podium.store import audit as store_audit

Scope = Literal["workflow", "global", "self"]


@dataclass(frozen=True)
class Rule:
    role: Role | None
    """None: any authenticated caller."""
    scope: Scope
    doing: str
    """What the action does, for the refusal: 'start an instance'."""


VIEW, OPERATE, OWN, ADMIN = Role.VIEWER, Role.OPERATOR, Role.OWNER, Role.ADMIN

RULES: dict[str, Rule] = {
    # reading
    "workflow.read": Rule(VIEW, "workflow", "read it"),
    "workflow.list": Rule(None, "self", "list workflows"),
    "instance.dry_run": Rule(VIEW, "workflow", "preview a run"),
    "server.read": Rule(VIEW, "global", "read the server's tags, signals and templates"),
    "audit.read": Rule(ADMIN, "global", "read the audit trail"),
    "audit.read_workflow": Rule(OWN, "workflow", "read its audit trail"),
    # workflows
    "workflow.create": Rule(OPERATE, "global", "create a workflow"),
    "workflow.push": Rule(OWN, "workflow", "push a new version"),
    "workflow.push_owner": Rule(ADMIN, "global", "push a definition owned by someone else"),
    "workflow.activate": Rule(OWN, "workflow", "activate a version"),
    "workflow.deactivate": Rule(OWN, "workflow", "deactivate it"),
    "workflow.access": Rule(OWN, "workflow", "grant or revoke roles on it"),
    "workflow.unblock": Rule(OPERATE, "workflow", "unblock it"),
    # instances and steps
    "instance.start": Rule(OPERATE, "workflow", "start an instance"),
    "instance.stop": Rule(OPERATE, "workflow", "stop an instance"),
    "instance.restart": Rule(OPERATE, "workflow", "restart an instance"),
    "step.skip": Rule(OPERATE, "workflow", "skip a step"),
    "step.resume": Rule(OPERATE, "workflow", "resume a step"),
    "breakpoint.set": Rule(OPERATE, "workflow", "set a breakpoint"),
    "breakpoint.clear": Rule(OPERATE, "workflow", "clear a breakpoint"),
    # the server
    "signal.announce": Rule(OPERATE, "global", "announce a signal"),
    "tag.limit": Rule(ADMIN, "global", "set a tag limit"),
    "template.register": Rule(ADMIN, "global", "register a job template"),
    "user.manage": Rule(ADMIN, "global", "manage users, their OS users and their tokens"),
    "token.own": Rule(None, "self", "manage its own tokens"),
    "asset.manage": Rule(OPERATE, "global", "store or remove assets"),
    "asset.list": Rule(VIEW, "global", "list assets"),
    "asset.admin": Rule(ADMIN, "global", "manage assets it does not own"),
    "asset.rewrap": Rule(ADMIN, "global", "re-wrap every asset under the primary master key"),
}

Action = str


def role_on(conn: Connection, caller: Caller, workflow_id: str) -> Role | None:
    """The most ``caller`` may do on the workflow: its global role, its grants there, owner
    if it (or a group of it) owns the workflow; narrowed by its token."""
    if caller.workflows is not None and workflow_id not in caller.workflows:
        return None
    best = caller.role
    if best is not None and best >= Role.OWNER:
        return caller.capped(best)  # no grant or ownership goes above it: nothing to read
    _exists, owner, grants = store_access.owner_and_grants(conn, workflow_id, caller.names)
    for text in grants:
        granted = Role.of(text)
        if granted is not None and (best is None or granted > best):
            best = granted
    if owner is not None and owner in caller.names and (best is None or best < Role.OWNER):
        best = Role.OWNER
    return caller.capped(best)


def global_role(caller: Caller) -> Role | None:
    if caller.workflows is not None:
        return None  # a token for some workflows does nothing server-wide
    return caller.capped(caller.role)


def authorize(
    conn: Connection,
    caller: Caller,
    action: Action,
    workflow_id: str | None = None,
    *,
    doing: str | None = None,
) -> Role | None:
    """Allow ``caller`` to do ``action`` (on ``workflow_id``) or raise Forbidden naming
    the role it lacks (and what it tried, ``doing`` when the rule's own words are too
    vague); the role it holds there."""
    rule = RULES[action]
    if rule.scope == "workflow" and workflow_id is not None:
        held = role_on(conn, caller, workflow_id)
        where = f" on workflow {workflow_id!r}"
    else:
        held = global_role(caller) if rule.scope == "global" else caller.capped(caller.role)
        where = ""
    if rule.role is None or (held is not None and held >= rule.role):
        return held
    has = f"it has {held.label}" if held is not None else "it has no role"
    if rule.scope == "global":
        has += " on this server"
    elif workflow_id is not None:
        has += " there"
    raise Forbidden(
        f"{caller.name} needs the {rule.role.label} role{where} to {doing or rule.doing}; "
        f"{has}. "
        "An admin (or the workflow's owner) grants roles: podium access / podium user",
        details={"missing_role": rule.role.label, "action": action, "workflow_id": workflow_id},
    )


def audit(
    conn: Connection,
    caller: Caller,
    action: Action,
    *,
    now: float,
    workflow_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> None:
    """Record a change made through the door, in its transaction. The engine's own starts
    (cron, signals, emits) do not come through it: their instances record ``started_by``."""
    store_audit.record(
        conn,
        actor=caller.name,
        action=action,
        workflow_id=workflow_id,
        target=target,
        outcome=outcome,
        detail={"via": caller.via, **(detail or {})},
        now=now,
    )
