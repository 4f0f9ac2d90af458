"""After each hostile input, proof that the system still works (tests/hostile/).

``Canary.check()`` sends one valid MQL under a routing config of its own, waits for it to be
assigned, waits until every service's outbox has nothing left to publish, and then asserts
that the canary's ``lead.assigned`` is on the topic exactly once: a jammed outbox never
drains, and a relay that republishes a batch publishes the canary twice.

``Canary.dead_letters(...)`` reads every dead-letter topic (``*.dlq``) from where it stood when
the canary started, so a test can assert that a bad record was dead-lettered exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, eventually, mql_data, structured_event, unique

OUTBOXES = ("router", "sla_monitor", "feedback")
"""The schema of each service; each holds an ``outbox`` table."""
DEAD_LETTER_SUFFIX = ".dlq"


@dataclass
class Canary:
    """Watches ``lead.assigned`` and every dead-letter topic from ``start()`` on."""

    stack: Stack
    producer: AIOKafkaProducer
    engine: AsyncEngine
    admin: httpx.AsyncClient
    assigned: TopicWatcher | None = None
    dead_letter_watchers: dict[str, TopicWatcher] = field(default_factory=dict)

    async def start(self) -> Canary:
        self.assigned = await TopicWatcher(self.stack.kafka, "lead.assigned").start()
        for topic in await dead_letter_topics(self.stack.kafka):
            self.dead_letter_watchers[topic] = await TopicWatcher(self.stack.kafka, topic).start()
        return self

    async def stop(self) -> None:
        if self.assigned is not None:
            await self.assigned.stop()
        for watcher in self.dead_letter_watchers.values():
            await watcher.stop()

    async def check(self, *, territory: Territory | None = None, timeout: float = 90.0) -> str:
        """One canary MQL is assigned, its ``lead.assigned`` is published exactly once, and
        every outbox drains. Applies a fresh routing config unless ``territory`` (already
        active) is given. Answers the canary's lead id."""
        assert self.assigned is not None, "Canary.start() first"
        if territory is None:
            territory = Territory.new()
            await territory.apply(self.admin)
        lead_id = unique("canary")
        await self.producer.send_and_wait(
            "lead.mql-created",
            structured_event(mql_data(lead_id, email=f"{lead_id}@canary.example.com")),
            key=lead_id.encode(),
        )
        await self.assigned.wait_for(lambda r: subject_of(r) == lead_id, timeout=timeout)
        await self.outboxes_drain(timeout=timeout)
        await self.assigned.read_to_end(timeout=timeout)
        published = [record for record in self.assigned.records if subject_of(record) == lead_id]
        assert len(published) == 1, f"the canary's lead.assigned was published {len(published)} times"
        return lead_id

    async def outboxes_drain(self, *, timeout: float = 90.0) -> None:
        """Wait until no service's outbox holds a row it still has to publish."""

        async def drained() -> bool:
            pending = await self.pending()
            return not any(pending.values())

        await eventually(drained, timeout=timeout, interval=0.2, what="every outbox to drain")

    async def pending(self) -> dict[str, int]:
        """Rows each outbox still has to publish (rows set aside for good are not pending)."""
        counts: dict[str, int] = {}
        async with self.engine.connect() as connection:
            for schema in OUTBOXES:
                counts[schema] = int(await connection.scalar(text(pending_query(schema))) or 0)
        return counts

    async def dead_letters(
        self, predicate: Callable[[ConsumerRecord[bytes, bytes]], bool]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records of every dead-letter topic, since ``start()``, that match ``predicate``."""
        for topic in await dead_letter_topics(self.stack.kafka):
            if topic not in self.dead_letter_watchers:  # created since: read it from its start
                watcher = TopicWatcher(self.stack.kafka, topic)
                self.dead_letter_watchers[topic] = await watcher.start()
        found: list[ConsumerRecord[bytes, bytes]] = []
        for watcher in self.dead_letter_watchers.values():
            await watcher.read_to_end()
            found += [record for record in watcher.records if predicate(record)]
        return found


def pending_query(schema: str) -> str:
    return f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL AND set_aside_at IS NULL"


def subject_of(record: ConsumerRecord[bytes, bytes]) -> str | None:
    """The subject of a structured CloudEvent record (None if it is not one)."""
    try:
        subject = json.loads(record.value).get("subject")
    except (ValueError, TypeError, AttributeError):
        return None
    return str(subject) if subject is not None else None


def header(record: ConsumerRecord[bytes, bytes], name: str) -> bytes | None:
    """The value of one header of a record (None if absent)."""
    return next((value for key, value in record.headers or () if key == name), None)


async def dead_letter_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(topic for topic in await admin.list_topics() if topic.endswith(DEAD_LETTER_SUFFIX))
    finally:
        await admin.close()
