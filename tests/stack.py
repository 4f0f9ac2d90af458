"""What integration and end-to-end tests use to drive the local stack of ``make up``:
its addresses, a producer of MQLs, topic watchers, and waiting on conditions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from handoff_shared.kafka import partitions_of

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    """The addresses ``make up`` wrote to ``.run/stack.env``."""

    kafka: str
    database_url: str
    router_url: str
    sla_monitor_url: str
    feedback_url: str
    admin_token: str

    @classmethod
    def from_env_file(cls, path: Path = ROOT / ".run" / "stack.env") -> Stack:
        if not path.exists():
            raise RuntimeError(f"{path} is missing: start the local stack with `make up` first")
        values = dict(
            line.split("=", 1)
            for line in path.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        return cls(
            kafka=values["HANDOFF_KAFKA_BOOTSTRAP"],
            database_url=values["HANDOFF_DATABASE_URL"],
            router_url=values["HANDOFF_ROUTER_URL"],
            sla_monitor_url=values["HANDOFF_SLA_MONITOR_URL"],
            feedback_url=values["HANDOFF_FEEDBACK_URL"],
            admin_token=values["HANDOFF_ADMIN_TOKEN"],
        )


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``check`` until it answers something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        result = check()
        last = await result if asyncio.iscoroutine(result) else result
        if last:
            return last  # type: ignore[no-any-return]
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def unique(prefix: str) -> str:
    """An id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def mql_data(lead_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """MQL data with the required fields, overridable."""
    data: dict[str, Any] = {
        "lead_id": lead_id or unique("lead"),
        # each lead its own person: the same e-mail twice is one person re-engaging (CONTRACT §11)
        "email": f"{unique('pat')}@example.com",
        "company": {"name": "Example", "domain": f"{unique('co')}.example.com", "employees": 50},
        "country": "US",
        "source": "webinar",
        "campaign": "q4-launch",
        "score": 72,
        "mql_at": datetime.now(UTC).isoformat(),
    }
    data.update(fields)
    return data


def structured_event(
    data: dict[str, Any], *, event_id: str | None = None, type_: str = "mql.created"
) -> bytes:
    """A structured-mode CloudEvent, as marketing automation would send it."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "tests/marketing-automation",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": data.get("lead_id"),
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


def binary_headers(
    data: dict[str, Any], *, event_id: str | None = None, type_: str = "mql.created"
) -> list[tuple[str, bytes]]:
    """The ``ce_*`` headers of a binary-mode CloudEvent."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", (event_id or str(uuid.uuid4())).encode()),
        ("ce_source", b"tests/marketing-automation"),
        ("ce_type", type_.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", str(data.get("lead_id")).encode()),
        ("content-type", b"application/json"),
    ]


class TopicWatcher:
    """Reads a topic from its end at creation time on, keeping every record it sees."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def start(self) -> TopicWatcher:
        await self._consumer.start()

        numbers = await partitions_of(self._bootstrap, self.topic)
        partitions = [TopicPartition(self.topic, p) for p in sorted(numbers)]
        self._consumer.assign(partitions)
        ends = await self._consumer.end_offsets(partitions)
        for partition, offset in ends.items():
            self._consumer.seek(partition, offset)
        return self

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=100)
        for records in batches.values():
            self.records.extend(records)

    async def read_to_end(self, *, timeout: float = 20.0) -> None:
        """Read every record up to the topic's end offsets as of now (not only those polled)."""
        partitions = sorted(self._consumer.assignment(), key=lambda tp: tp.partition)
        ends = await self._consumer.end_offsets(partitions)

        async def caught_up() -> bool:
            await self._poll()
            positions = {tp: await self._consumer.position(tp) for tp in ends}
            return all(positions[tp] >= end for tp, end in ends.items())

        await eventually(caught_up, timeout=timeout, interval=0, what=f"{self.topic} read to its end")

    def events(self) -> list[dict[str, Any]]:
        """Every structured CloudEvent seen so far."""
        return [json.loads(record.value) for record in self.records if record.value]

    async def wait_for(
        self,
        predicate: Callable[[ConsumerRecord[bytes, bytes]], bool],
        *,
        count: int = 1,
        timeout: float = 20.0,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Wait until ``count`` records match ``predicate``; answer them."""

        async def matched() -> list[ConsumerRecord[bytes, bytes]] | None:
            await self._poll()
            found = [record for record in self.records if predicate(record)]
            return found if len(found) >= count else None

        found: list[ConsumerRecord[bytes, bytes]] = await eventually(
            matched, timeout=timeout, interval=0, what=f"{count} record(s) on {self.topic}"
        )
        return found

    async def events_for(self, lead_ids: Iterable[str], *, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait for one event per lead id given (by subject); answer the data of each."""
        wanted = set(lead_ids)
        records = await self.wait_for(lambda r: _subject(r) in wanted, count=len(wanted), timeout=timeout)
        return [json.loads(record.value)["data"] for record in records]


def _subject(record: ConsumerRecord[bytes, bytes]) -> str | None:
    try:
        return json.loads(record.value).get("subject")  # type: ignore[no-any-return]
    except (ValueError, TypeError, AttributeError):
        return None


async def committed_offset(bootstrap: str, group: str, partition: TopicPartition) -> int:
    """The offset ``group`` has committed for ``partition`` (-1: none yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[partition])
    finally:
        await admin.close()
    committed = offsets.get(partition)
    return committed.offset if committed is not None else -1


async def start_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    return producer
