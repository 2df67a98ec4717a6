"""The HTTP gateway: the only door for the CLI and the UI.

It writes through the store in short transactions and never runs the engine itself; a
started instance is a row and a queue entry, which any worker picks up, so the engine
keeps going while the API is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from podium import __version__
from podium.api import (
    routes_breakpoints,
    routes_instances,
    routes_notebooks,
    routes_restart,
    routes_signals,
    routes_tags,
    routes_templates,
    routes_workflows,
)
from podium.api.context import ApiContext
from podium.errors import PodiumError
from podium.store.database import Database

log = logging.getLogger("podium.api")


def create_app(
    db: Database,
    *,
    on_work: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The API over ``db``; ``on_work`` wakes an engine in the same process, if any."""
    app = FastAPI(title="Podium", version=__version__, description="Podium's REST API.")
    app.state.podium = ApiContext(db=db, on_work=on_work, clock=clock)
    app.add_exception_handler(PodiumError, _podium_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/api/v1/health", tags=["server"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(routes_workflows.router)
    app.include_router(routes_instances.router)
    app.include_router(routes_instances.dry_run_router)
    app.include_router(routes_breakpoints.router)
    app.include_router(routes_restart.router)
    app.include_router(routes_tags.router)
    app.include_router(routes_signals.router)
    app.include_router(routes_signals.skip_router)
    app.include_router(routes_templates.router)
    app.include_router(routes_notebooks.router)
    return app


async def _podium_error(_: Request, exc: PodiumError) -> JSONResponse:
    return _error(exc.http_status, exc.code, exc.message, exc.details)


async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
    ]
    return _error(400, "invalid_input", "the request is not valid", {"problems": problems})


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("request failed", extra={"event": "api.error"})
    return _error(500, "internal_error", f"the server failed: {exc}", {})


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "details": details}},
    )
