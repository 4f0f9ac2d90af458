"""HTTP plumbing: health, readiness and metrics endpoints; RFC 9457 problem details."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff_shared import observability

ReadinessCheck = Callable[[], Awaitable[Mapping[str, bool]]]
PROBLEM_JSON = "application/problem+json"


class Liveness(BaseModel):
    """What ``/healthz`` answers while the process serves."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """What ``/readyz`` answers: ready when every dependency (database, Kafka) answers."""

    status: Literal["ready", "not ready"]
    checks: dict[str, bool]


def health_router(readiness: ReadinessCheck) -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (dependencies reachable) and ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> Liveness:
        return Liveness(status="ok")

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
    )
    async def readyz() -> JSONResponse:
        checks = dict(await readiness())
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class DomainError(Exception):
    """A refusal of a use case, in the domain's words; the app says which HTTP status it is
    answered with (``install_problem_handlers``), so services and repositories know no HTTP.
    ``headers`` are added to the answer (e.g. ``WWW-Authenticate`` with a 401)."""

    headers: Mapping[str, str] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Problem(DomainError):
    """A domain error that carries its own HTTP status (for services without a mapping)."""

    status = 400
    title = "Bad request"


ErrorStatuses = Mapping[type[DomainError], tuple[int, str]]
"""Each domain error's HTTP status and problem title: the one place a service maps them."""


class FieldError(BaseModel):
    """One thing wrong with an invalid request: where (dotted path) and what."""

    path: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; some problems add fields (``problems``, ``errors``, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="On an invalid request (422): each field that is wrong, and why"
    )


_REFS = "#/components/schemas/"


def problem_responses(answers: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for an endpoint's problem answers, ``{status: when}``: an
    ``application/problem+json`` body (``document_problems`` adds the schema to the document)."""
    schema = {"$ref": f"{_REFS}ProblemDetails"}
    return {
        status: {"description": why, "content": {PROBLEM_JSON: {"schema": schema}}}
        for status, why in answers.items()
    }


PLAIN_STRING = {"type": "string"}
"""The schema of a path parameter that accepts any string (besides ``title`` and ``description``)."""


def can_be_invalid(operation: Mapping[str, Any]) -> bool:
    """Whether FastAPI's request validation can refuse a call of an OpenAPI ``operation`` (a 422):
    it takes a body, or a query, header or cookie parameter, or a path parameter that is not any
    string (one that is, is whatever matched the path: always valid)."""
    if "requestBody" in operation:
        return True
    for parameter in operation.get("parameters", []):
        schema = {k: v for k, v in parameter.get("schema", {}).items() if k not in {"title", "description"}}
        if parameter.get("in") != "path" or schema != PLAIN_STRING:
            return True
    return False


def document_problems(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document say what ``install_problem_handlers`` answers: the 422
    FastAPI lists by itself for endpoints with parameters (an ``HTTPValidationError`` body) becomes
    a problem details answer where validation can refuse the call, and goes where it cannot
    (only path parameters of any string); ``ProblemDetails`` is one of the document's schemas."""
    build = app.openapi
    invalid = problem_responses({422: "Invalid request: the problem's ``errors`` name each field"})[422]

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    answers = operation.get("responses", {})
                    if "HTTPValidationError" in str(answers.get("422", "")):
                        if can_be_invalid(operation):
                            answers["422"] = invalid
                        else:
                            del answers["422"]
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            problem = ProblemDetails.model_json_schema(ref_template=f"{_REFS}{{model}}")
            schemas.update(problem.pop("$defs", {}))
            schemas["ProblemDetails"] = problem
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def problem_response(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI, statuses: ErrorStatuses | None = None) -> None:
    """Answer domain errors (by ``statuses``), HTTP errors and invalid requests as problem details."""
    mapped = dict(statuses or {})

    async def on_domain_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        for kind in type(exc).__mro__:
            if kind in mapped:
                status, title = mapped[kind]
                return problem_response(status, title, exc.detail, headers=exc.headers, **exc.extra)
        if isinstance(exc, Problem):
            return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)
        raise exc  # a domain error nobody mapped is a bug: a 500, and a test says which

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        response = problem_response(exc.status_code, _title(exc.status_code), str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def on_invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"path": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "")}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{error['path']}: {error['message']}" for error in errors)
        return problem_response(422, "Invalid request", detail, errors=errors)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class RequestMetrics:
    """ASGI middleware: requests and their latency by method, route template and status (RED)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            observability.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            observability.HTTP_SECONDS.labels(self.service, method, route).observe(
                time.perf_counter() - started
            )
