"""Dead letters for operators: read what a ``.dlq`` topic holds, and send fixed events back.

A dead letter is the original record (key, bytes, headers) plus the reason in headers
(CONTRACT §1). Replaying sends a record back to ``original.topic`` with the original key, so
it lands in the same partition as the lead's other events, and with the original CloudEvent
``id``, so a consumer that did apply it after all (or a second replay) treats it as the
duplicate it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from handoff_shared import kafka
from handoff_shared.kafka_security import KafkaSecurity
from handoff_shared.topics import DLQ_HEADERS, DLQ_REASON_HEADER_NAMES, DLQ_SUFFIX

REPLAYED_FROM = "handoff.replayed-from"


class ReplayRefused(Exception):
    """A fixed event that may not replace the dead letter (another id, not a CloudEvent)."""


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def reason(self) -> dict[str, str]:
        """The ``error.*`` and ``original.*`` headers."""
        return {
            name: raw.decode(errors="replace")
            for name, raw in self.headers
            if name in DLQ_REASON_HEADER_NAMES
        }

    @property
    def original_topic(self) -> str:
        return self.reason.get(DLQ_HEADERS.original_topic) or self.topic.removesuffix(DLQ_SUFFIX)

    @property
    def event_id(self) -> str | None:
        """The CloudEvent id, from the structured envelope or the ``ce_id`` header."""
        for name, raw in self.headers:
            if name == "ce_id":
                return raw.decode(errors="replace")
        envelope = _json_object(self.value)
        event_id = envelope.get("id") if envelope else None
        return str(event_id) if event_id is not None else None

    @property
    def address(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers or ()),
        )

    def replayed(self, fixed: bytes | None = None) -> tuple[bytes | None, list[tuple[str, bytes]]]:
        """The value and headers to send back: the original bytes, or ``fixed`` with the same id."""
        headers = [
            (name, raw)
            for name, raw in self.headers
            if name not in DLQ_REASON_HEADER_NAMES and name != REPLAYED_FROM
        ]
        headers.append((REPLAYED_FROM, self.address.encode()))
        if fixed is None:
            return self.value, headers
        envelope = _json_object(fixed)
        binary = any(name == "ce_id" for name, _ in self.headers)
        if not binary and (envelope is None or "id" not in envelope):
            raise ReplayRefused("the fixed event is not a structured CloudEvent (a JSON object with an id)")
        fixed_id = self.event_id if binary else str(envelope["id"]) if envelope else None
        if self.event_id is not None and fixed_id != self.event_id:
            raise ReplayRefused(
                f"the fixed event's id {fixed_id!r} is not the original's {self.event_id!r}: "
                "keep the id, so consumers recognise the event"
            )
        return fixed, headers


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


async def read(
    bootstrap: str,
    topic: str,
    security: KafkaSecurity,
    *,
    offsets: Sequence[tuple[int, int]] | None = None,
    timeout: float = 10.0,
) -> list[DeadLetter]:
    """Every record ``topic`` holds now (or those at the given (partition, offset) pairs);
    read without a consumer group, so nothing is committed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **security.client_options()
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in await kafka.partitions_of(bootstrap, topic, security=security)
        ]
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        if offsets is not None:
            return [await _one(consumer, TopicPartition(topic, p), o, starts, ends) for p, o in offsets]
        letters: list[DeadLetter] = []
        for partition in partitions:
            if ends[partition] <= starts[partition]:
                continue
            consumer.seek(partition, starts[partition])
            while await consumer.position(partition) < ends[partition]:
                batch = await consumer.getmany(partition, timeout_ms=int(timeout * 1000))
                records = batch.get(partition, [])
                if not records:
                    break
                letters += [DeadLetter.of(r) for r in records if r.offset < ends[partition]]
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        await consumer.stop()


async def _one(
    consumer: AIOKafkaConsumer,
    partition: TopicPartition,
    offset: int,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> DeadLetter:
    if partition not in ends or not starts[partition] <= offset < ends[partition]:
        raise LookupError(f"{partition.topic}/{partition.partition}/{offset} is not in the topic (any more)")
    consumer.seek(partition, offset)
    record = await consumer.getone(partition)
    return DeadLetter.of(record)


async def replay(
    bootstrap: str, security: KafkaSecurity, letters: Sequence[tuple[DeadLetter, bytes | None]]
) -> list[str]:
    """Send each (dead letter, fixed value or None) back to its original topic, original key."""
    producer = kafka.make_producer(bootstrap, client_id="handoff-dlq-replay", security=security)
    await producer.start()
    sent = []
    try:
        for letter, fixed in letters:
            value, headers = letter.replayed(fixed)
            await producer.send_and_wait(letter.original_topic, value=value, key=letter.key, headers=headers)
            sent.append(f"{letter.address} -> {letter.original_topic}")
    finally:
        await producer.stop()
    return sent
