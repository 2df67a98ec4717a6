"""What every route needs from the process that serves it, and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from podium.control.identity import Caller, caller_named
from podium.control.services import Services


def _context(request: Request) -> Services:
    context: Services = request.app.state.podium
    return context


def _caller(request: Request) -> Caller:
    """The caller as the client names it (the CLI sends ``X-Podium-User``), else
    anonymous. A placeholder: nothing verifies the name until identities land."""
    return caller_named(request.headers.get("x-podium-user"))


Context = Annotated[Services, Depends(_context)]
Who = Annotated[Caller, Depends(_caller)]
