"""schemathesis against the router's OpenAPI document: no input makes it answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.stack import Stack

pytestmark = pytest.mark.integration


def test_router_answers_no_server_error_for_any_input(stack: Stack) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.router_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            for headers in ({"Authorization": f"Bearer {stack.admin_token}"}, {}):
                response = case.call(base_url=stack.router_url, headers=headers)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]}"
                    )

        no_server_error()
    assert not failures, "\n".join(failures[:10])
