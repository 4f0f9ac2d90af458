"""Who may call what, for every endpoint of every service: one row per endpoint.

The table ``ACCESS`` names, for each (service, method, path) of the services' OpenAPI
documents, who may call it. ``test_every_endpoint_has_a_row`` FAILS when an endpoint is
added without a row: whoever adds an endpoint adds its row here (one line, one of the
``Access`` kinds below; add a kind if none fits). ``SAMPLE_BODIES`` may give the endpoint a
body; without one it is called with ``{}``, which is enough for the refusals tested here,
since credentials are checked before a body is read.

For each row every refusal is checked on the live stack: no token, a bad token, a rep's
token on an admin call, the admin token where a rep is required, another rep's token on
something of a rep's; and the caller it is meant for gets neither 401 nor 403 (on reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, mql_data, structured_event

pytestmark = pytest.mark.integration


class Access(Enum):
    PUBLIC = "anyone, no token"
    ADMIN = "the admin token only"
    ANY_REP = "any rep's token (an admin decides nothing as a rep)"
    ASSIGNED_REP = "only the rep the assignment is assigned to"
    ASSIGNED_REP_OR_ADMIN = "the assigned rep, or an admin"
    SELF_OR_ADMIN = "the rep named in the path, or an admin"
    SIGNED = "the sending system's own signature or key (no bearer token is ever enough)"


ACCESS: dict[tuple[str, str, str], Access] = {
    # router
    ("router", "GET", "/healthz"): Access.PUBLIC,
    ("router", "GET", "/readyz"): Access.PUBLIC,
    ("router", "GET", "/metrics"): Access.PUBLIC,
    ("router", "POST", "/v1/assignments/{assignment_id}/accept"): Access.ASSIGNED_REP,
    ("router", "DELETE", "/v1/reps/{rep_id}/tokens"): Access.ADMIN,
    ("router", "POST", "/v1/reps/{rep_id}/offboard"): Access.ADMIN,
    ("router", "GET", "/v1/reps/me"): Access.ANY_REP,
    ("router", "GET", "/v1/accounts/{account_id}"): Access.ADMIN,
    ("router", "PUT", "/v1/accounts"): Access.ADMIN,
    ("router", "PATCH", "/v1/accounts"): Access.ADMIN,
    ("router", "POST", "/v1/intake/{source_id}"): Access.SIGNED,
    ("router", "PUT", "/v1/intake/sources/{source_id}/secret"): Access.ADMIN,
    ("router", "POST", "/v1/intake/sources/{source_id}/secret"): Access.ADMIN,
    ("router", "POST", "/v1/mqls"): Access.ADMIN,
    ("router", "POST", "/v1/mqls/import"): Access.ADMIN,
    ("router", "POST", "/v1/slack/interactions"): Access.SIGNED,
    ("router", "POST", "/v1/assignments/{assignment_id}/reject"): Access.ASSIGNED_REP,
    ("router", "POST", "/v1/assignments/{assignment_id}/qualify"): Access.ASSIGNED_REP,
    ("router", "GET", "/v1/assignments/{assignment_id}"): Access.ASSIGNED_REP_OR_ADMIN,
    ("router", "GET", "/v1/reps/me/assignments"): Access.ANY_REP,
    ("router", "POST", "/v1/reps/{rep_id}/tokens"): Access.ADMIN,
    ("router", "PUT", "/v1/reps/{rep_id}/availability"): Access.SELF_OR_ADMIN,
    ("router", "GET", "/v1/reps/load"): Access.ADMIN,
    ("router", "PUT", "/v1/routing-config"): Access.ADMIN,
    ("router", "GET", "/v1/routing-config"): Access.ADMIN,
    ("router", "POST", "/v1/route/preview"): Access.ADMIN,
    ("router", "POST", "/v1/route/simulate"): Access.ADMIN,
    ("router", "GET", "/v1/queue"): Access.ADMIN,
    ("router", "POST", "/v1/queue/{lead_id}/release"): Access.ADMIN,
    ("router", "POST", "/v1/reps/{rep_id}/callback-secret"): Access.ADMIN,
    ("router", "POST", "/v1/managers/{manager_id}/callback-secret"): Access.ADMIN,
    ("router", "GET", "/v1/deliveries"): Access.ADMIN,
    ("router", "GET", "/v1/deliveries/{delivery_id}"): Access.ADMIN,
    ("router", "POST", "/v1/deliveries/{delivery_id}/redeliver"): Access.ADMIN,
    ("router", "GET", "/v1/callbacks/endpoints"): Access.ADMIN,
    ("router", "PUT", "/v1/callbacks/endpoints/{endpoint}/retry-window"): Access.ADMIN,
    # sla-monitor
    ("sla-monitor", "GET", "/healthz"): Access.PUBLIC,
    ("sla-monitor", "GET", "/readyz"): Access.PUBLIC,
    ("sla-monitor", "GET", "/metrics"): Access.PUBLIC,
    ("sla-monitor", "GET", "/v1/sla/overdue"): Access.ADMIN,
    ("sla-monitor", "GET", "/v1/sla/timers/{assignment_id}"): Access.ADMIN,
    # feedback
    ("feedback", "GET", "/healthz"): Access.PUBLIC,
    ("feedback", "GET", "/readyz"): Access.PUBLIC,
    ("feedback", "GET", "/metrics"): Access.PUBLIC,
    ("feedback", "GET", "/v1/reports/summary"): Access.ADMIN,
    ("feedback", "GET", "/v1/reports/timeseries"): Access.ADMIN,
    ("feedback", "GET", "/v1/reports/rejections"): Access.ADMIN,
    ("feedback", "GET", "/v1/reports/reps"): Access.ADMIN,
    ("feedback", "GET", "/v1/reports/alerts"): Access.ADMIN,
}

SAMPLE_BODIES: dict[tuple[str, str, str], Any] = {
    ("router", "POST", "/v1/assignments/{assignment_id}/reject"): {"reason": "not_icp"},
    ("router", "POST", "/v1/assignments/{assignment_id}/qualify"): {"outcome": "sql"},
    ("router", "PUT", "/v1/reps/{rep_id}/availability"): {"available": True},
    ("router", "POST", "/v1/route/preview"): mql_data(),
}

REP_KINDS = {Access.ANY_REP, Access.ASSIGNED_REP, Access.ASSIGNED_REP_OR_ADMIN, Access.SELF_OR_ADMIN}
ADMIN_KINDS = {Access.ADMIN, Access.ASSIGNED_REP_OR_ADMIN, Access.SELF_OR_ADMIN}
DENIED = {401, 403}


def base_urls(stack: Stack) -> dict[str, str]:
    return {"router": stack.router_url, "sla-monitor": stack.sla_monitor_url, "feedback": stack.feedback_url}


def endpoints_of(stack: Stack) -> set[tuple[str, str, str]]:
    found = set()
    for service, url in base_urls(stack).items():
        document = httpx.get(f"{url}/openapi.json", timeout=10).json()
        for path, operations in document["paths"].items():
            for method in operations:
                if method in {"get", "post", "put", "patch", "delete"}:
                    found.add((service, method.upper(), path))
    return found


def test_every_endpoint_has_a_row(stack: Stack) -> None:
    endpoints = endpoints_of(stack)
    missing = sorted(endpoints - ACCESS.keys())
    assert not missing, (
        "endpoints without a row in tests/integration/test_authorization.py ACCESS (say who may "
        f"call each): {missing}"
    )
    gone = sorted(ACCESS.keys() - endpoints)
    assert not gone, f"rows for endpoints that no longer exist: {gone}"


@dataclass(frozen=True)
class Callers:
    admin: str
    owner: str  # the rep an assignment is assigned to, and named in rep paths
    other: str  # another rep
    owner_id: str
    assignment_id: str


@pytest.fixture(scope="module")
async def callers(stack: Stack, producer: AIOKafkaProducer) -> Callers:
    territory = Territory.new()
    async with httpx.AsyncClient(
        base_url=stack.router_url, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30
    ) as admin:
        await territory.apply(admin)
        watcher = await TopicWatcher(stack.kafka, "lead.assigned").start()
        try:
            lead = mql_data(country="FR")  # the capped team: one rep, territory.cap
            await producer.send_and_wait(
                "lead.mql-created", structured_event(lead), key=lead["lead_id"].encode()
            )
            (event,) = await watcher.events_for([lead["lead_id"]])
        finally:
            await watcher.stop()
        owner = await territory.token(admin, territory.cap)
        other = await territory.token(admin, territory.ana)
    return Callers(stack.admin_token, owner, other, territory.cap, event["assignment_id"])


async def call(
    stack: Stack, row: tuple[str, str, str], callers: Callers, token: str | None
) -> httpx.Response:
    service, method, path = row
    url = base_urls(stack)[service] + path.format(
        assignment_id=callers.assignment_id,
        rep_id=callers.owner_id,
        manager_id="nobody",
        delivery_id="msg_none",
        lead_id="nobody",
        endpoint="rep:nobody",
        account_id="nobody",
        source_id="nobody",
    )
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = SAMPLE_BODIES.get(row, {}) if method in {"POST", "PUT", "PATCH"} else None
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, headers=headers, json=body)


@pytest.mark.parametrize("row", sorted(ACCESS), ids=lambda row: f"{row[0]} {row[1]} {row[2]}")
async def test_access(stack: Stack, callers: Callers, row: tuple[str, str, str]) -> None:
    access = ACCESS[row]
    outcomes: dict[str, int] = {}
    for name, token in {
        "no token": None,
        "bad token": "hrep_not-a-token",
        "admin": callers.admin,
        "owner rep": callers.owner,
        "another rep": callers.other,
    }.items():
        if row[1] != "GET" and name in allowed_names(access):
            continue  # the allowed caller's writes are tested by each feature's own tests
        outcomes[name] = (await call(stack, row, callers, token)).status_code
    print(row, outcomes)
    expected_denied = {name for name in outcomes if name not in allowed_names(access)}
    wrongly_allowed = {
        name: code
        for name, code in outcomes.items()
        if name in expected_denied and code not in DENIED and code != 404
    }
    wrongly_denied = {
        name: code for name, code in outcomes.items() if name not in expected_denied and code in DENIED
    }
    assert not wrongly_allowed, f"{access.value}: these callers were let through: {wrongly_allowed}"
    assert not wrongly_denied, f"{access.value}: these callers were refused: {wrongly_denied}"
    if access is Access.SIGNED:
        # No bearer token opens these; an unknown source is 404 before its signature is asked
        # for (tests/integration/test_intake.py and test_where_reps_work.py check the signatures).
        assert set(outcomes.values()) <= {401, 404}, outcomes
    elif access is not Access.PUBLIC:
        assert outcomes["no token"] == 401
        assert outcomes["bad token"] == 401


def allowed_names(access: Access) -> set[str]:
    if access is Access.PUBLIC:
        return {"no token", "bad token", "admin", "owner rep", "another rep"}
    allowed = set()
    if access in ADMIN_KINDS:
        allowed.add("admin")
    if access in REP_KINDS:
        allowed.add("owner rep")
    if access is Access.ANY_REP:
        allowed.add("another rep")
    return allowed
