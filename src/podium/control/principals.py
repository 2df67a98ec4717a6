"""Users, service accounts and their API tokens: add, disable, list; create and revoke
tokens; authenticate one; and the first admin a new server makes for itself.

A token is ``pod_<id>_<secret>``: the id finds its row, only the SHA-256 of the secret is
stored, and the whole token is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from podium.control.access import audit, authorize
from podium.control.identity import Caller, CallerKind, Role
from podium.control.services import Services
from podium.definition.fields import principal_name_problem
from podium.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from podium.store import Connection
from podium.store import principals as store
from podium.store.database import Database

TOKEN_PREFIX = "pod_"
MAX_TOKEN_DAYS = 3650
KINDS = ("user", "service")


class PrincipalNotFound(NotFound):
    code = "principal_not_found"


def checked_name(name: str, what: str = "a user name") -> str:
    problem = principal_name_problem(name, what)
    if problem is not None:
        raise InvalidInput(problem)
    return name


@dataclass(frozen=True)
class NewPrincipal:
    name: str
    kind: str = "user"
    role: str | None = "viewer"
    groups: Sequence[str] = ()
    os_user: str | None = None


def add_principal(svc: Services, request: NewPrincipal, caller: Caller) -> store.PrincipalRow:
    name = checked_name(request.name)
    if request.kind not in KINDS:
        raise InvalidInput(f"kind must be user or service, not {request.kind!r}")
    role = Role.parse(request.role).label if request.role not in (None, "none") else None
    groups = [checked_name(g, "a group name") for g in request.groups]
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "user.manage")
        if not store.add_principal(
            conn,
            name=name,
            kind=request.kind,
            role=role,
            groups=groups,
            created_by=caller.name,
            now=now,
        ):
            raise Conflict(f"there is already a user or service account named {name!r}")
        if request.os_user is not None:
            store.set_os_user(
                conn, name, checked_os_user(request.os_user), set_by=caller.name, now=now
            )
        audit(
            conn,
            caller,
            "user.add",
            target=name,
            detail={
                "kind": request.kind,
                "role": role,
                "groups": groups,
                "os_user": request.os_user,
            },
            now=now,
        )
        added = store.get_principal(conn, name)
    assert added is not None
    return added


@dataclass(frozen=True)
class PrincipalChange:
    name: str
    disabled: bool | None = None
    role: str | None = None
    groups: Sequence[str] | None = None


def change_principal(svc: Services, request: PrincipalChange, caller: Caller) -> store.PrincipalRow:
    """Disable (or enable) a principal, change its global role or its groups. A disabled
    principal's tokens stop working at once."""
    values: dict[str, object] = {}
    if request.disabled is not None:
        values["disabled"] = request.disabled
    if request.role is not None:
        values["role"] = None if request.role == "none" else Role.parse(request.role).label
    if request.groups is not None:
        values["groups"] = [checked_name(g, "a group name") for g in request.groups]
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "user.manage")
        found = store.get_principal(conn, request.name)
        if found is None:
            raise PrincipalNotFound(f"no user or service account named {request.name!r}")
        if request.disabled and request.name == caller.name:
            raise Conflict("you cannot disable yourself; another admin can")
        if values:
            store.update_principal(conn, request.name, **values)
        audit(conn, caller, "user.change", target=request.name, detail=dict(values), now=now)
        changed = store.get_principal(conn, request.name)
    assert changed is not None
    return changed


def list_principals(svc: Services, caller: Caller) -> list[tuple[store.PrincipalRow, str | None]]:
    """Every principal with the OS user its jobs run as (if one is mapped)."""
    with svc.db.read() as conn:
        authorize(conn, caller, "user.manage")
        mapped = {r.name: r.os_user for r in store.list_os_users(conn)}
        return [(p, mapped.get(p.name)) for p in store.list_principals(conn)]


OS_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def checked_os_user(os_user: str) -> str:
    if not (1 <= len(os_user) <= 32) or not set(os_user) <= OS_USER_CHARS or os_user[0] == "-":
        raise InvalidInput(f"{os_user!r} is not an OS user name (letters, digits, _ . -)")
    return os_user


def map_os_user(svc: Services, name: str, os_user: str | None, caller: Caller) -> None:
    """Run the jobs of ``name`` (a principal or a group) as ``os_user`` (None: unmap). Only
    an admin maps, so mapping to root is an admin's explicit choice."""
    checked_name(name, "a user or group name")
    os_user = checked_os_user(os_user) if os_user is not None else None
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "user.manage")
        store.set_os_user(conn, name, os_user, set_by=caller.name, now=now)
        audit(conn, caller, "user.map", target=name, detail={"os_user": os_user}, now=now)


# -- tokens ----------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token_text() -> tuple[str, str, str]:
    """(token id, secret, the whole token)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, secret, f"{TOKEN_PREFIX}{token_id}_{secret}"


@dataclass(frozen=True)
class TokenRequest:
    name: str
    principal: str | None = None
    """Whose token (default: the caller's own)."""
    role: str | None = None
    """The most the token may do (default: all its principal may)."""
    expires_days: float | None = 90
    workflows: Sequence[str] | None = None


@dataclass(frozen=True)
class NewToken:
    token: str
    row: store.TokenRow


def create_token(svc: Services, request: TokenRequest, caller: Caller) -> NewToken:
    checked_name(request.name, "a token name")
    owner = request.principal or caller.name
    role = Role.parse(request.role).label if request.role is not None else None
    if request.expires_days is not None and not 0 < request.expires_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token expires in more than 0 and at most {MAX_TOKEN_DAYS} days")
    now = svc.clock()
    with svc.db.transaction() as conn:
        if owner == caller.name and caller.kind in KINDS:
            authorize(conn, caller, "token.own")
            if caller.cap is not None and (role is None or Role.parse(role) > caller.cap):
                # A token cannot make a stronger token than itself.
                role = caller.cap.label
        else:
            authorize(conn, caller, "user.manage")
        principal = store.get_principal(conn, owner)
        if principal is None:
            raise PrincipalNotFound(f"no user or service account named {owner!r}")
        if store.token_named(conn, owner, request.name) is not None:
            raise Conflict(f"{owner} already has a token named {request.name!r}; revoke it first")
        token = _insert_token(conn, owner, request, role, now)
        audit(
            conn,
            caller,
            "token.create",
            target=f"{owner}/{request.name}",
            detail={"role": role, "expires_at": token.row.expires_at},
            now=now,
        )
    return token


def _insert_token(
    conn: Connection, owner: str, request: TokenRequest, role: str | None, now: float
) -> NewToken:
    token_id, secret, text = new_token_text()
    row = {
        "token_id": token_id,
        "principal": owner,
        "name": request.name,
        "secret_sha256": _digest(secret),
        "role": role,
        "workflows": list(request.workflows) if request.workflows is not None else None,
        "expires_at": now + request.expires_days * 86400 if request.expires_days else None,
        "created_at": now,
    }
    store.add_token(conn, row)
    stored = store.token_named(conn, owner, request.name)
    assert stored is not None
    return NewToken(text, stored)


def list_tokens(
    svc: Services, caller: Caller, principal: str | None = None
) -> list[store.TokenRow]:
    """The caller's own tokens; an admin's listing shows everyone's (or ``principal``'s)."""
    with svc.db.read() as conn:
        if principal == caller.name or (principal is None and caller.role != Role.ADMIN):
            authorize(conn, caller, "token.own")
            return store.list_tokens(conn, caller.name)
        authorize(conn, caller, "user.manage")
        return store.list_tokens(conn, principal)


def revoke_token(svc: Services, name: str, caller: Caller, principal: str | None = None) -> None:
    owner = principal or caller.name
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "token.own" if owner == caller.name else "user.manage")
        found = store.token_named(conn, owner, name)
        if found is None:
            raise NotFound(f"{owner} has no token named {name!r}; podium token list shows them")
        if not store.revoke_token(conn, found.token_id, now=now):
            raise Conflict(f"token {name!r} of {owner} was already revoked")
        audit(conn, caller, "token.revoke", target=f"{owner}/{name}", now=now)


TOUCH_EVERY_S = 300.0


def authenticate_token(db: Database, text: str, *, now: float) -> Caller:
    """The caller a ``pod_…`` token stands for, or Unauthenticated saying why not."""
    token_id, _, secret = text.removeprefix(TOKEN_PREFIX).partition("_")
    if not text.startswith(TOKEN_PREFIX) or not token_id or not secret or len(text) > 200:
        raise Unauthenticated(
            "the bearer token is not a Podium token (pod_…) nor a token this server's identity "
            "provider signed; get one with podium token create, or podium login"
        )
    with db.read() as conn:
        found = store.find_token(conn, token_id)
    if found is None or not hmac.compare_digest(found[0].secret_sha256, _digest(secret)):
        raise Unauthenticated("the token is not valid on this server; podium login with a new one")
    token, principal = found
    if token.revoked_at is not None:
        raise Unauthenticated(f"the token {token.name!r} of {principal.name} was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated(
            f"the token {token.name!r} of {principal.name} expired; create a new one "
            "(podium token create) and podium login with it"
        )
    if principal.disabled:
        raise Unauthenticated(f"{principal.name} is disabled; an admin can enable it again")
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY_S:
        with db.transaction() as conn:
            store.touch_token(conn, token.token_id, now=now)
    return Caller(
        principal.name,
        "service" if principal.kind == "service" else "user",
        Role.of(principal.role),
        principal.groups,
        cap=Role.of(token.role),
        workflows=frozenset(token.workflows) if token.workflows is not None else None,
        via=f"token {token.name}",
    )


def caller_of_principal(db: Database, name: str, groups: Sequence[str], via: str) -> Caller:
    """The caller an identity provider vouched for: a principal that exists and is enabled
    (its groups are the provider's, added to those stored)."""
    with db.read() as conn:
        principal = store.get_principal(conn, name)
    if principal is None:
        raise Unauthenticated(
            f"{name} is not a user of this server; an admin adds them: podium user add {name}"
        )
    if principal.disabled:
        raise Unauthenticated(f"{name} is disabled; an admin can enable it again")
    kind: CallerKind = "service" if principal.kind == "service" else "user"
    all_groups = tuple(dict.fromkeys([*principal.groups, *groups]))
    return Caller(name, kind, Role.of(principal.role), all_groups, via=via)


def bootstrap_admin(db: Database, name: str, *, os_user: str | None, now: float) -> str | None:
    """On a server with no principal yet: an admin named ``name`` (the OS user who started
    it), its jobs mapped to ``os_user``, and a token for it, returned once. None when the
    server already has principals."""
    with db.transaction() as conn:
        if store.count_principals(conn) > 0:
            return None
        store.add_principal(
            conn, name=name, kind="user", role=Role.ADMIN.label, groups=(), created_by=None, now=now
        )
        if os_user is not None:
            store.set_os_user(conn, name, os_user, set_by="bootstrap", now=now)
        token = _insert_token(conn, name, TokenRequest("bootstrap", expires_days=None), None, now)
    return token.token


def local_admin_token(db: Database, name: str, *, principal: str, now: float) -> str:
    """A new admin token made straight in the database (``podium token create --db``): for
    whoever can open the database, who can do anything already."""
    with db.transaction() as conn:
        if store.get_principal(conn, principal) is None:
            store.add_principal(
                conn,
                name=principal,
                kind="user",
                role=Role.ADMIN.label,
                groups=(),
                created_by=None,
                now=now,
            )
        if store.token_named(conn, principal, name) is not None:
            raise Conflict(f"{principal} already has a token named {name!r}; pick another name")
        return _insert_token(
            conn, principal, TokenRequest(name, expires_days=None), None, now
        ).token
