"""schemathesis against the router's OpenAPI document: no input makes it answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def router_schema(stack: Stack) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{stack.router_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("router_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_router_answers_no_server_error_for_any_input(case: schemathesis.Case, stack: Stack) -> None:
    for headers in ({"Authorization": f"Bearer {stack.admin_token}"}, {}):
        response = case.call(base_url=stack.router_url, headers=headers)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
