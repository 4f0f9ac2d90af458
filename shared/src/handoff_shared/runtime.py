"""The moving parts every service runs in its one event loop: database engine, idempotent
producer, outbox relay and batch consumers, started in the background and stopped cleanly.

The HTTP side answers ``/healthz`` at once; ``/readyz`` turns ready when the database and
the broker both answer, so a service started while Kafka is away comes up by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handoff_shared import db, kafka, observability, outbox, retention, topics
from handoff_shared.kafka import BatchConsumer, BatchHandler
from handoff_shared.outbox import OutboxMessage, OutboxRelay
from handoff_shared.settings import ServiceSettings
from handoff_shared.stopping import wait_or_stop

log = structlog.get_logger(__name__)


class Runtime:
    """Owns the engine, producer, relay and consumers of one service process."""

    def __init__(self, settings: ServiceSettings, *, schema: str, outbox: Table) -> None:
        self.settings = settings
        self.schema = schema
        self.engine: AsyncEngine = db.make_engine(
            settings.database_url.get_secret_value(), pool_size=settings.database_pool_size, schema=schema
        )
        self.sessions: async_sessionmaker[AsyncSession] = db.make_sessions(self.engine)
        self.stop_event = asyncio.Event()
        self.producer: AIOKafkaProducer | None = None
        self.relay = OutboxRelay(
            self.sessions,
            outbox,
            None,
            batch_max=settings.outbox_batch_max,
            poll=settings.outbox_poll,
            retention=settings.outbox_retention,
            service=settings.service_name,
            max_record_bytes=settings.outbox_max_record_bytes,
        )
        self._workers: list[tuple[str, Callable[[asyncio.Event], Awaitable[None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._register("outbox-relay", self._run_relay)  # every role writes events

    @property
    def runs_workers(self) -> bool:
        """Whether this process consumes and runs background work (roles ``all`` and ``worker``)."""
        return self.settings.role != "api"

    @property
    def workers(self) -> list[str]:
        """The names of the work this runtime runs (the relay, consumers, background work)."""
        return [name for name, _ in self._workers]

    def consume(self, group_id: str, topics: Collection[str], handler: BatchHandler) -> None:
        """Register a batch consumer; it starts with the runtime (not in the ``api`` role)."""
        self.spawn(f"consumer:{group_id}", self._consumer_work(group_id, topics, handler))

    def spawn(self, name: str, work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run background work until stop, restarting it (with a delay) if it fails.

        Registered before the runtime starts, it starts with it; after, at once. Not in the
        ``api`` role, whose replicas scale with requests, not with the work.
        """
        if self.runs_workers:
            self._register(name, work)

    def _register(self, name: str, work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self._workers.append((name, work))
        if self._started:
            self._tasks.append(asyncio.create_task(self._supervise(name, work), name=name))

    def retain(self, rules: Sequence[retention.Rule]) -> retention.Retention:
        """Delete the rows ``rules`` expire every ``retention_interval`` and keep the table size
        gauges of the service's schema current (a background worker: not in the ``api`` role)."""
        worker = retention.Retention(
            self.sessions,
            rules,
            service=self.settings.service_name,
            schema=self.schema,
            interval=self.settings.retention_interval,
            batch=self.settings.retention_batch,
            clock=lambda: datetime.now(UTC),
        )
        self.spawn("retention", worker.run)
        return worker

    def dead_letter_topic(self, topic: str) -> str:
        """Where this service writes the records of ``topic`` it cannot read (topics.dead_letter_topic):
        topics are known by their settings, whatever names the deployment gives them."""
        settings = self.settings
        defaults = {
            getattr(settings, name): str(field.default)
            for name, field in type(settings).model_fields.items()
            if name.startswith("topic_")
        }
        return topics.dead_letter_topic(
            topic,
            settings.service_name,
            owner=topics.dead_letter_owner(defaults.get(topic, topic)),
            owners_topic=settings.topic_mql_created_dlq if topic == settings.topic_mql_created else None,
        )

    async def start(self) -> None:
        """Start the producer, the relay, every consumer and background work."""
        self._started = True
        self._tasks = [
            asyncio.create_task(self._supervise(name, work), name=name) for name, work in self._workers
        ]

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop fetching, let each worker finish its batch and commit, then close everything."""
        self.stop_event.set()
        done, pending = await asyncio.wait(self._tasks, timeout=timeout) if self._tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        log.info("runtime.stopped", finished=len(done), cancelled=len(pending))
        await self.engine.dispose()

    async def readiness(self) -> Mapping[str, bool]:
        """Whether the database and the broker answer."""
        database, broker = await asyncio.gather(
            db.is_reachable(self.engine), kafka.is_reachable(self.producer)
        )
        return {"database": database, "kafka": broker}

    async def _send_dead_letter(self, message: OutboxMessage) -> None:
        """Write a dead letter to the outbox, committed before the consumer commits the record's
        offset: the relay publishes it, or sets it aside if the broker will never take it."""
        async with db.transaction(self.sessions) as session:
            await outbox.add(session, self.relay.table, [message])
        self.relay.wake()

    async def _supervise(self, name: str, work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                await work(self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a worker must not die with the process still up
                log.exception(
                    "runtime.worker_failed", worker=name, error=type(exc).__name__, retry_in=backoff
                )
                await wait_or_stop(self.stop_event, backoff)
                backoff = min(backoff * 2, 10.0)

    async def _watch_outbox_backlog(self, stop: asyncio.Event, every: float = 15.0) -> None:
        """Keep the outbox gauges current: the rows waiting and how old the oldest is."""
        service = self.settings.service_name
        while not stop.is_set():
            pending, oldest = await self.relay.backlog()
            observability.OUTBOX_PENDING.labels(service).set(pending)
            observability.OUTBOX_OLDEST_AGE.labels(service).set(oldest)
            observability.OUTBOX_SET_ASIDE_ROWS.labels(service).set(await self.relay.set_aside_count())
            await wait_or_stop(stop, every)

    async def _start_producer(self, stop: asyncio.Event) -> AIOKafkaProducer:
        settings = self.settings
        return await kafka.start_client(
            lambda: kafka.make_producer(
                settings.kafka_bootstrap,
                client_id=f"{settings.service_name}-producer",
                security=settings.kafka_security,
            ),
            timeout=settings.kafka_start_timeout,
            stop=stop,
        )

    async def _run_relay(self, stop: asyncio.Event) -> None:
        self.producer = await self._start_producer(stop)

        async def renew() -> AIOKafkaProducer:
            """A new producer (a new producer id, sequence numbers from 0) for the relay."""
            old, self.producer = self.producer, await self._start_producer(stop)
            if old is not None:
                await kafka.close_quietly(old)
            return self.producer

        self.relay.attach(self.producer, renew)
        try:
            await self.relay.run(stop)
            await self.relay.drain()
        finally:
            await self.producer.stop()

    def _consumer_work(
        self, group_id: str, topics: Collection[str], handler: BatchHandler
    ) -> Callable[[asyncio.Event], Awaitable[None]]:
        settings = self.settings

        async def work(stop: asyncio.Event) -> None:
            consumer = await kafka.start_client(
                lambda: kafka.make_consumer(
                    settings.kafka_bootstrap,
                    group_id=group_id,
                    topics=topics,
                    client_id=f"{settings.service_name}-{group_id}",
                    max_records=settings.consumer_batch_max,
                    security=settings.kafka_security,
                ),
                timeout=settings.kafka_start_timeout,
                stop=stop,
            )
            try:
                await BatchConsumer(
                    consumer,
                    handler,
                    max_records=settings.consumer_batch_max,
                    poll=settings.consumer_poll,
                    service=settings.service_name,
                    dead_letter_topic_of=self.dead_letter_topic,
                    dead_letter_sink=self._send_dead_letter,
                ).run(stop)
            finally:
                await consumer.stop()

        return work
