"""Every operation of every service documents what it answers (issue 12, item 2): each success
response has a typed body (a model, or an explicit schema for text such as Prometheus metrics or
the feedback summary's CSV), and each error status it lists has a typed body: problem details as
``application/problem+json``, which ``install_problem_handlers`` answers, never FastAPI's default
``HTTPValidationError`` (only /readyz's 503 is not a problem: it says which dependency is down)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from handoff_feedback.app import create_app as create_feedback
from handoff_feedback.settings import Settings as FeedbackSettings
from handoff_router.app import create_app as create_router
from handoff_router.settings import RouterSettings
from handoff_shared.http import PROBLEM_JSON
from handoff_sla_monitor.app import create_app as create_sla_monitor
from handoff_sla_monitor.settings import Settings as SlaSettings

DATABASE_URL = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected: no lifespan runs
SERVICES: dict[str, tuple[Callable[[], FastAPI], int]] = {  # the app, and at least how many operations
    "router": (lambda: create_router(RouterSettings(database_url=DATABASE_URL)), 20),
    "sla-monitor": (lambda: create_sla_monitor(SlaSettings(database_url=DATABASE_URL)), 5),
    "feedback": (lambda: create_feedback(FeedbackSettings(database_url=DATABASE_URL)), 8),
}
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
NOT_PROBLEMS = {("GET /readyz", "503")}  # answers Readiness: which dependency is down

Operations = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module", params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> tuple[dict[str, Any], int]:
    create, least = SERVICES[request.param]
    return create().openapi(), least


@pytest.fixture(scope="module")
def document(service: tuple[dict[str, Any], int]) -> dict[str, Any]:
    return service[0]


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> Operations:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def untyped(schema: dict[str, Any] | None) -> bool:
    return not schema or (schema.get("type") == "object" and "properties" not in schema)


def test_every_success_answer_has_a_typed_body(
    service: tuple[dict[str, Any], int], operations: Operations
) -> None:
    loose = [
        f"{name} {status} {media_type}"
        for name, operation in operations
        for status, response in operation["responses"].items()
        if status.startswith("2") and status != "204"
        for media_type, content in (response.get("content") or {"(none)": {}}).items()
        if untyped(content.get("schema"))
    ]
    assert len(operations) >= service[1]
    assert loose == []


def test_every_listed_error_answer_is_a_problem(operations: Operations) -> None:
    loose = [
        f"{name} {status} {sorted(response.get('content') or {})}"
        for name, operation in operations
        for status, response in operation["responses"].items()
        if status[0] in "45" and (name, status) not in NOT_PROBLEMS
        if response.get("content") != PROBLEM
    ]
    assert loose == []


def test_no_answer_is_fastapis_validation_error_and_every_schema_it_names_exists(
    document: dict[str, Any],
) -> None:
    text = str(document)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in text
    assert {"ProblemDetails", "FieldError"} <= set(schemas)
    assert set(schemas["ProblemDetails"]["required"]) == {"title", "status", "detail"}
    missing = {ref for ref in re.findall(r"#/components/schemas/([\w.-]+)", text) if ref not in schemas}
    assert missing == set()


def can_be_refused_by_validation(operation: dict[str, Any]) -> bool:
    """A body, a query, header or cookie parameter, or a path parameter narrower than any string."""
    if "requestBody" in operation:
        return True
    return any(
        parameter["in"] != "path" or set(parameter["schema"]) - {"title", "description"} != {"type"}
        or parameter["schema"]["type"] != "string"
        for parameter in operation.get("parameters", [])
    )  # fmt: skip


def test_422_is_listed_exactly_where_a_request_can_be_invalid(operations: Operations) -> None:
    """Neither FastAPI's automatic 422 nor an explicit one on an operation that takes nothing
    validation could refuse (a plain string in the path is whatever matched it); and every
    operation that takes something lists it."""
    wrong = [
        f"{name}: {'lists' if '422' in operation['responses'] else 'lacks'} 422"
        for name, operation in operations
        if ("422" in operation["responses"]) != can_be_refused_by_validation(operation)
    ]
    assert wrong == []


def test_the_router_lists_the_503_of_callback_secrets_and_no_404_for_callback_endpoints() -> None:
    document = SERVICES["router"][0]().openapi()
    secrets = document["paths"]["/v1/reps/{rep_id}/callback-secret"]["post"]["responses"]
    endpoints = document["paths"]["/v1/callbacks/endpoints"]["get"]["responses"]
    assert sorted(secrets) == ["201", "401", "403", "404", "503"]
    assert sorted(endpoints) == ["200", "401", "403"]
