"""Kafka plumbing: an idempotent producer, a batch consumer that commits offsets only after
the handler's database transaction, and dead-lettering of undecodable input.

aiokafka's defaults are wrong for us: auto-commit on, ``auto_offset_reset="latest"``, no
idempotence. Every client here is built with all three set.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from handoff_shared import cloudevents, event_views, observability, tracing
from handoff_shared.cloudevents import CloudEvent, InvalidEvent
from handoff_shared.kafka_security import PLAINTEXT, KafkaSecurity
from handoff_shared.outbox import OutboxMessage
from handoff_shared.topics import DLQ_HEADERS

log = structlog.get_logger(__name__)

Client = TypeVar("Client", AIOKafkaProducer, AIOKafkaConsumer)
BatchHandler = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], Awaitable[None]]


def make_producer(bootstrap: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT) -> AIOKafkaProducer:
    """An idempotent producer that waits for every in-sync replica."""
    return AIOKafkaProducer(
        **security.client_options(),
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        request_timeout_ms=30_000,
    )


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    topics: Collection[str],
    client_id: str,
    max_records: int,
    security: KafkaSecurity = PLAINTEXT,
) -> AIOKafkaConsumer:
    """A consumer that reads from the start of unseen partitions and never commits by itself."""
    return AIOKafkaConsumer(
        *topics,
        **security.client_options(),
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_wait_ms=100,
        isolation_level="read_committed",
    )


async def start_client(
    factory: Callable[[], Client], *, timeout: timedelta, stop: asyncio.Event | None = None
) -> Client:
    """Start a fresh client from ``factory``, retrying while the broker is away.

    ``start()`` can hang while the broker is unreachable, so each try is bounded; a client
    whose start failed is closed and a new one is built for the next try.
    """
    backoff = 0.2
    while True:
        client = factory()
        try:
            await asyncio.wait_for(client.start(), timeout=timeout.total_seconds())
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("kafka.start_failed", client=type(client).__name__, error=repr(exc), retry_in=backoff)
            await close_quietly(client)
            if stop is not None and stop.is_set():
                raise
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        return client


async def close_quietly(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    try:
        await asyncio.wait_for(client.stop(), timeout=5)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("kafka.close_failed", error=repr(exc))


async def is_reachable(producer: AIOKafkaProducer | None, timeout: float = 2.0) -> bool:
    """True when the broker answers a metadata request."""
    if producer is None:
        return False
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=timeout)
    except (TimeoutError, KafkaError, OSError):
        return False
    return True


async def partitions_of(
    bootstrap: str, topic: str, *, timeout: float = 10.0, security: KafkaSecurity = PLAINTEXT
) -> list[int]:
    """The partitions of ``topic`` once each has a leader (a topic just created takes a moment).

    A consumer only knows the partitions of topics it subscribed to; this asks the broker.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                (described,) = await admin.describe_topics([topic])
                partitions = described.get("partitions") or []
                if (
                    not described.get("error_code")
                    and partitions
                    and all(p["leader"] >= 0 for p in partitions)
                ):
                    return sorted(p["partition"] for p in partitions)
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


DeadLetterSink = Callable[[OutboxMessage], Awaitable[None]]
# Failures that say nothing about the records: wait and retry the batch, however long it takes.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    OperationalError,
    InterfaceError,
)


def is_transient(error: BaseException) -> bool:
    """True for failures of the broker, the database or the network, as opposed to the data."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT)


class BatchConsumer:
    """Hands batches of records to a handler and commits their offsets only after it returns.

    The handler owns one database transaction for the batch; if it raises, the batch is read
    again after a growing delay. A crash between the handler's commit and the offset commit
    re-delivers the batch, which idempotent handlers apply once.

    A batch that fails ``isolate_after`` times for a reason other than an outage (a bug, or a
    record no code path expected) is handled record by record; a record that fails alone is
    dead-lettered with ``error.stage = handle`` and the partition moves on, so one bad record
    never blocks the others.
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        handler: BatchHandler,
        *,
        max_records: int,
        poll: timedelta,
        service: str,
        dead_letter_topic_of: Callable[[str], str] | None = None,
        dead_letter_sink: DeadLetterSink | None = None,
        isolate_after: int = 3,
    ) -> None:
        self._consumer = consumer
        self._handler = handler
        self._max_records = max_records
        self._poll_ms = int(poll.total_seconds() * 1000)
        self._service = service
        self._dead_letter_topic_of = dead_letter_topic_of
        self._dead_letter_sink = dead_letter_sink
        self._isolate_after = isolate_after

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished and committed first."""
        backoff = 0.1
        failures = 0
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=self._poll_ms, max_records=self._max_records)
            records = [record for partition in batches.values() for record in partition]
            if not records:
                continue
            self._record_lag(batches)
            try:
                with observability.BATCH_SECONDS.labels(self._service).time():
                    await self._handle(records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed batch is retried, never skipped
                log.exception("consumer.batch_failed", records=len(records), error=type(exc).__name__)
                observability.BATCH_FAILURES.labels(self._service).inc()
                failures = 0 if is_transient(exc) else failures + 1
                if failures >= self._isolate_after and self._can_dead_letter():
                    await self._one_by_one(records)
                    failures = 0
                else:
                    for partition, partition_records in batches.items():
                        self._consumer.seek(partition, partition_records[0].offset)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            backoff = 0.1
            failures = 0
            await self.commit({tp: batch[-1].offset + 1 for tp, batch in batches.items()})

    async def _handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        if not tracing.ENABLED:
            await self._handler(records)
            return
        with tracing.handling_batch(", ".join(sorted({record.topic for record in records})), len(records)):
            await self._handler(records)

    def _record_lag(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Per partition in hand: how far its end is beyond this batch (once per batch, not per record)."""
        for partition, partition_records in batches.items():
            end = self._consumer.highwater(partition)
            if end is not None:
                observability.CONSUMER_LAG.labels(self._service, partition.topic, partition.partition).set(
                    max(end - partition_records[-1].offset - 1, 0)
                )

    def _can_dead_letter(self) -> bool:
        return self._dead_letter_sink is not None and self._dead_letter_topic_of is not None

    async def _one_by_one(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle each record alone; dead-letter those that still fail (outages propagate)."""
        sink, topic_of = self._dead_letter_sink, self._dead_letter_topic_of
        if sink is None or topic_of is None:
            raise RuntimeError("no dead-letter sink")
        for record in records:
            try:
                await self._handle([record])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise
                error = InvalidEvent("handler_error", handler_error_message(exc))
                await sink(
                    dead_letter(
                        record, error, stage="handle", topic=topic_of(record.topic), service=self._service
                    )
                )
                observability.DEAD_LETTERS.labels(self._service, record.topic, error.error_class).inc()
                log.error(
                    "consumer.dead_letter_after_failures",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=type(exc).__name__,
                )

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets; after a rebalance the records are re-read, which is harmless."""
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            log.warning("consumer.commit_failed_after_rebalance", partitions=len(offsets))


@dataclass(frozen=True)
class Incoming:
    """A record that decoded into a valid CloudEvent with valid data (the consumer's view of
    the data where it has one, else the full model)."""

    record: ConsumerRecord[bytes, bytes]
    event: CloudEvent
    data: Any


def handler_error_message(exc: BaseException) -> str:
    """What a dead letter's ``error.message`` says of a failure: the error's class and the first
    line of its text, with no e-mail address. The lines after (a database error's DETAIL, the
    statement) can quote the record's data, which the dead letter carries already."""
    first = next(iter(str(exc).splitlines()), "")
    return f"{type(exc).__name__}: {observability.hide_emails(first)[:500]}"


def dead_letter(
    record: ConsumerRecord[bytes, bytes], error: InvalidEvent, *, stage: str, topic: str, service: str
) -> OutboxMessage:
    """The original bytes, unchanged, with the reason in headers (CONTRACT §1) and the service
    whose consumer refused them."""
    reason = {
        DLQ_HEADERS.error_class: error.error_class,
        DLQ_HEADERS.error_message: error.message[:4000],
        DLQ_HEADERS.error_stage: stage,
        DLQ_HEADERS.original_topic: record.topic,
        DLQ_HEADERS.original_partition: str(record.partition),
        DLQ_HEADERS.original_offset: str(record.offset),
        DLQ_HEADERS.error_service: service,
    }
    headers = [(name, value) for name, value in (record.headers or ()) if name not in reason]
    headers += [(name, value.encode()) for name, value in reason.items()]
    return OutboxMessage(topic=topic, key=record.key, value=record.value, headers=tuple(headers))


def decode_batch(
    records: Sequence[ConsumerRecord[bytes, bytes]],
    expected_types: Collection[str],
    dead_letter_topic_of: Callable[[str], str],
    *,
    service: str,
    views: event_views.Views | None = None,
) -> tuple[list[Incoming], list[OutboxMessage]]:
    """Split a batch into valid events and dead letters for what could not be read.

    ``views``: per event type, the slim view the consumer reads instead of the full model
    (event_views); types without one are validated with the contract's model."""
    valid: list[Incoming] = []
    dead: list[OutboxMessage] = []
    consumed: Counter[tuple[str, str]] = Counter()  # counted once per batch, not per record
    for record in records:
        try:
            headers = list(record.headers or ())
            if views:
                event, data = event_views.read(record.value, headers, expected_types, views)
            else:
                event, data = cloudevents.decode_typed(record.value, headers, expected_types)
        except InvalidEvent as error:
            log.warning(
                "consumer.dead_letter",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error_class=error.error_class,
            )
            observability.DEAD_LETTERS.labels(service, record.topic, error.error_class).inc()
            dead.append(
                dead_letter(
                    record, error, stage="decode", topic=dead_letter_topic_of(record.topic), service=service
                )
            )
            continue
        consumed[(record.topic, event.type)] += 1
        valid.append(Incoming(record, event, data))
        if tracing.ENABLED:
            tracing.consumed(
                record.topic,
                record.partition,
                record.offset,
                list(record.headers or ()),
                event.id,
                event.type,
                event.subject,
                event.extensions,
                alone=len(records) == 1,
            )
    for (topic, type_), count in consumed.items():
        observability.EVENTS_CONSUMED.labels(service, topic, type_).inc(count)
    return valid, dead
