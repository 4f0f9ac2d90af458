"""Issue 12, item 5: with no active routing config, a reject is judged against the default reason
codes, so not every reason is a 422. Tested on a router of its own (tests/integration/isolated.py):
a database where no config was ever put, so the stack's one active config, shared by the other
tests, is never touched. Its rep token and assignments are written as the router writes them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from handoff_router.reps.tokens import token_digest
from handoff_router.routing.config import DEFAULT_REJECTION_REASONS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.isolated import IsolatedRouters
from tests.stack import Stack, mql_data

pytestmark = pytest.mark.integration
REP = "rep-without-config"


@pytest.fixture
async def isolated(stack: Stack, tmp_path: Path) -> AsyncIterator[IsolatedRouters]:
    routers = await IsolatedRouters(stack, tmp_path).create()
    try:
        yield routers
    finally:
        await routers.destroy()


async def seed(isolated: IsolatedRouters, count: int) -> tuple[str, list[str]]:
    """A token for REP and ``count`` pending assignments of theirs; no config version exists."""
    token = f"tok-{uuid.uuid4().hex}"
    ids = [f"a-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    engine = create_async_engine(isolated.database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM router.routing_configs")) == 0
            await connection.execute(
                text("INSERT INTO router.rep_tokens (token_sha256, rep_id) VALUES (:digest, :rep)"),
                {"digest": token_digest(token), "rep": REP},
            )
            await connection.execute(
                text("INSERT INTO router.rep_load (rep_id, open) VALUES (:rep, :open)"),
                {"rep": REP, "open": count},
            )
            now = datetime.now(UTC)
            for assignment_id in ids:
                lead = mql_data()
                await connection.execute(
                    text(
                        "INSERT INTO router.assignments (assignment_id, lead_id, rep_id, team_id, rule_id,"
                        " attempt, status, assigned_at, sla_due_at, explanation, lead, mql_event_id)"
                        " VALUES (:id, :lead_id, :rep, 'team', 'rule', 1, 'pending', :now, :due,"
                        " CAST('{}' AS jsonb), CAST(:lead AS jsonb), :event)"
                    ),
                    {
                        "id": assignment_id,
                        "lead_id": lead["lead_id"],
                        "rep": REP,
                        "now": now,
                        "due": now + timedelta(hours=1),
                        "lead": json.dumps(lead),
                        "event": str(uuid.uuid4()),
                    },
                )
    finally:
        await engine.dispose()
    return token, ids


async def test_without_an_active_config_default_reasons_are_accepted_and_others_named(
    isolated: IsolatedRouters,
) -> None:
    token, (unknown, persona, territory) = await seed(isolated, 3)
    await isolated.start_router("no-config")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=isolated.urls["no-config"], headers=headers, timeout=30) as client:
        answer = await client.post(f"/v1/assignments/{unknown}/reject", json={"reason": "because"})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["allowed"] == list(DEFAULT_REJECTION_REASONS)

        missing = await client.post("/v1/assignments/a-missing/reject", json={"reason": "because"})
        assert missing.status_code == 404, missing.text  # 404 before the reason's 422

        answer = await client.post(f"/v1/assignments/{persona}/reject", json={"reason": "wrong_persona"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["reason"]) == ("rejected", "wrong_persona")

        answer = await client.post(f"/v1/assignments/{territory}/reject", json={"reason": "wrong_territory"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "rejected"

    engine = create_async_engine(isolated.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            statuses: dict[str, str] = dict(
                (await connection.execute(text("SELECT assignment_id, status FROM router.assignments"))).all()
            )
            queued = await connection.scalar(text("SELECT count(*) FROM router.unassigned"))
            load = await connection.scalar(
                text("SELECT open FROM router.rep_load WHERE rep_id = :r"), {"r": REP}
            )
    finally:
        await engine.dispose()
    assert statuses == {unknown: "pending", persona: "rejected", territory: "rejected"}
    assert queued == 1  # wrong_territory routes the lead again: with no config it waits in the queue
    assert load == 1


async def test_without_an_active_config_the_callback_endpoints_list_and_secrets_are_refused(
    isolated: IsolatedRouters, stack: Stack
) -> None:
    """No config is not a 404 of the endpoints list (its default ``unreachable_after`` applies),
    and a secret for anyone is refused as for an unknown rep."""
    await isolated.start_router("no-config")
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    async with httpx.AsyncClient(base_url=isolated.urls["no-config"], headers=headers, timeout=30) as client:
        endpoints = await client.get("/v1/callbacks/endpoints")
        secret = await client.post(f"/v1/reps/{REP}/callback-secret")

    assert (endpoints.status_code, endpoints.json()) == (200, [])
    assert secret.status_code == 404, secret.text
    assert secret.json()["title"] == "Unknown rep or manager"
