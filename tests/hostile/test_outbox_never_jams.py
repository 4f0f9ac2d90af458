"""The outbox never jams (CONTRACT §13): a row the broker refuses for good is set aside (kept,
counted, listed and replayable with ``handoff dlq``), and the rows around it are published
exactly once, in one round; a dead letter too large for the broker reaches its topic as a
truncated copy naming the set-aside row that holds the whole record.

The relay runs here on an outbox table and topics of this test's own (a scratch schema);
the last test sends the issue's 1,045,000-byte MQL through the real stack.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_shared import db, set_aside
from handoff_shared.outbox import OutboxMessage, OutboxRelay
from handoff_shared.outbox import add as add_to_outbox
from handoff_shared.topics import DLQ_HEADERS
from sqlalchemy import MetaData, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.hostile.canary import Canary, header
from tests.stack import ROOT, Stack, TopicWatcher, start_producer, unique

pytestmark = pytest.mark.integration

TOO_LARGE = 1_100_000  # over the broker's message.max.bytes (1 MB by default)


@dataclass
class Scratch:
    schema: str
    topic: str
    sessions: async_sessionmaker[AsyncSession]
    outbox: Table

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}.dlq"

    async def write(self, messages: list[OutboxMessage]) -> None:
        async with db.transaction(self.sessions) as session:
            await add_to_outbox(session, self.outbox, messages)

    async def rows(self) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(select(self.outbox).order_by(self.outbox.c.id))).all())


@pytest.fixture
async def scratch(stack: Stack, engine: AsyncEngine) -> AsyncIterator[Scratch]:
    tag = uuid.uuid4().hex[:10]
    schema, topic = f"test_{tag}", f"test.outbox.{tag}"
    metadata = MetaData(schema=schema)
    outbox = db.outbox_table(metadata)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    await admin.create_topics([NewTopic(name, 2, 1) for name in (topic, f"{topic}.dlq")])
    await admin.close()
    yield Scratch(schema, topic, db.make_sessions(engine), outbox)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def record(
    topic: str, key: str, value: bytes = b"{}", headers: tuple[tuple[str, bytes], ...] = ()
) -> OutboxMessage:
    return OutboxMessage(topic, key.encode(), value, headers)


def keys(records: list[ConsumerRecord[bytes, bytes]]) -> list[bytes | None]:
    return sorted(r.key for r in records)


async def test_rows_refused_for_good_are_set_aside_and_the_rest_published_once(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack
) -> None:
    watcher = await TopicWatcher(stack.kafka, scratch.topic).start()
    reason = (
        (DLQ_HEADERS.error_class, b"not_json"),
        (DLQ_HEADERS.original_topic, scratch.topic.encode()),
        (DLQ_HEADERS.original_offset, b"7"),
    )
    await scratch.write(
        [
            record(scratch.topic, "a"),
            record(scratch.topic, "huge", b"x" * TOO_LARGE),
            record(scratch.topic, "b"),  # maybe in the huge one's partition, maybe not
            record(f"no.such.topic.{scratch.schema}", "lost"),
            record(scratch.dead_letter_topic, "huge-dead", b"y" * TOO_LARGE, reason),
            record(scratch.topic, "c"),
        ]
    )
    relay = OutboxRelay(scratch.sessions, scratch.outbox, producer, service="test")

    published = await relay.publish_once()  # one round, no exception
    assert published == 3
    assert await relay.set_aside_count() == 3
    copied = await relay.publish_once()  # the truncated copy of the dead letter
    assert copied == 1
    assert await relay.pending() == 0
    assert await relay.publish_once() == 0

    records = await watcher.wait_for(lambda r: True, count=3)
    await watcher.read_to_end()
    await watcher.stop()
    assert keys(watcher.records) == [b"a", b"b", b"c"]  # each once
    assert keys(records) == [b"a", b"b", b"c"]
    rows = {row.key: row for row in reversed(await scratch.rows())}  # the first of a key (not its copy)
    assert rows[b"huge"].set_aside_at is not None
    assert rows[b"huge"].set_aside_reason.startswith("TooLarge")
    assert len(rows[b"huge"].value) == TOO_LARGE  # kept whole
    assert rows[b"lost"].set_aside_reason.startswith("UnknownTopic")
    assert rows[b"huge-dead"].set_aside_at is not None

    dead = await TopicWatcher(stack.kafka, scratch.dead_letter_topic).start()
    # the copy was published before this watcher started: read the topic from its start
    for partition in dead._consumer.assignment():
        dead._consumer.seek(partition, 0)
    (copy,) = await dead.wait_for(lambda r: r.key == b"huge-dead")
    await dead.stop()
    assert copy.value == b"y" * set_aside.TRUNCATED_VALUE_BYTES
    where = f"outbox:{scratch.schema}/{rows[b'huge-dead'].id}"
    assert header(copy, set_aside.SET_ASIDE_HEADER) == where.encode()
    assert header(copy, set_aside.TRUNCATED_HEADER) == str(TOO_LARGE).encode()
    assert header(copy, DLQ_HEADERS.error_class) == b"not_json"


async def test_a_record_the_broker_refuses_is_set_aside_and_the_partition_goes_on(
    scratch: Scratch, stack: Stack
) -> None:
    """A topic whose max.message.bytes is below the relay's own limit: the broker itself refuses
    the batch. An idempotent producer that saw that numbers its next batches of the partition
    wrongly; the relay replaces it, and the rows behind (same key, same partition) go out once."""
    small = f"test.outbox.small.{scratch.schema}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    await admin.create_topics([NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "2000"})])
    await admin.close()
    producers = [await start_producer(stack.kafka)]

    async def renew() -> AIOKafkaProducer:
        producers.append(await start_producer(stack.kafka))
        return producers[-1]

    relay = OutboxRelay(scratch.sessions, scratch.outbox, None, service="test")
    relay.attach(producers[0], renew)
    watcher = await TopicWatcher(stack.kafka, small).start()
    try:
        rows = [record(small, "k", b"before"), record(small, "k", b"z" * 5000), record(small, "k", b"after")]
        await scratch.write(rows)
        assert await relay.publish_once() == 2  # in one round: the batch refused, then each alone
        assert await relay.pending() == 0
        await scratch.write([record(small, "k", b"later")])
        assert await relay.publish_once() == 1
        await watcher.wait_for(lambda r: r.value == b"later")
        await watcher.read_to_end()
        assert [r.value for r in watcher.records] == [b"before", b"after", b"later"]
        assert await relay.set_aside_count() == 1
        assert len(producers) >= 2  # replaced after the refusal
    finally:
        await watcher.stop()
        for producer in producers:
            await producer.stop()


async def test_set_aside_rows_are_listed_and_replayed_with_the_dlq_tool(
    scratch: Scratch, producer: AIOKafkaProducer, stack: Stack, engine: AsyncEngine
) -> None:
    missing = f"test.outbox.later.{scratch.schema}"
    await scratch.write([record(missing, "later"), record(scratch.topic, "now")])
    relay = OutboxRelay(scratch.sessions, scratch.outbox, producer, service="test")
    assert await relay.publish_once() == 1
    (row_id,) = [row.id for row in await scratch.rows() if row.set_aside_at is not None]
    address = f"outbox:{scratch.schema}/{row_id}"

    listed = dlq(stack, "list", f"outbox:{scratch.schema}")
    assert address in listed, listed
    assert "UnknownTopic" in listed
    shown = dlq(stack, "show", address)
    assert missing in shown, shown
    assert "later" in shown

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)  # the operator fixes the cause
    await admin.start()
    await admin.create_topics([NewTopic(missing, 1, 1)])
    await admin.close()
    watcher = await TopicWatcher(stack.kafka, missing).start()
    assert "1 set-aside row(s) put back" in dlq(stack, "replay", address)
    assert await relay.set_aside_count() == 0
    assert await relay.publish_once() == 1
    (published,) = await watcher.wait_for(lambda r: True)
    await watcher.stop()
    assert published.key == b"later"
    assert "0 set-aside row(s)" in dlq(stack, "list", f"outbox:{scratch.schema}")


def dlq(stack: Stack, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "handoff_shared.cli", "dlq", *args],
        cwd=ROOT,
        env={"HANDOFF_KAFKA_BOOTSTRAP": stack.kafka, "HANDOFF_DATABASE_URL": stack.database_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_an_mql_whose_dead_letter_is_too_large_never_jams_the_outboxes(
    canary: Canary, producer: AIOKafkaProducer, admin: httpx.AsyncClient, stack: Stack
) -> None:
    """The issue's case: an MQL the broker takes, whose dead letter (the same bytes plus the
    reason headers) it does not (``message.max.bytes``: 1,048,588 bytes of record batch)."""
    marker = unique("huge").encode()
    value = marker + b"x" * (1_048_400 - len(marker))
    sent = await producer.send_and_wait("lead.mql-created", value, key=marker)

    await canary.check()

    def is_ours(letter: ConsumerRecord[bytes, bytes]) -> bool:
        return (
            header(letter, DLQ_HEADERS.original_topic) == b"lead.mql-created"
            and header(letter, DLQ_HEADERS.original_partition) == str(sent.partition).encode()
            and header(letter, DLQ_HEADERS.original_offset) == str(sent.offset).encode()
        )

    letters = await canary.dead_letters(is_ours)
    by_topic = sorted(letter.topic for letter in letters)
    assert by_topic == ["lead.mql-created.dlq", "lead.mql-created.feedback.dlq"], by_topic
    for letter in letters:  # truncated, and naming the set-aside row with the whole record
        assert letter.value == value[: set_aside.TRUNCATED_VALUE_BYTES]
        assert (header(letter, set_aside.SET_ASIDE_HEADER) or b"").startswith(b"outbox:")
    metrics = (await admin.get("/metrics")).text
    assert 'handoff_outbox_set_aside_total{service="router",topic="lead.mql-created.dlq"}' in metrics


def test_a_set_aside_address_names_a_schema_and_a_row() -> None:
    assert set_aside.parse_address("outbox:router/12") == ("router", 12)
    assert set_aside.parse_address("outbox:feedback") == ("feedback", None)
    for bad in ("router/12", "outbox:ro uter/1", "outbox:router/x"):
        with pytest.raises(ValueError, match="is not"):
            set_aside.parse_address(bad)


def test_a_truncated_copy_is_never_cut_again() -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    @dataclass
    class Row:
        id: int
        topic: str
        key: bytes
        value: bytes
        headers: list[list[str]]

    too_large = MessageSizeTooLargeError()
    truncated = [[set_aside.TRUNCATED_HEADER, base64.b64encode(b"2000000").decode()]]
    assert set_aside.truncated_dead_letter(Row(1, "t.dlq", b"k", b"v", truncated), "s", too_large) is None
    assert set_aside.truncated_dead_letter(Row(1, "t", b"k", b"v", []), "s", too_large) is None
    copy = set_aside.truncated_dead_letter(Row(1, "t.dlq", b"k", b"v" * 100_000, []), "s", too_large)
    assert copy is not None
    assert len(copy["value"]) == set_aside.TRUNCATED_VALUE_BYTES
