"""schemathesis against every service's OpenAPI document, with the admin token and without
any: no input makes a service answer 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["router", "sla-monitor", "feedback"])
def test_service_answers_no_server_error_for_any_input(stack: Stack, service: str) -> None:
    base_url = {
        "router": stack.router_url,
        "sla-monitor": stack.sla_monitor_url,
        "feedback": stack.feedback_url,
    }[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= (12 if service == "router" else 3)
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            for headers in ({"Authorization": f"Bearer {stack.admin_token}"}, {}):
                response = case.call(base_url=base_url, headers=headers)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]}"
                    )

        no_server_error()
    assert not failures, "\n".join(failures[:10])
