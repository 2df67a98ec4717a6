"""Job templates: register one (or a new version of one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.services import Services
from podium.definition.templates import JobTemplate
from podium.job_templates import registry
from podium.store import Connection


@dataclass(frozen=True)
class RegisterRequest:
    name: Any
    script: Any
    description: Any = None
    parameters: Any = field(default_factory=dict)


def register(svc: Services, request: RegisterRequest, caller: Caller, *, now: float) -> JobTemplate:
    """Check the template and store it as the next version of its name; jobs that start
    from now on run it."""

    def door(conn: Connection) -> None:
        authorize(conn, caller, "template.register")
        audit(conn, caller, "template.register", target=str(request.name), now=now)

    return registry.register(
        svc.db,
        name=request.name,
        description=request.description,
        parameters=request.parameters,
        script=request.script,
        created_by=caller.recorded_name,
        now=now,
        before=door,
    )
