"""The sla-monitor and feedback services consume the lead lifecycle idempotently and
dead-letter what they cannot read (their own logic comes with later issues)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, committed_offset, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration
LIFECYCLE_GROUPS = ("handoff-sla-monitor-timers", "handoff-feedback-outcomes")  # the stack's defaults


@pytest.mark.parametrize("url", ["sla_monitor_url", "feedback_url"])
async def test_service_is_ready_and_exports_metrics(stack: Stack, url: str) -> None:
    async with httpx.AsyncClient(base_url=getattr(stack, url)) as client:
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
    assert ready.json() == {"status": "ready", "checks": {"database": True, "kafka": True}}
    assert "handoff_events_consumed_total" in metrics.text


async def test_assignment_opens_one_timer_and_is_recorded_once_by_feedback(
    stack: Stack,
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    await Territory.new().apply(admin)
    lead = mql_data(country="DE")
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (record,) = await assigned.wait_for(lambda r: lead["lead_id"].encode() == r.key)
    duplicate = await producer.send_and_wait(
        "lead.assigned", record.value, key=record.key, headers=list(record.headers)
    )
    assignment_id = json.loads(record.value)["data"]["assignment_id"]
    partition = TopicPartition("lead.assigned", duplicate.partition)

    async def duplicate_consumed_by_both() -> bool:
        # Both records have been applied once each service's group has committed past the duplicate.
        offsets = [await committed_offset(stack.kafka, group, partition) for group in LIFECYCLE_GROUPS]
        return all(offset > duplicate.offset for offset in offsets)

    await eventually(duplicate_consumed_by_both, timeout=30, what="both services past the duplicate")
    async with engine.connect() as conn:
        timers = await conn.scalar(
            text("SELECT count(*) FROM sla_monitor.timers WHERE assignment_id = :id"), {"id": assignment_id}
        )
        state = await conn.scalar(
            text("SELECT state FROM feedback.leads WHERE lead_id = :lead"), {"lead": lead["lead_id"]}
        )
    assert timers == 1
    # The feedback service keeps the lead's facts: the assignment once, however often it came.
    assert [a["id"] for a in state["assignments"] if "assigned" in a] == [assignment_id]


async def test_unreadable_lifecycle_event_is_dead_lettered_beside_its_topic(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    # Each dead-letter topic has one writer: the topic's first consumer (the sla-monitor) writes
    # lead.accepted.dlq, feedback its own lead.accepted.feedback.dlq; each holds the record once.
    owners = await TopicWatcher(stack.kafka, "lead.accepted.dlq").start()
    feedbacks = await TopicWatcher(stack.kafka, "lead.accepted.feedback.dlq").start()
    key = f"bad-{uuid.uuid4().hex}".encode()
    try:
        await producer.send_and_wait("lead.accepted", b"not an event", key=key)
        letters = [
            *await owners.wait_for(lambda r: r.key == key, count=1),
            *await feedbacks.wait_for(lambda r: r.key == key, count=1),
        ]
        for watcher in (owners, feedbacks):  # and once only
            await watcher.read_to_end()
            assert len([r for r in watcher.records if r.key == key]) == 1, watcher.topic
    finally:
        await owners.stop()
        await feedbacks.stop()
    assert {dict(letter.headers)["error.service"] for letter in letters} == {b"sla-monitor", b"feedback"}
    assert {dict(letter.headers)["error.class"] for letter in letters} == {b"not_json"}
    assert all(letter.value == b"not an event" for letter in letters)
