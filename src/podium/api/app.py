"""The HTTP gateway: the only door for the CLI and the UI.

It writes through the store in short transactions and never runs the engine itself; a
started instance is a row and a queue entry, which any worker picks up, so the engine
keeps going while the API is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from podium import __version__, threads
from podium.api import (
    routes_assets,
    routes_breakpoints,
    routes_events,
    routes_identity,
    routes_instances,
    routes_notebooks,
    routes_restart,
    routes_signals,
    routes_tags,
    routes_templates,
    routes_workflows,
)
from podium.api.context import Authenticator, AuthSettings
from podium.api.docs_pages import add_docs_pages
from podium.api.event_stream import EventHub
from podium.api.limits import add_body_limit
from podium.api.origin import SameOrigin
from podium.api.shedding import LoadShedding
from podium.control.keys import MasterKeys
from podium.control.plans import PlanCache, PlanOf
from podium.control.services import Services
from podium.errors import PodiumError
from podium.store.database import Database

log = logging.getLogger("podium.api")


def create_app(
    db: Database,
    *,
    on_work: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
    plans: PlanOf | None = None,
    auth: AuthSettings | None = None,
    master_keys: MasterKeys | None = None,
    hosts: Iterable[str] | None = None,
) -> FastAPI:
    """The API over ``db``; ``on_work`` wakes an engine in the same process, if any, and
    ``plans`` is that engine's plan cache, shared. ``auth`` defaults to the environment's
    (``PODIUM_AUTH``, ``PODIUM_OIDC_*``): tokens required. ``hosts`` are the names a request's Host may carry (None: any;
    see :mod:`podium.api.origin`). ``master_keys`` seal assets and secret params; by
    default those of the environment (``PODIUM_MASTER_KEY``…), loaded when first needed."""
    app = FastAPI(
        title="Podium",
        version=__version__,
        description="Podium's REST API.",
        docs_url=None,  # served by add_docs_pages, from the package rather than a CDN
        redoc_url=None,
    )
    keys = master_keys or MasterKeys()
    app.state.podium = Services(
        db=db, on_work=on_work, clock=clock, plans=plans or PlanCache(), keys=keys
    )
    app.state.authenticator = Authenticator(auth or AuthSettings.from_env())
    app.state.event_hub = EventHub(db)
    add_body_limit(app)
    app.add_middleware(SameOrigin, hosts=hosts)
    app.add_middleware(LoadShedding)  # outermost: a shed request costs nothing else
    app.add_exception_handler(PodiumError, _podium_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    add_docs_pages(app)

    @app.get("/api/v1/health", tags=["server"], openapi_extra={"x-podium-action": "public"})
    def health() -> JSONResponse:
        """``ok``; 503 ``failing`` once a thread of this process died (it is stopping)."""
        died = threads.dead()
        if died:
            failing = {"status": "failing", "version": __version__, "dead_threads": sorted(died)}
            return JSONResponse(failing, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

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
    app.include_router(routes_identity.router)
    app.include_router(routes_assets.router)
    app.include_router(routes_events.router)
    return app


async def _podium_error(_: Request, exc: PodiumError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return _error(exc.http_status, exc.code, exc.message, exc.details, headers=headers)


async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
    ]
    said = "; ".join(f"{p['location']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    message = f"the request is not valid: {said}{more}" if said else "the request is not valid"
    return _error(400, "invalid_input", message[:2000], {"problems": problems[:100]})


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Routing's own refusals (no such route, a method it does not take) in the same shape."""
    route = f"{request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        code, message = "not_found", f"no such endpoint: {route}; the endpoints are listed at /docs"
    elif exc.status_code == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        code = "method_not_allowed"
        message = f"{request.method} is not allowed on {request.url.path}" + (
            f"; use {allowed}" if allowed else ""
        )
    else:
        code = _status_code_name(exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return _error(exc.status_code, code, message, {}, headers=headers)


def _status_code_name(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "http_error"
    return phrase.lower().replace("-", " ").replace(" ", "_")


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    # The exception's text may hold SQL or paths: it goes to the log, not to the client.
    log.exception("request failed", extra={"event": "api.error"})
    return _error(
        500, "internal_error", "the server failed; see the server log (event api.error)", {}
    )


def _error(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "details": details}},
        headers=headers,
    )
