"""The dashboard at ``/``: one page, its script, and Plotly's bundle served from the installed
``plotly`` package (no CDN: the page works offline). The page holds no data: it asks the
reports API with the admin token the operator typed into it (kept in the tab's
sessionStorage, sent as a bearer header, never in a URL)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

PAGE = resources.files("handoff_feedback.dashboard").joinpath("page.html")
SCRIPT = resources.files("handoff_feedback.dashboard").joinpath("dashboard.js")
PLOTLY = resources.files("plotly").joinpath("package_data", "plotly.min.js")
SECURITY_HEADERS = {
    # Everything from this service; no inline script, no framing, no referrer.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " connect-src 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def dashboard_router() -> APIRouter:
    router = APIRouter(tags=["dashboard"], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=SECURITY_HEADERS)

    @router.get("/static/dashboard.js")
    async def script() -> FileResponse:
        return FileResponse(str(SCRIPT), media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @router.get("/static/plotly.min.js")
    async def plotly() -> FileResponse:
        return FileResponse(
            str(PLOTLY), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    return router
