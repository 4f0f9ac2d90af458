"""The shared plumbing against the real broker and database: the outbox relay and the
batch consumer's offset discipline (issue: foundation)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_shared import db, kafka
from handoff_shared.cloudevents import new_event
from handoff_shared.idempotency import first_seen
from handoff_shared.kafka import BatchConsumer, decode_batch
from handoff_shared.outbox import OutboxMessage, OutboxRelay
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.stack import Stack, TopicWatcher, eventually, mql_data

pytestmark = pytest.mark.integration


@dataclass
class Scratch:
    """A schema and a topic of this test's own."""

    schema: str
    topic: str
    sessions: async_sessionmaker[AsyncSession]
    outbox: Table
    processed: Table
    applied: Table


@pytest.fixture
async def scratch(stack: Stack, engine: AsyncEngine) -> AsyncIterator[Scratch]:
    tag = uuid.uuid4().hex[:10]
    schema, topic = f"test_{tag}", f"test.plumbing.{tag}"
    metadata = MetaData(schema=schema)
    outbox = db.outbox_table(metadata)
    processed = db.processed_events_table(metadata)
    applied = Table(
        "applied",
        metadata,
        Column("lead_id", Text, primary_key=True),
        Column("times", Integer, nullable=False),
    )
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    await admin.create_topics(
        [NewTopic(name, num_partitions=2, replication_factor=1) for name in (topic, f"{topic}.dlq")]
    )
    await admin.close()
    yield Scratch(schema, topic, db.make_sessions(engine), outbox, processed, applied)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def message(topic: str, lead_id: str) -> OutboxMessage:
    event = new_event("mql.created", "tests", lead_id, mql_data(lead_id), time=datetime.now(UTC))
    return OutboxMessage.of_event(topic, event)


async def rolled_back(scratch: Scratch, messages: list[OutboxMessage]) -> None:
    """Write messages in a transaction whose state change then fails."""

    class StateChangeFailed(Exception):
        pass

    try:
        async with db.transaction(scratch.sessions) as session:
            await add_to_outbox(session, scratch.outbox, messages)
            raise StateChangeFailed
    except StateChangeFailed:
        return
    raise AssertionError("the transaction should have failed")


async def test_outbox_publishes_committed_rows_and_not_rolled_back_ones(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    watcher = await TopicWatcher(stack.kafka, scratch.topic).start()
    async with db.transaction(scratch.sessions) as session:
        await add_to_outbox(
            session, scratch.outbox, [message(scratch.topic, "kept-1"), message(scratch.topic, "kept-2")]
        )
    await rolled_back(scratch, [message(scratch.topic, "rolled-back")])
    relay = OutboxRelay(scratch.sessions, scratch.outbox, producer, service="test")

    published = await relay.publish_once()

    assert published == 2
    records = await watcher.wait_for(lambda r: True, count=2)
    assert sorted(r.key for r in records) == [b"kept-1", b"kept-2"]
    for record in records:  # the relay partitions by key exactly as a plain keyed send does
        sent = await producer.send_and_wait(scratch.topic, b"marker", key=record.key)
        assert sent.partition == record.partition
    assert await relay.pending() == 0
    assert await relay.publish_once() == 0
    await watcher.stop()
    assert all(r.key != b"rolled-back" for r in watcher.records)


class ProcessDied(Exception):
    pass


class DiesBeforeMarking(OutboxRelay):
    """A relay whose process dies after Kafka has the rows but before they are marked sent
    (the transaction that marks them never commits)."""

    async def _send_in_batches(
        self, rows: Sequence[Any], partitions: dict[str, list[int]], spans: list[Any] | None = None
    ) -> list[Any]:
        sends = await super()._send_in_batches(rows, partitions, spans)
        await asyncio.gather(*(future for _, _, future in sends))
        raise ProcessDied("after publishing, before marking")


async def test_relay_that_dies_before_marking_republishes_and_idempotent_consumer_applies_once(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    watcher = await TopicWatcher(stack.kafka, scratch.topic).start()
    async with db.transaction(scratch.sessions) as session:
        await add_to_outbox(session, scratch.outbox, [message(scratch.topic, "lead-a")])
    with pytest.raises(ProcessDied):
        await DiesBeforeMarking(scratch.sessions, scratch.outbox, producer, service="test").publish_once()
    await OutboxRelay(scratch.sessions, scratch.outbox, producer, service="test").publish_once()

    records = await watcher.wait_for(lambda r: r.key == b"lead-a", count=2)
    await watcher.stop()
    assert records[0].value == records[1].value
    for _ in range(2):
        await apply_batch(scratch, records)
    async with scratch.sessions() as session:
        times = await session.scalar(
            select(scratch.applied.c.times).where(scratch.applied.c.lead_id == "lead-a")
        )
    assert times == 1


async def test_one_batch_with_an_id_twice_applies_the_first_body_once(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    watcher = await TopicWatcher(stack.kafka, scratch.topic).start()
    event_id, now = str(uuid.uuid4()), datetime.now(UTC)
    for lead_id in ("lead-first", "lead-second"):  # one id, two bodies, read in one batch
        event = new_event("mql.created", "tests", lead_id, mql_data(lead_id), id=event_id, time=now)
        outgoing = OutboxMessage.of_event(scratch.topic, event)
        await producer.send_and_wait(
            scratch.topic, outgoing.value, key=b"same-lead", headers=list(outgoing.headers)
        )
    records = await watcher.wait_for(lambda r: r.key == b"same-lead", count=2)
    await watcher.stop()
    await apply_batch(scratch, records)
    async with scratch.sessions() as session:
        applied = (await session.execute(select(scratch.applied.c.lead_id, scratch.applied.c.times))).all()
    assert [tuple(row) for row in applied] == [("lead-first", 1)]


async def apply_batch(scratch: Scratch, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
    """An idempotent consumer: counts how often each lead was applied."""
    valid, dead = decode_batch(records, {"mql.created"}, lambda topic: f"{topic}.dlq", service="test")
    assert not dead
    async with db.transaction(scratch.sessions) as session:
        for item in await first_seen(session, scratch.processed, valid):
            lead_id = item.event.subject
            updated = await session.execute(
                update(scratch.applied)
                .where(scratch.applied.c.lead_id == lead_id)
                .values(times=scratch.applied.c.times + 1)
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                await session.execute(scratch.applied.insert().values(lead_id=lead_id, times=1))


async def test_consumer_killed_after_db_commit_before_offset_commit_rereads_and_changes_nothing_twice(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    for lead in ("lead-1", "lead-2", "lead-3"):
        value, headers = message(scratch.topic, lead).value, list(message(scratch.topic, lead).headers)
        await producer.send_and_wait(scratch.topic, value, key=lead.encode(), headers=headers)
    group = f"test-{uuid.uuid4().hex[:8]}"
    handled: list[int] = []

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        await apply_batch(scratch, records)
        handled.append(len(records))

    async def run_until(consumer_type: type[BatchConsumer], condition: Callable[[], bool]) -> None:
        consumer = kafka.make_consumer(
            stack.kafka, group_id=group, topics=[scratch.topic], client_id=group, max_records=100
        )
        await consumer.start()
        stop = asyncio.Event()
        worker = consumer_type(
            consumer, handler, max_records=100, poll=timedelta(milliseconds=100), service="test"
        )
        task = asyncio.create_task(worker.run(stop))
        try:
            await eventually(condition, timeout=20, what="the batch to be handled")
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
            await consumer.stop()

    class KilledBeforeOffsetCommit(BatchConsumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            """The process dies here: the database has the batch, Kafka never hears of it."""

    await run_until(KilledBeforeOffsetCommit, lambda: sum(handled) >= 3)
    first_pass = sum(handled)
    await run_until(BatchConsumer, lambda: sum(handled) >= first_pass + 3)

    async with scratch.sessions() as session:
        rows = (await session.execute(select(scratch.applied.c.lead_id, scratch.applied.c.times))).all()
        processed = await session.scalar(select(func.count()).select_from(scratch.processed))
    assert sorted(rows) == [("lead-1", 1), ("lead-2", 1), ("lead-3", 1)]
    assert processed == 3


async def test_a_record_that_always_fails_is_dead_lettered_and_the_others_go_on(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    for lead in ("lead-1", "poison", "lead-2"):
        outgoing = message(scratch.topic, lead)
        await producer.send_and_wait(
            scratch.topic, outgoing.value, key=lead.encode(), headers=list(outgoing.headers)
        )
    dead = await TopicWatcher(stack.kafka, f"{scratch.topic}.dlq").start()

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        if any(record.key == b"poison" for record in records):
            raise ValueError("a bug this record triggers")
        await apply_batch(scratch, records)

    async def send(letter: OutboxMessage) -> None:
        await producer.send_and_wait(letter.topic, letter.value, key=letter.key, headers=list(letter.headers))

    group = f"test-{uuid.uuid4().hex[:8]}"
    consumer = kafka.make_consumer(
        stack.kafka, group_id=group, topics=[scratch.topic], client_id=group, max_records=100
    )
    await consumer.start()
    stop = asyncio.Event()
    worker = BatchConsumer(
        consumer,
        handler,
        max_records=100,
        poll=timedelta(milliseconds=50),
        service="test",
        dead_letter_topic_of=lambda topic: f"{topic}.dlq",
        dead_letter_sink=send,
        isolate_after=2,
    )
    task = asyncio.create_task(worker.run(stop))
    try:
        (letter,) = await dead.wait_for(lambda r: r.key == b"poison")
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()
        await dead.stop()

    headers = dict(letter.headers)
    assert (headers["error.class"], headers["error.stage"]) == (b"handler_error", b"handle")
    assert b"a bug this record triggers" in headers["error.message"]
    async with scratch.sessions() as session:
        rows = (await session.execute(select(scratch.applied.c.lead_id, scratch.applied.c.times))).all()
    assert sorted(rows) == [("lead-1", 1), ("lead-2", 1)]


async def test_a_pooled_connection_the_database_dropped_is_replaced_before_use(
    stack: Stack, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make_engine`` pings only connections that sat idle (here: any, the threshold is 0):
    one whose backend was terminated meanwhile is replaced, and the unit of work goes through."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    service_engine = db.make_engine(stack.database_url, pool_size=1)
    sessions = db.make_sessions(service_engine)
    try:
        async with db.transaction(sessions) as session:
            backend = await session.scalar(select(func.pg_backend_pid()))
        async with engine.begin() as conn:
            assert await conn.scalar(select(func.pg_terminate_backend(backend)))
        async with db.transaction(sessions) as session:
            again = await session.scalar(select(func.pg_backend_pid()))
        assert again != backend
    finally:
        await service_engine.dispose()
