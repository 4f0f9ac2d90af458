"""The HTTP edge of every service: credentials first, then a bounded body.

``RequestEdge`` (ASGI middleware) runs before FastAPI reads or validates anything:

- An endpoint that takes a bearer token (its OpenAPI operation lists ``security``) called
  without a valid one is answered 401 before a byte of its body is read, so a malformed or
  huge body never costs an unauthenticated caller anything, and 401 comes before 422.
  Whom the token names is kept in ``request.state.caller`` for the endpoint's own dependency.
- Every body has a limit: the service's ``http_max_body``, or the endpoint's own
  (``body_limit(bytes)`` in its ``openapi_extra``). A ``Content-Length`` over it is answered
  413 at once; a body sent without one is counted as it streams and cut off with 413. Multipart
  uploads are spooled to temporary files by Starlette past 1 MB, so memory stays bounded too.
"""

from __future__ import annotations

import hmac
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff_shared.http import problem_response

BODY_LIMIT = "x-body-limit"
Authenticate = Callable[[Any, str], Awaitable[object | None]]
"""``(app, token)``: whom the token names (anything but None), or None when it names nobody."""


OWN_LIMIT = "set by the endpoint"


def body_limit(limit: int | None) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint whose bodies may be larger (or must be smaller) than
    the service's limit; the document shows it as ``x-body-limit``. None: the endpoint caps
    its body itself, by a setting (the edge still checks credentials first)."""
    return {BODY_LIMIT: OWN_LIMIT if limit is None else limit}


class BodyTooLarge(HTTPException):
    """The body went past its endpoint's limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than this endpoint takes ({limit:,} bytes)")


@dataclass(frozen=True)
class _Endpoint:
    """One operation of the OpenAPI document: its path pattern, whether it takes a bearer
    token (``security``), and its body limit."""

    method: str
    pattern: re.Pattern[str]
    needs_token: bool
    limit: int


def endpoints(document: Mapping[str, Any], max_body: int) -> list[_Endpoint]:
    """Every operation of an OpenAPI ``document``; a route the document leaves out (docs pages)
    is checked by its own dependencies only."""
    found = []
    for path, item in document.get("paths", {}).items():
        pattern, _, _ = compile_path(path)
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                declared = operation.get(BODY_LIMIT, max_body)
                limit = sys.maxsize if declared == OWN_LIMIT else int(declared)
                found.append(_Endpoint(method.upper(), pattern, bool(operation.get("security")), limit))
    return found


async def admin_only(app: Any, token: str) -> object | None:
    """``Authenticate`` for a service whose only token is its admin token (``app.state.settings``
    or the runtime's settings)."""
    admin: str = app.state.runtime.settings.admin_token.get_secret_value()
    return True if admin and hmac.compare_digest(token.encode(), admin.encode()) else None


class RequestEdge:
    """ASGI middleware: 401 before the body for endpoints that take a token; 413 past the limit."""

    def __init__(self, app: ASGIApp, *, max_body: int, authenticate: Authenticate) -> None:
        self.app = app
        self.max_body = max_body
        self.authenticate = authenticate
        self._endpoints: list[_Endpoint] | None = None

    def _route(self, scope: Scope) -> tuple[bool, int]:
        """Whether the endpoint ``scope`` goes to takes a token, and its body limit: as the
        app's OpenAPI document says (read once, at the first request)."""
        if self._endpoints is None:
            self._endpoints = endpoints(scope["app"].openapi(), self.max_body)
        method, path = scope["method"], scope["path"]
        for endpoint in self._endpoints:
            if endpoint.method == method and endpoint.pattern.match(path):
                return endpoint.needs_token, endpoint.limit
        return False, self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token_needed, limit = self._route(scope)
        headers = dict(scope["headers"])
        if token_needed:
            scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
            given = scheme.lower() == "bearer" and token.strip()
            caller = await self.authenticate(scope["app"], token.strip()) if given else None
            if caller is None:
                response = problem_response(
                    401,
                    "Unauthorized",
                    "unknown or revoked token" if given else "a bearer token is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        length = headers.get(b"content-length")
        if length is not None and not length.isdigit():
            await problem_response(400, "Bad Request", "Content-Length is not a number")(scope, receive, send)
            return
        if length is not None and int(length) > limit:
            too_large = BodyTooLarge(limit)
            await problem_response(413, "Content Too Large", too_large.detail)(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises BodyTooLarge once the body's bytes pass ``limit``."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counting
