"""The interactive API documentation at ``/docs``, served from files shipped in the package.

FastAPI's default page loads Swagger UI from a CDN, which leaves ``/docs`` blank on a machine
without internet; this one loads the copies in ``static/`` (see ``static/NOTICE``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
DOCS_PATH = "/docs"
_OAUTH2_REDIRECT_PATH = f"{DOCS_PATH}/oauth2-redirect"


def add_docs_pages(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets; create the app with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url=_OAUTH2_REDIRECT_PATH,
            # No badge fetched from validator.swagger.io: the page makes no outside request.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(_OAUTH2_REDIRECT_PATH, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
