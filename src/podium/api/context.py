"""What every route needs from the process that serves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from podium.engine.plan import Plan, compile_plan
from podium.expr import Budgets
from podium.store import workflows as store_workflows
from podium.store.database import Database


@dataclass(frozen=True)
class ApiContext:
    db: Database
    on_work: Callable[[], None]
    clock: Callable[[], float]
    budgets: Budgets = field(default_factory=Budgets.from_env)
    _plans: dict[tuple[str, int], Plan] = field(default_factory=dict)

    def plan(self, conn: sa.Connection, workflow_id: str, version: int) -> Plan:
        """A version compiled; versions never change, so each is read and compiled once."""
        key = (workflow_id, version)
        cached = self._plans.get(key)
        if cached is None:
            definition = store_workflows.get_version(conn, workflow_id, version).definition
            cached = compile_plan(workflow_id, version, definition)
            if len(self._plans) > 1_000:
                self._plans.clear()
            self._plans[key] = cached
        return cached


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.podium
    return context


Context = Annotated[ApiContext, Depends(_context)]
