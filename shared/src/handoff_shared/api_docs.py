"""ReDoc at ``/redoc`` served wholly by the service, like Swagger UI at ``/docs``.

fastapi-offline ships ReDoc's bundle, but the bundle's sidebar shows Redocly's logo from
``cdn.redoc.ly``, with no option to leave it out. The service serves the package's bundle with
that one address replaced by an empty inline image, so the page asks nothing of another host.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from starlette.responses import HTMLResponse, Response

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'/%3E"
REDOC_SCRIPT = "/docs-assets/redoc.standalone.js"
FAVICON = "/static-offline-docs/favicon.png"  # fastapi-offline's own mount


@cache
def redoc_bundle() -> bytes:
    """fastapi-offline's ReDoc bundle, its one outside address made inline."""
    bundle = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_text(encoding="utf-8")
    return bundle.replace(REDOC_LOGO, EMPTY_IMAGE).encode()


def add_redoc(app: FastAPI, path: str = "/redoc") -> None:
    """``path``: ReDoc over the app's OpenAPI document, every asset from the service itself."""

    @app.get(REDOC_SCRIPT, include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(
            redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get(path, include_in_schema=False)
    async def redoc_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC_SCRIPT}",
            redoc_favicon_url=f"{root}{FAVICON}",
            with_google_fonts=False,
        )
