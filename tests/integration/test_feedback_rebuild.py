"""``handoff-feedback rebuild`` replays the topics into fresh aggregates identical to the live ones."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sys
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from handoff_feedback.tables import REBUILD_LOCK
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_feedback import lifecycle, send
from tests.integration.test_kafka_scram import create_scram_user, scram_listener
from tests.stack import Stack, TopicWatcher, eventually, unique

pytestmark = pytest.mark.integration


async def aggregates(engine: AsyncEngine) -> tuple[list[Any], list[Any], int]:
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    'SELECT dimension, segment, "window", window_start, measure, count'
                    " FROM feedback.aggregates"
                    " WHERE count <> 0 ORDER BY 1, 2, 3, 4, 5"
                )
            )
        ).all()
        samples = (await conn.execute(text("SELECT * FROM feedback.accept_samples ORDER BY 1, 2, 3"))).all()
        leads = await conn.scalar(text("SELECT count(*) FROM feedback.leads"))
    return [tuple(r) for r in counts], [tuple(r) for r in samples], int(leads or 0)


def plain_env(stack: Stack, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka,
        "HANDOFF_DATABASE_URL": stack.database_url,
        "HANDOFF_LOG_JSON": "true",
        **extra,
    }


def scram_env(stack: Stack, user: str, password: str) -> dict[str, str]:
    bootstrap, cafile = scram_listener()
    return plain_env(
        stack,
        HANDOFF_KAFKA_BOOTSTRAP=bootstrap,
        HANDOFF_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        HANDOFF_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        HANDOFF_KAFKA_SASL_USERNAME=user,
        HANDOFF_KAFKA_SASL_PASSWORD=password,
        HANDOFF_KAFKA_SSL_CAFILE=str(cafile),
    )


async def run_rebuild(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff_feedback", "rebuild", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def campaign_counts(engine: AsyncEngine, campaign: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT measure, sum(count) FROM feedback.aggregates WHERE dimension = 'campaign'"
                " AND segment = :s AND \"window\" = 'day' GROUP BY measure"
            ),
            {"s": f"campaign={campaign}"},
        )
        return {measure: int(n) for measure, n in rows}


async def test_a_rebuild_gives_identical_aggregates(
    stack: Stack, producer: AIOKafkaProducer, engine: AsyncEngine
) -> None:
    campaign = unique("rebuild")
    for number in range(10):
        for topic, type_, data in lifecycle(campaign, accept=number % 3 != 0):
            await send(producer, topic, type_, data)
    previous: list[Any] = []

    async def settled() -> tuple[list[Any], list[Any], int] | None:
        # The live consumer has counted the campaign, and nothing changed since the last look.
        now = await aggregates(engine)
        done = any(
            row[1] == f"campaign={campaign}" and row[4] == "accepted" and row[5] == 6 for row in now[0]
        )
        same = previous == [now]
        previous[:] = [now]
        return now if done and same else None

    before = await eventually(settled, timeout=60, interval=1.0, what="the live aggregates to settle")

    # Over the broker's SASL/SCRAM + TLS listener: the rebuild's consumer and its partition
    # lookup use the HANDOFF_KAFKA_* security settings (on the plaintext-only path they failed).
    user, password = unique("rebuild"), secrets.token_urlsafe(16)
    create_scram_user(stack, user, password)
    code, out, err = await run_rebuild(scram_env(stack, user, password))
    assert code == 0, err[-2000:]
    assert "rebuilt the feedback aggregates from" in out

    after = await aggregates(engine)
    assert after[2] == before[2]
    assert after[1] == before[1]
    assert after[0] == before[0]


async def test_events_arriving_during_a_rebuild_are_all_counted(
    stack: Stack, producer: AIOKafkaProducer, engine: AsyncEngine
) -> None:
    campaign = unique("during")
    rebuilding = asyncio.create_task(run_rebuild(plain_env(stack)))
    for number in range(30):  # while the rebuild takes the lock, reads the ends and replays
        for topic, type_, data in lifecycle(campaign, accept=number % 3 != 0):
            await send(producer, topic, type_, data)
    code, _, err = await rebuilding
    assert code == 0, err[-2000:]

    async def counted() -> dict[str, int] | None:
        found = await campaign_counts(engine, campaign)
        return found if found.get("accepted") == 20 and found.get("rejected") == 10 else None

    found = await eventually(counted, timeout=60, interval=0.5, what="every event of the campaign counted")
    assert (found["assigned"], found["mqls"], found["rejected:no_intent"]) == (30, 30, 10)


async def metric(stack: Stack, name: str) -> float:
    async with httpx.AsyncClient(base_url=stack.feedback_url, timeout=10) as client:
        body = (await client.get("/metrics")).text
    match = re.search(rf"^{name} ([0-9.e+]+)$", body, re.M)
    return float(match.group(1)) if match else 0.0


async def test_snapshots_wait_while_a_rebuild_holds_the_lock(
    stack: Stack, producer: AIOKafkaProducer, engine: AsyncEngine
) -> None:
    deferred = "handoff_feedback_snapshot_rounds_deferred_total"
    scoring = await TopicWatcher(stack.kafka, "scoring.feedback").start()
    try:
        async with engine.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REBUILD_LOCK})
            await lock.commit()
            try:
                before = await metric(stack, deferred)
                await eventually(
                    lambda: _grew(stack, deferred, before), timeout=30, what="a snapshot round deferred"
                )
                await scoring.read_to_end()
                held = len(scoring.records)
                # Still held: a round after the one deferred publishes nothing either.
                again = await metric(stack, deferred)
                await eventually(lambda: _grew(stack, deferred, again), timeout=30, what="another round")
                await scoring.read_to_end()
                assert [r for r in scoring.records[held:] if _is_snapshot(r)] == []
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REBUILD_LOCK})
                await lock.commit()
        published = len([r for r in scoring.records if _is_snapshot(r)])
        await scoring.wait_for(_is_snapshot, count=published + 1, timeout=30)  # once released
    finally:
        await scoring.stop()


async def _grew(stack: Stack, name: str, before: float) -> bool:
    return await metric(stack, name) > before


def _is_snapshot(record: Any) -> bool:
    return bool(json.loads(record.value)["type"] == "scoring.feedback_snapshot")


async def test_a_rebuild_refuses_when_retention_has_dropped_history(
    stack: Stack, producer: AIOKafkaProducer, engine: AsyncEngine
) -> None:
    # A qualified topic of this test's own whose first records are deleted, as retention would.
    topic = unique("qualified-retention")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        for _ in range(3):
            await producer.send_and_wait(topic, b"{}", partition=0)
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=2)})
    finally:
        await admin.close()
    before = await aggregates(engine)
    env = plain_env(stack, HANDOFF_TOPIC_LEAD_QUALIFIED=topic)

    code, out, err = await run_rebuild(env)

    assert code == 3
    assert f"rebuild refused, nothing changed: 2 records are no longer on the topics ({topic}[0]" in err
    assert "--force" in err
    assert out == ""
    assert (await aggregates(engine))[2] == before[2]  # nothing emptied
