"""What every route needs from the process that serves it, and who is asking.

Authentication lives here (a request's bearer token -> a :class:`Caller`); authorization
is the operations layer's (``podium.control.access``): a route that changes something
calls an operation that authorizes, a route that reads asks :func:`may` first.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from podium.api.oidc import JwtVerifier, OidcSettings
from podium.control import principals
from podium.control.access import RULES, authorize
from podium.control.identity import Caller, caller_named
from podium.control.services import Services
from podium.definition.fields import principal_name_problem
from podium.errors import InvalidInput, Unauthenticated

AuthMode = Literal["tokens", "none"]


@dataclass(frozen=True)
class AuthSettings:
    """``tokens`` (the default): every request carries a Podium token or an identity
    provider's JWT. ``none``: whoever reaches the port is an admin, named by the
    ``X-Podium-User`` header: only on loopback (the server refuses a wider bind)."""

    mode: AuthMode = "tokens"
    oidc: OidcSettings | None = None

    @classmethod
    def from_env(cls) -> AuthSettings:
        mode = (os.environ.get("PODIUM_AUTH") or "tokens").strip().lower()
        if mode not in ("tokens", "none"):
            raise InvalidInput(f"PODIUM_AUTH must be tokens or none, not {mode!r}")
        return cls("none" if mode == "none" else "tokens", OidcSettings.from_env())


VERIFIED_FOR_S = 2.0
"""How long a process trusts a token it verified, or a read it allowed, without looking again:
a token revoked, a user disabled or a grant revoked through another API replica stops working
within this time (at once here)."""
MAX_VERIFIED = 10_000


class Authenticator:
    """Who a request's bearer token stands for, looked up at most every VERIFIED_FOR_S per
    token: a database read per request would cost more than a whole engine step."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.jwt = JwtVerifier(settings.oidc) if settings.oidc is not None else None
        self._verified: dict[bytes, tuple[float, Caller]] = {}
        self._allowed: dict[tuple[Caller, str, str | None], float] = {}

    def forget(self) -> None:
        """Look every token and grant up again: one was revoked, or a user or a grant
        changed, in this process."""
        self._verified = {}
        self._allowed = {}

    def forget_grants(self) -> None:
        """Ask again who may read what (a grant or an owner changed in this process); the
        tokens stay verified."""
        self._allowed = {}

    async def caller(self, svc: Services, request: Request) -> Caller:
        """Who asks: a token verified within VERIFIED_FOR_S costs no database read and no
        thread; looking one up runs in the thread pool."""
        if self.settings.mode == "none":
            name = request.headers.get("x-podium-user") or "local"
            problem = principal_name_problem(name, "the X-Podium-User header")
            if problem is not None:
                raise Unauthenticated(problem)
            return caller_named(name)
        token = _bearer(request)
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        found = self._verified.get(key)
        if found is not None and found[0] > now:
            return found[1]
        caller = await run_in_threadpool(self._verify, svc, token)
        if len(self._verified) >= MAX_VERIFIED:
            self._verified = {}
        self._verified[key] = (now + VERIFIED_FOR_S, caller)
        return caller

    async def allow(
        self, svc: Services, caller: Caller, action: str, workflow_id: str | None
    ) -> None:
        """``authorize`` for a read, remembered for VERIFIED_FOR_S once allowed (like a
        token): a status read would otherwise pay a transaction for the grant alone."""
        key = (caller, action, workflow_id)
        now = time.monotonic()
        until = self._allowed.get(key)
        if until is not None and until > now:
            return
        await run_in_threadpool(_authorize, svc, caller, action, workflow_id)
        if len(self._allowed) >= MAX_VERIFIED:
            self._allowed = {}
        self._allowed[key] = now + VERIFIED_FOR_S

    def _verify(self, svc: Services, token: str) -> Caller:
        if self.jwt is not None and JwtVerifier.looks_like_jwt(token):
            identity = self.jwt.verify(token)
            return principals.caller_of_principal(svc.db, identity.name, identity.groups, "oidc")
        return principals.authenticate_token(svc.db, token, now=svc.clock())


def _bearer(request: Request) -> str:
    """The bearer token of the request, or Unauthenticated saying how to send one."""
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise Unauthenticated(
            "this server needs a token: podium login (or PODIUM_TOKEN), or the header "
            "Authorization: Bearer TOKEN"
        )
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send the token as Authorization: Bearer TOKEN")
    return token


def _authorize(svc: Services, caller: Caller, action: str, workflow_id: str | None) -> None:
    with svc.db.read() as conn:
        authorize(conn, caller, action, workflow_id)


# The dependencies are coroutines: a plain function would cost a trip to the thread pool
# and back for each, on every request, while most of them only look at the request.


async def _context(request: Request) -> Services:
    context: Services = request.app.state.podium
    return context


async def _caller(request: Request) -> Caller:
    """The authenticated caller (401 without a valid identity), once per request."""
    found = getattr(request.state, "caller", None)
    if isinstance(found, Caller):
        return found
    authenticator: Authenticator = request.app.state.authenticator
    caller = await authenticator.caller(request.app.state.podium, request)
    request.state.caller = caller
    return caller


Context = Annotated[Services, Depends(_context)]
Who = Annotated[Caller, Depends(_caller)]


def may(action: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the caller, allowed to do ``action`` (on the path's workflow); a read
    action only (a change authorizes in its own transaction, see podium.control)."""
    assert action in RULES, action

    async def check(request: Request) -> Caller:
        caller = await _caller(request)
        authenticator: Authenticator = request.app.state.authenticator
        workflow_id = request.path_params.get("workflow_id")
        await authenticator.allow(request.app.state.podium, caller, action, workflow_id)
        return caller

    return check


def act(action: str) -> dict[str, Any]:
    """``openapi_extra`` of a route: the action it performs, so the API docs (and the
    authorization tests) know the role it needs."""
    rule = RULES[action]
    role = rule.role.label if rule.role is not None else "any signed-in user"
    return {"x-podium-action": action, "x-podium-role": role, "x-podium-scope": rule.scope}


def Allowed(action: str) -> Any:
    return Depends(may(action))


WorkflowReader = Annotated[Caller, Depends(may("workflow.read"))]
"""The caller, allowed to read the path's workflow."""
ServerReader = Annotated[Caller, Depends(may("server.read"))]
"""The caller, allowed to read the server's tags, signals and templates."""
