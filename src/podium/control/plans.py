"""Compiled plans of stored versions, read and compiled once per process: the one cache
the API, the triggers and the engine share."""

from __future__ import annotations

from collections.abc import Callable

from podium.engine.plan import Plan, compile_plan
from podium.store import Connection
from podium.store import workflows as store_workflows

PlanOf = Callable[[Connection, str, int], Plan]
"""The plan of a (workflow, version), read through an open connection."""


class PlanCache:
    """Versions never change, so each is read and compiled once (up to ``size`` kept)."""

    def __init__(self, size: int = 1_000) -> None:
        self.size = size
        self._plans: dict[tuple[str, int], Plan] = {}

    def __call__(self, conn: Connection, workflow_id: str, version: int) -> Plan:
        key = (workflow_id, version)
        cached = self._plans.get(key)
        if cached is None:
            definition = store_workflows.load_definition(conn, workflow_id, version)
            cached = compile_plan(workflow_id, version, definition)
            if len(self._plans) > self.size:
                self._plans.clear()
            self._plans[key] = cached
        return cached
