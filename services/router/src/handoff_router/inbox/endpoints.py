"""The rep inbox at ``/inbox``: one page, its script and its stylesheet, all from this service (no
outside asset: it works offline) under a strict CSP. The page holds no data: it calls the rep
API with the token the rep typed in, kept in the tab's sessionStorage and sent as a bearer
header, never in a URL."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response

FILES = resources.files("handoff_router.inbox")
SECURITY_HEADERS = {
    # Only this service's own script and style; no inline code, no framing, no referrer.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["inbox"], include_in_schema=False)


@router.get("/inbox", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    return HTMLResponse(FILES.joinpath("page.html").read_text(encoding="utf-8"), headers=SECURITY_HEADERS)


@router.get("/inbox/inbox.js")
async def script() -> Response:
    body = FILES.joinpath("inbox.js").read_text(encoding="utf-8")
    return Response(body, media_type="text/javascript", headers=SECURITY_HEADERS)


@router.get("/inbox/inbox.css")
async def stylesheet() -> Response:
    body = FILES.joinpath("inbox.css").read_text(encoding="utf-8")
    return Response(body, media_type="text/css", headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """Serve the inbox page."""
    app.include_router(router)
