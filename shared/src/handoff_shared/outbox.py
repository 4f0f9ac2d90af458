"""Transactional outbox: events are rows written in the transaction that causes them;
a relay publishes committed rows to Kafka and marks them sent.

Only one relay per service publishes at a time (a transaction-scoped advisory lock), so
each lead's events reach Kafka in the order they were written. A relay that dies after
publishing but before marking publishes the rows again: delivery is at least once, and
every consumer is idempotent.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import Boolean, Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_shared import cloudevents, observability, tracing
from handoff_shared.cloudevents import CloudEvent
from handoff_shared.db import copy_rows
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
    ) -> None:
        self._sessions = sessions
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

    def attach(self, producer: Any) -> None:
        """Publish through ``producer`` (started by the caller)."""
        self._producer = producer

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
        """Publish one batch of unsent rows; answer how many were published."""
        async with self._sessions() as session, session.begin():
            # Claim and mark in one statement (one round trip): the rows are marked sent in this
            # transaction, which commits only once Kafka has acknowledged them all; a failed send
            # rolls it back and they stay unsent. The lock is an uncorrelated subquery,
            # evaluated once before the scan; not taken, no rows.
            rows = sorted((await session.execute(self._claim_statement())).all(), key=lambda row: row.id)
            if not rows:
                return 0
            spans: list[Any] = []
            try:
                await asyncio.gather(*await self._send_in_batches(rows, spans if tracing.ENABLED else None))
            finally:
                for span in spans:
                    span.end()
        observability.OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        return len(rows)

    def _claim_statement(self) -> Any:
        if self._claim is None:
            table = self._table
            locked = select(
                func.pg_try_advisory_xact_lock(func.hashtext(self._lock_name), type_=Boolean)
            ).scalar_subquery()
            oldest = (
                select(table.c.id)
                .where(table.c.sent_at.is_(None), locked)
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
        self, rows: Sequence[Any], spans: list[Any] | None = None
    ) -> list[asyncio.Future[Any]]:
        """Hand the rows to Kafka a record batch per partition, in row order.

        Keyed records go to the partition the default partitioner gives (murmur2, as Java's),
        so they land where a plain ``send`` would put them; building batches directly costs a
        fraction of a ``send`` per record. With ``spans`` (tracing on), each traced row is
        published under a span of its own, which the caller ends once the batch is acknowledged.
        """
        futures: list[asyncio.Future[Any]] = []
        open_batches: dict[tuple[str, int], Any] = {}
        partitions: dict[str, list[int]] = {}
        for row in rows:
            if row.topic not in partitions:
                partitions[row.topic] = sorted(await self._producer.partitions_for(row.topic))
            choices = partitions[row.topic]
            partition = self._partitioner(row.key, choices, choices)
            headers = [(name, base64.b64decode(raw)) for name, raw in row.headers]
            if spans is not None:
                span = tracing.publishing(row.topic, headers)
                if span is not None:
                    spans.append(span)
            batch = open_batches.get((row.topic, partition))
            if batch is None:
                batch = open_batches[(row.topic, partition)] = self._producer.create_batch()
            if batch.append(key=row.key, value=row.value, timestamp=None, headers=headers) is None:
                batch.close()
                futures.append(await self._producer.send_batch(batch, row.topic, partition=partition))
                batch = open_batches[(row.topic, partition)] = self._producer.create_batch()
                if batch.append(key=row.key, value=row.value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"outbox row {row.id} is larger than a record batch")
        for (topic, partition), batch in open_batches.items():
            # Closed, the batch goes at once: the producer's linger is for records sent one by
            # one, and this batch holds everything there is to send.
            batch.close()
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        return futures

    async def pending(self) -> int:
        """How many rows wait to be published."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(self._table).where(self._table.c.sent_at.is_(None))
            )
        return int(count or 0)

    async def backlog(self) -> tuple[int, float]:
        """How many rows wait to be published, and the oldest one's age in seconds (0 if none)."""
        table = self._table
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count(), func.extract("epoch", func.now() - func.min(table.c.created_at))
                    ).where(table.c.sent_at.is_(None))
                )
            ).one()
        return int(row[0] or 0), float(row[1] or 0.0)

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
