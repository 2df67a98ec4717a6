"""What every route needs from the process that serves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request

from podium.store import workflows as store_workflows
from podium.store.database import Database


@dataclass(frozen=True)
class ApiContext:
    db: Database
    on_work: Callable[[], None]
    clock: Callable[[], float]
    _defaults: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def param_defaults(self, conn: sa.Connection, workflow_id: str, version: int) -> dict[str, Any]:
        """A version's declared params; versions never change, so they are read once."""
        key = (workflow_id, version)
        cached = self._defaults.get(key)
        if cached is None:
            definition = store_workflows.get_version(conn, workflow_id, version).definition
            cached = dict(definition.get("params") or {})
            if len(self._defaults) > 10_000:
                self._defaults.clear()
            self._defaults[key] = cached
        return cached


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.podium
    return context


Context = Annotated[ApiContext, Depends(_context)]
