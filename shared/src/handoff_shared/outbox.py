"""Transactional outbox: events are rows written in the transaction that causes them;
a relay publishes committed rows to Kafka and marks them sent.

Only one relay per service publishes at a time (a transaction-scoped advisory lock), so
each lead's events reach Kafka in the order they were written. A relay that dies after
publishing but before marking publishes the rows again: delivery is at least once, and
every consumer is idempotent.

A record the broker will never take (too large, a topic it does not have) never holds up
the rows behind it: it is set aside in its table (set_aside.py), counted, and left for an
operator; the rest of the batch is published once.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import Boolean, Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_shared import cloudevents, observability, set_aside, tracing
from handoff_shared.cloudevents import CloudEvent
from handoff_shared.db import copy_rows, one_of
from handoff_shared.stopping import wait_or_stop

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OutboxMessage:
    """One Kafka record to publish once the transaction that wrote it commits."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)

    @classmethod
    def of_event(cls, topic: str, event: CloudEvent, key: str | None = None) -> OutboxMessage:
        """A structured-mode CloudEvent keyed by ``key`` (the subject, a lead_id, by default)."""
        value, headers = cloudevents.encode(event)
        if event.extensions:  # the trace context travels in the headers too (tracing.py)
            headers += tracing.record_headers(event.extensions)
        key = key if key is not None else event.subject
        return cls(topic, key.encode() if key is not None else None, value, tuple(headers))

    def row(self) -> dict[str, Any]:
        """The outbox row; header values are bytes, kept as base64 in JSON."""
        return {
            "topic": self.topic,
            "key": self.key,
            "value": self.value,
            "headers": [[name, base64.b64encode(raw).decode()] for name, raw in self.headers],
        }


async def add(session: AsyncSession, table: Table, messages: Sequence[OutboxMessage]) -> None:
    """Write messages in the caller's transaction; they are published after it commits."""
    await copy_rows(session, table, [message.row() for message in messages])


Sent = tuple[tuple[str, int], list[Any], "asyncio.Future[Any]"]
"""A batch handed to Kafka: its (topic, partition), its outbox rows, its acknowledgement."""


@dataclass
class _Outcome:
    """What became of the rows of one round: ids sent, ids to send again, rows set aside."""

    sent: list[int] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)
    refused: list[tuple[Any, BaseException]] = field(default_factory=list)
    error: BaseException | None = None  # the first failure that says nothing about the records


class OutboxRelay:
    """Publishes committed outbox rows in batches and marks them sent."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        producer: Any,
        *,
        batch_max: int = 1000,
        poll: timedelta = timedelta(milliseconds=200),
        retention: timedelta = timedelta(days=7),
        service: str = "handoff",
        max_record_bytes: int = set_aside.BROKER_MAX_MESSAGE_BYTES,
    ) -> None:
        self._sessions = sessions
        self._max_record_bytes = max_record_bytes
        self._renew: Callable[[], Awaitable[Any]] | None = None
        self._table = table
        self._producer = producer
        self._batch_max = batch_max
        self._poll = poll.total_seconds()
        self._retention = retention
        self._service = service
        self._lock_name = f"{table.schema or 'public'}.{table.name}"
        self._wake = asyncio.Event()
        self._partitioner = DefaultPartitioner()
        self._purged_at = 0.0
        self._claim: Any = None  # built on first use (the statement of ``_claim_statement``)

    @property
    def table(self) -> Table:
        """The outbox table this relay publishes."""
        return self._table

    def attach(self, producer: Any, renew: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Publish through ``producer`` (started by the caller). ``renew`` replaces it with a new
        one and answers it: an idempotent producer whose batch the broker refused numbers its
        next batches of that partition wrongly (OutOfOrderSequenceNumber) for as long as it lives."""
        self._producer = producer
        self._renew = renew

    async def _renew_producer(self) -> None:
        if self._renew is not None:
            log.warning("outbox.producer_renewed")
            self._producer = await self._renew()

    async def drain(self, timeout: float = 5.0) -> None:
        """On shutdown: publish what is committed, within ``timeout``, and give up quietly."""
        try:
            async with asyncio.timeout(timeout):
                while await self.publish_once() == self._batch_max:
                    pass
        except (TimeoutError, OSError) as exc:
            log.warning("outbox.drain_incomplete", error=type(exc).__name__)

    def wake(self) -> None:
        """Publish now rather than at the next poll: a unit of work has just committed."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; a failure is logged and retried, never fatal."""
        backoff = 0.1
        while not stop.is_set():
            try:
                published = await self.publish_once()
                await self._purge_if_due()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: retry with growing delays
                log.warning("outbox.publish_failed", error=type(exc).__name__, retry_in=backoff)
                observability.OUTBOX_FAILURES.labels(self._service).inc()
                await wait_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self._batch_max:
                await wait_or_stop(stop, self._poll, self._wake)
                self._wake.clear()

    async def publish_once(self) -> int:
        """Publish one batch of unsent rows; answer how many were published.

        Rows Kafka acknowledged stay marked sent even when others of the batch failed, so a
        retry never publishes them again. A row the broker refuses for good is set aside
        (set_aside.py) and the others go on; after an outage (a failure that says nothing
        about the records) the rows not acknowledged are retried, oldest first, and the
        failure is raised once the acknowledged ones are marked.
        """
        async with self._sessions() as session, session.begin():
            # Claim and mark in one statement (one round trip): the rows are marked sent in this
            # transaction, and those Kafka did not take are unmarked before it commits. The lock
            # is an uncorrelated subquery, evaluated once before the scan; not taken, no rows.
            rows = sorted((await session.execute(self._claim_statement())).all(), key=lambda row: row.id)
            if not rows:
                return 0
            spans: list[Any] = []
            try:
                outcome = await self._publish(rows, spans if tracing.ENABLED else None)
            finally:
                for span in spans:
                    span.end()
            await self._record(session, outcome)
        observability.OUTBOX_PUBLISHED.labels(self._service).inc(len(outcome.sent))
        if outcome.error is not None:
            raise outcome.error
        return len(outcome.sent)

    async def _record(self, session: AsyncSession, outcome: _Outcome) -> None:
        """Unmark the rows Kafka did not take; set aside those it refused for good."""
        table = self._table
        if outcome.unsent:
            unsent = one_of(table.c.id, outcome.unsent)
            await session.execute(update(table).where(unsent).values(sent_at=None))
        copies: list[dict[str, Any]] = []
        for row, error in outcome.refused:
            await session.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(sent_at=None, set_aside_at=func.now(), set_aside_reason=set_aside.reason_of(error))
            )
            observability.OUTBOX_SET_ASIDE.labels(self._service, row.topic).inc()
            log.error("outbox.set_aside", row_id=row.id, topic=row.topic, error=type(error).__name__)
            copy = set_aside.truncated_dead_letter(row, table.schema or "public", error)
            if copy is not None:
                copies.append(copy)
        await copy_rows(session, table, copies)

    async def _publish(self, rows: Sequence[Any], spans: list[Any] | None) -> _Outcome:
        outcome = _Outcome()
        partitions: dict[str, list[int]] = {}
        known: list[Any] = []
        for row in rows:
            if row.topic not in partitions:
                found = await self._partitions_of(row.topic)
                if found is None:
                    missing = set_aside.UnknownTopic(f"no topic {row.topic!r} on the broker")
                    outcome.refused.append((row, missing))
                    continue
                partitions[row.topic] = found
            known.append(row)
        sends = await self._send_in_batches(known, partitions, spans)
        results = await asyncio.gather(*(future for _, _, future in sends), return_exceptions=True)
        if any(set_aside.spoils_producer(result) for result in results):
            await self._renew_producer()
        stalled: set[tuple[str, int]] = set()  # partitions with a failed batch: what follows waits
        for (partition, batch_rows, _), result in zip(sends, results, strict=True):
            if partition in stalled:
                outcome.unsent += [row.id for row in batch_rows]  # published again after, in order
            elif not isinstance(result, BaseException):
                outcome.sent += [row.id for row in batch_rows]
            elif set_aside.is_refused_for_good(result) and len(batch_rows) == 1:
                outcome.refused.append((batch_rows[0], result))
            elif set_aside.is_refused_for_good(result):
                await self._one_by_one(batch_rows, partitions, outcome)
            else:
                stalled.add(partition)
                outcome.unsent += [row.id for row in batch_rows]
                outcome.error = outcome.error or result
        return outcome

    async def _one_by_one(
        self, rows: Sequence[Any], partitions: dict[str, list[int]], outcome: _Outcome
    ) -> None:
        """A batch refused for good, sent again a record at a time: which records were it?"""
        for index, row in enumerate(rows):
            ((_, _, future),) = await self._send_in_batches([row], partitions)
            (error,) = await asyncio.gather(future, return_exceptions=True)
            if set_aside.spoils_producer(error):
                await self._renew_producer()
            if not isinstance(error, BaseException):
                outcome.sent.append(row.id)
            elif set_aside.is_refused_for_good(error):
                outcome.refused.append((row, error))
            else:
                outcome.unsent += [later.id for later in rows[index:]]
                outcome.error = outcome.error or error
                return

    async def _partitions_of(self, topic: str) -> list[int] | None:
        """The partitions of ``topic``; None when the broker answers that it has no such topic
        (raises while the broker is away)."""
        client = self._producer.client
        if client.cluster.partitions_for_topic(topic) is None:
            metadata = await client.fetch_all_metadata()
            if topic not in metadata.topics():
                return None
        return sorted(await self._producer.partitions_for(topic))

    def _claim_statement(self) -> Any:
        if self._claim is None:
            table = self._table
            locked = select(
                func.pg_try_advisory_xact_lock(func.hashtext(self._lock_name), type_=Boolean)
            ).scalar_subquery()
            oldest = (
                select(table.c.id)
                .where(table.c.sent_at.is_(None), table.c.set_aside_at.is_(None), locked)
                .order_by(table.c.id)
                .limit(self._batch_max)
                .with_for_update(skip_locked=True)
            )
            self._claim = (
                update(table)
                .where(table.c.id.in_(oldest))
                .values(sent_at=func.now())
                .returning(table.c.id, table.c.topic, table.c.key, table.c.value, table.c.headers)
            )
        return self._claim

    async def _send_in_batches(
        self, rows: Sequence[Any], partitions: dict[str, list[int]], spans: list[Any] | None = None
    ) -> list[Sent]:
        """Hand the rows to Kafka a record batch per partition, in row order; answer each batch's
        partition and rows beside the future Kafka's acknowledgement completes.

        Keyed records go to the partition the default partitioner gives (murmur2, as Java's),
        so they land where a plain ``send`` would put them; building batches directly costs a
        fraction of a ``send`` per record. With ``spans`` (tracing on), each traced row is
        published under a span of its own, which the caller ends once the batch is acknowledged.
        """
        sends: list[Sent] = []
        open_batches: dict[tuple[str, int], tuple[Any, list[Any]]] = {}
        for row in rows:
            choices = partitions[row.topic]
            partition = (row.topic, self._partitioner(row.key, choices, choices))
            headers = [(name, base64.b64decode(raw)) for name, raw in row.headers]
            if spans is not None:
                span = tracing.publishing(row.topic, headers)
                if span is not None:
                    spans.append(span)
            entry = open_batches.get(partition)
            record = {"key": row.key, "value": row.value, "timestamp": None, "headers": headers}
            if entry is not None and entry[0].append(**record) is not None:
                entry[1].append(row)
                continue
            if entry is not None:
                sends.append(await self._send_batch(partition, *entry))
            batch = self._producer.create_batch()
            # An empty batch takes any one record, however large: the broker judges its size.
            batch.append(**record)
            open_batches[partition] = (batch, [row])
        for partition, (batch, batch_rows) in open_batches.items():
            # Closed, the batch goes at once: the producer's linger is for records sent one by
            # one, and this batch holds everything there is to send.
            sends.append(await self._send_batch(partition, batch, batch_rows))
        return sends

    async def _send_batch(self, partition: tuple[str, int], batch: Any, rows: list[Any]) -> Sent:
        batch.close()
        try:
            if len(rows) == 1 and batch.size() > self._max_record_bytes:
                # Refused here, not by the broker: a refused batch would spoil the producer.
                raise set_aside.TooLarge(batch.size(), self._max_record_bytes)
            future = await self._producer.send_batch(batch, partition[0], partition=partition[1])
        except Exception as error:  # not even queued (metadata lost, say): the batch failed
            future = asyncio.get_running_loop().create_future()
            future.set_exception(error)
        return partition, rows, future

    async def pending(self) -> int:
        """How many rows wait to be published."""
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(self._table).where(*self._unsent()))
        return int(count or 0)

    async def backlog(self) -> tuple[int, float]:
        """How many rows wait to be published, and the oldest one's age in seconds (0 if none)."""
        table = self._table
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count(), func.extract("epoch", func.now() - func.min(table.c.created_at))
                    ).where(*self._unsent())
                )
            ).one()
        return int(row[0] or 0), float(row[1] or 0.0)

    async def set_aside_count(self) -> int:
        """How many rows are set aside, waiting for an operator (``handoff dlq``)."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(self._table).where(self._table.c.set_aside_at.is_not(None))
            )
        return int(count or 0)

    def _unsent(self) -> tuple[Any, ...]:
        return (self._table.c.sent_at.is_(None), self._table.c.set_aside_at.is_(None))

    async def _purge_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._purged_at < 60:
            return
        self._purged_at = now
        async with self._sessions() as session, session.begin():
            await session.execute(
                text(f"DELETE FROM {self._lock_name} WHERE sent_at < now() - make_interval(secs => :secs)"),
                {"secs": self._retention.total_seconds()},
            )
