"""Accepts racing SLA reassignments of the same rep's leads: no deadlock, and loads that add up."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration
LEADS = 24


async def batch_failures(stack: Stack) -> float:
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=10) as client:
        metrics = (await client.get("/metrics")).text
    found = re.search(r'^handoff_consumer_batch_failures_total\{service="router"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_accepts_racing_reassignments_of_one_rep_never_deadlock_and_loads_add_up(
    stack: Stack,
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    token = await territory.token(admin, territory.ben)
    company = {"name": "Acme", "domain": territory.account_domain}
    leads = [mql_data(company=company, country="DE") for _ in range(LEADS)]
    for lead in leads:
        await producer.send("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    await producer.flush()
    firsts = await assigned.events_for([lead["lead_id"] for lead in leads])
    assert {event["rep_id"] for event in firsts} == {territory.ben}  # the named account's owner
    failures_before = await batch_failures(stack)

    async def accept(event: dict[str, object]) -> int:
        response = await router_http.post(
            f"/v1/assignments/{event['assignment_id']}/accept",
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code

    for event in firsts:
        escalation = {
            "assignment_id": event["assignment_id"],
            "lead_id": event["lead_id"],
            "rep_id": event["rep_id"],
            "level": "reassign",
            "sla_due_at": event["sla_due_at"],
            "overdue_seconds": 60.0,
            "escalated_at": event["sla_due_at"],
        }
        await producer.send(
            "lead.escalated",
            structured_event(escalation, type_="lead.escalated"),
            key=str(event["lead_id"]).encode(),
        )
    sending = asyncio.ensure_future(producer.flush())
    statuses = await asyncio.gather(*(accept(event) for event in reversed(firsts)))
    await sending

    assert set(statuses) <= {200, 409}, statuses
    ids = [str(event["assignment_id"]) for event in firsts]

    async def all_decided() -> bool:
        async with engine.connect() as conn:
            pending = await conn.scalar(
                text(
                    "SELECT count(*) FROM router.assignments "
                    "WHERE assignment_id = ANY(:ids) AND status = 'pending'"
                ),
                {"ids": ids},
            )
        return bool(pending == 0)

    await eventually(all_decided, timeout=30, what="every escalation to be applied or refused")
    async with engine.connect() as conn:
        outcomes: dict[str, int] = dict(
            (
                await conn.execute(
                    text(
                        "SELECT status, count(*) FROM router.assignments WHERE assignment_id = ANY(:ids) "
                        "GROUP BY status"
                    ),
                    {"ids": ids},
                )
            ).all()
        )
        mismatched = (
            await conn.execute(
                text(
                    "SELECT l.rep_id, l.open, count(a.*) FROM router.rep_load l "
                    "LEFT JOIN router.assignments a ON a.rep_id = l.rep_id AND a.status = 'pending' "
                    "WHERE l.rep_id = ANY(:reps) GROUP BY l.rep_id, l.open HAVING l.open <> count(a.*)"
                ),
                {"reps": [territory.ana, territory.ben, territory.cap, territory.fallback]},
            )
        ).all()
    assert outcomes.get("accepted", 0) == statuses.count(200)
    assert outcomes.get("accepted", 0) + outcomes.get("reassigned", 0) == LEADS
    assert mismatched == []
    assert await batch_failures(stack) == failures_before, "a batch failed: a deadlock, or worse"
