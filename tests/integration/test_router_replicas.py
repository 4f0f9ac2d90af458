"""Two router processes consuming the same topic at once: no double assignment, still fair."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import ROOT, Stack, TopicWatcher, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration
SECOND_PORT = 8091


@pytest.fixture
async def second_router(
    stack: Stack, tmp_path: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    log = tmp_path / "router-2.log"
    env = {
        **os.environ,
        "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka,
        "HANDOFF_DATABASE_URL": stack.database_url,
        "HANDOFF_ADMIN_TOKEN": stack.admin_token,
        "HANDOFF_HTTP_PORT": str(SECOND_PORT),
        "HANDOFF_SERVICE_NAME": "router",
    }
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handoff_router", cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{SECOND_PORT}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    assert process.returncode is None, f"the second router exited: {log.read_text()[-2000:]}"
                    return False

            await eventually(ready, timeout=60, what="the second router to be ready")
        yield process, log
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), timeout=10)


async def group_members(stack: Stack, group: str) -> int:
    """How many consumers share the group once it has settled (0 while rebalancing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (described,) = response.to_object()["groups"]
        # Members of a group still rebalancing may not own their partitions yet.
        return len(described["members"]) if described["state"] == "Stable" else 0
    finally:
        await admin.close()


async def test_two_routers_never_double_assign_and_stay_fair(
    stack: Stack,
    second_router: tuple[asyncio.subprocess.Process, Path],
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    process, log = second_router
    territory = Territory.new()
    await territory.apply(admin)

    async def both_members() -> bool:
        return await group_members(stack, "handoff-router") == 2

    await eventually(both_members, timeout=60, what="both routers in the consumer group")
    leads = [mql_data(country="DE") for _ in range(400)]

    await asyncio.gather(
        *[
            producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
            for lead in leads
        ]
    )
    events = await assigned.events_for((lead["lead_id"] for lead in leads), timeout=60)

    assert Counter(event["rep_id"] for event in events) == {territory.ana: 300, territory.ben: 100}
    async with engine.connect() as conn:
        per_lead = await conn.execute(
            text(
                "SELECT lead_id, count(*) FROM router.assignments WHERE lead_id = ANY(:ids) GROUP BY lead_id"
            ),
            {"ids": [lead["lead_id"] for lead in leads]},
        )
        counts: dict[str, int] = {row[0]: row[1] for row in per_lead.all()}
    assert len(counts) == 400
    assert set(counts.values()) == {1}
    assert sum(1 for event in assigned.events() if event["subject"] in counts) == 400
    process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once shut down, so the exit status is SIGTERM's
    assert await asyncio.wait_for(process.wait(), timeout=30) in {0, -signal.SIGTERM}
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["event"] == "mql.batch_routed" for line in lines), log.read_text()[-3000:]
    (stopped,) = [line for line in lines if line["event"] == "runtime.stopped"]
    assert stopped["cancelled"] == 0, "a worker did not finish its batch on SIGTERM"
