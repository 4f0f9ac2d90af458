"""Every operation of the router documents what it answers (issue 12, item 2): each success
response has a typed body (a model, or an explicit schema for text such as Prometheus metrics),
and each error status it lists has a typed body (problem details; /readyz's 503 says which
dependency is down)."""

from __future__ import annotations

from typing import Any

import pytest
from handoff_router.app import create_app
from handoff_router.settings import RouterSettings

DATABASE_URL = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected: no lifespan runs


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, dict[str, Any]]]:
    document = create_app(RouterSettings(database_url=DATABASE_URL)).openapi()
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def untyped(schema: dict[str, Any] | None) -> bool:
    return not schema or (schema.get("type") == "object" and "properties" not in schema)


def test_every_success_answer_has_a_typed_body(operations: list[tuple[str, dict[str, Any]]]) -> None:
    loose = [
        f"{name} {status} {media_type}"
        for name, operation in operations
        for status, response in operation["responses"].items()
        if status.startswith("2") and status != "204"
        for media_type, content in (response.get("content") or {"(none)": {}}).items()
        if untyped(content.get("schema"))
    ]
    assert len(operations) > 20
    assert loose == []


def test_every_listed_error_answer_is_a_problem(operations: list[tuple[str, dict[str, Any]]]) -> None:
    loose = [
        f"{name} {status}"
        for name, operation in operations
        for status, response in operation["responses"].items()
        if status[0] in "45"
        for content in [response.get("content") or {"(none)": {}}]
        if any(untyped(body.get("schema")) for body in content.values())
    ]
    assert loose == []
