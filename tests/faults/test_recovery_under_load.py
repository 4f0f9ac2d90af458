"""While leads flow: kill -9 the router (twice), the SLA monitor, the feedback service and the
broker, SIGKILL PostgreSQL; recover each time with `make up` only. Afterwards every lead has
exactly one open assignment, every assignment exactly one ``lead.assigned`` event (a relay that
died before marking may publish the same event twice: same id), the SLA monitor holds one timer
per assignment and feedback one record per lead. The counts are printed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from handoff_shared.kafka import partitions_of
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.conftest import kill_part, make_up, stop_postgres
from tests.integration.routing_configs import Territory
from tests.stack import Stack, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration

RATE = 100  # leads/s offered while the faults happen


class FlowStopped(Exception):
    """The flow was stopped while it had no producer."""


class LeadFlow:
    """Produces MQLs at a steady rate, each until the broker acknowledges it (same event id on
    every try), through broker restarts."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.acknowledged: list[str] = []
        self.retries = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def until_sent(self, more: int, timeout: float = 120) -> None:
        target = len(self.acknowledged) + more
        await eventually(lambda: len(self.acknowledged) >= target, timeout=timeout, what=f"{more} more leads")

    async def _pause(self, seconds: float) -> None:
        """Pace the flow: wait ``seconds``, or less if the flow is stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _producer(self) -> AIOKafkaProducer:
        while True:
            if self._stop.is_set():  # e.g. a failed recovery left no broker: never wait forever
                raise FlowStopped
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all", request_timeout_ms=5000
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=10)
                return producer
            except (TimeoutError, KafkaError, OSError):
                await _close(producer)
                self.retries += 1
                await self._pause(0.5)  # the broker is away: back off, then try again

    async def _run(self) -> None:
        try:
            await self._send()
        except FlowStopped:
            return

    async def _send(self) -> None:
        producer = await self._producer()
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * RATE) - len(self.acknowledged)
                if due <= 0:  # ahead of the rate: wait until the next lead is due (or a stop)
                    await self._pause(1 / RATE)
                    continue
                lead = mql_data(country="DE")
                value = structured_event(lead, event_id=str(uuid.uuid4()))
                while True:
                    try:
                        await asyncio.wait_for(
                            producer.send_and_wait("lead.mql-created", value, key=lead["lead_id"].encode()),
                            15,
                        )
                        break
                    except (TimeoutError, KafkaError, OSError):
                        self.retries += 1
                        await _close(producer)
                        producer = await self._producer()
                self.acknowledged.append(lead["lead_id"])
        finally:
            await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(TimeoutError, KafkaError, OSError):
        await asyncio.wait_for(producer.stop(), timeout=10)


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def read_since(bootstrap: str, since: dict[TopicPartition, int]) -> list[dict[str, Any]]:
    """Every event on the topic from ``since`` to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        ends = await consumer.end_offsets(list(since))
        events: list[dict[str, Any]] = []
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                events.extend(json.loads(r.value) for r in records if r.value)
        return events
    finally:
        # aiokafka's group-less consumer may re-raise the cancellation of its own internal
        # task on stop(); nothing else is cancelled here.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


# A client connected to a broker killed with SIGKILL leaves sockets that aiokafka never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_leads_survive_kills_recovered_by_make_up(
    stack: Stack, engine: AsyncEngine, admin: httpx.AsyncClient
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    since = await end_offsets(stack.kafka, "lead.assigned")
    flow = LeadFlow(stack.kafka)
    faults: list[tuple[str, Callable[[], None]]] = [
        ("kill -9 router", lambda: kill_parts("router")),
        (
            "kill -9 router again, sla-monitor and feedback",
            lambda: kill_parts("router", "sla-monitor", "feedback"),
        ),
        ("kill -9 broker", lambda: kill_parts("kafka")),
        ("SIGKILL PostgreSQL", lambda: stop_postgres(signal.SIGKILL)),
    ]
    flow.start()
    recoveries = []
    try:
        for name, fault in faults:
            await flow.until_sent(RATE)  # leads are flowing
            fault()
            took = await asyncio.to_thread(make_up)
            recoveries.append(f"{name}: make up took {took:.0f}s")
        await flow.until_sent(RATE)
    finally:
        await flow.stop()
    lead_ids = flow.acknowledged

    async def open_per_lead() -> dict[str, int] | None:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT lead_id, count(*) FILTER (WHERE status = 'pending'), count(*) "
                    "FROM router.assignments WHERE lead_id = ANY(:ids) GROUP BY lead_id"
                ),
                {"ids": lead_ids},
            )
            counts = {row[0]: (row[1], row[2]) for row in rows}
        return counts if len(counts) == len(set(lead_ids)) else None  # type: ignore[return-value]

    per_lead: dict[str, Any] = await eventually(
        open_per_lead, timeout=180, interval=1, what="every lead assigned"
    )
    wanted = set(lead_ids)

    async def all_events() -> list[dict[str, Any]] | None:
        events = [e for e in await read_since(stack.kafka, since) if e.get("subject") in wanted]
        return events if {e["subject"] for e in events} == wanted else None

    events = await eventually(all_events, timeout=120, interval=1, what="every lead.assigned event")
    ids_per_assignment: dict[str, set[str]] = defaultdict(set)
    for event in events:
        ids_per_assignment[event["data"]["assignment_id"]].add(event["id"])
    event_ids = {event["id"] for event in events}
    republished = len(events) - len(event_ids)

    assignment_ids = list(ids_per_assignment)

    async def recorded(query: str, ids: list[str]) -> int:
        async with engine.connect() as connection:
            count = await connection.scalar(text(query), {"ids": ids})
        return int(count or 0)

    # One timer per assignment (its primary key), one fact row per lead in feedback.
    sla = await eventually(
        lambda: _complete(
            recorded(
                "SELECT count(*) FROM sla_monitor.timers WHERE assignment_id = ANY(:ids)", assignment_ids
            ),
            len(assignment_ids),
        ),
        timeout=120,
        interval=1,
        what="a timer per assignment",
    )
    feedback = await eventually(
        lambda: _complete(
            recorded("SELECT count(*) FROM feedback.leads WHERE lead_id = ANY(:ids)", sorted(wanted)),
            len(wanted),
        ),
        timeout=120,
        interval=1,
        what="a feedback record per lead",
    )
    print(
        "\n".join(
            [
                "fault recovery under load:",
                *(f"  {line}" for line in recoveries),
                f"  leads acknowledged by the broker: {len(lead_ids)} (producer retries {flow.retries})",
                f"  leads with exactly one open assignment: {sum(1 for o, _ in per_lead.values() if o == 1)}",
                f"  assignment rows: {sum(total for _, total in per_lead.values())}",
                f"  lead.assigned records: {len(events)}, distinct events: {len(event_ids)}, "
                f"republished after a crash: {republished}",
                f"  sla-monitor timers: {sla}, feedback lead records: {feedback}",
            ]
        )
    )
    assert Counter(open_ for open_, _ in per_lead.values()) == {1: len(wanted)}
    assert all(total == 1 for _, total in per_lead.values())
    assert len(ids_per_assignment) == len(wanted)
    assert all(len(ids) == 1 for ids in ids_per_assignment.values())
    assert sla == len(assignment_ids) == len(wanted)
    assert feedback == len(wanted)


def kill_parts(*names: str) -> None:
    for name in names:
        kill_part(name)


async def _complete(count: Any, wanted: int) -> int | None:
    value = int(await count)
    return value if value >= wanted else None
