"""Hostile input on every consumed topic: each bad record goes to the dead-letter topic with
the reason, and the consumers keep going (a valid MQL queued behind the bad ones on the same
partition is still assigned; the last bad record of a batch is still dead-lettered).

Hand-made records cover wrong types, missing and extra attributes, a value near the broker's
size limit, nesting 10,000 deep, invalid UTF-8, NaN, unknown types, binary-mode events with
garbage headers; hypothesis adds arbitrary bytes and arbitrary JSON envelopes. A 5 MB value
never reaches a consumer: the broker refuses it (``message.max.bytes``, 1 MB by default), which
is checked too. Duplicate ids with different bodies and huge integers are not errors: the
first is applied once, the second is read exactly (no float rounding) or dead-lettered.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.routing_configs import Territory
from tests.stack import TopicWatcher, binary_headers, mql_data, structured_event, unique

pytestmark = pytest.mark.integration

ERROR_CLASSES = {
    "not_json",
    "not_cloudevent",
    "missing_attribute",
    "invalid_attribute",
    "wrong_type",
    "invalid_data",
    "subject_mismatch",
    "handler_error",
}
# topic -> its dead-letter topic; every topic some service consumes.
CONSUMED = {
    "lead.mql-created": "lead.mql-created.dlq",
    "lead.assigned": "lead.assigned.dlq",
    "lead.accepted": "lead.accepted.dlq",
    "lead.rejected": "lead.rejected.dlq",
    "lead.escalated": "lead.escalated.dlq",
    "lead.qualified": "lead.qualified.dlq",
    "routing.config": "routing.config.dlq",
}
TYPES = {
    "lead.mql-created": "mql.created",
    "lead.assigned": "lead.assigned",
    "lead.accepted": "lead.accepted",
    "lead.rejected": "lead.rejected",
    "lead.escalated": "lead.escalated",
    "lead.qualified": "lead.qualified",
    "routing.config": "routing.config_applied",
}
Record = tuple[str, bytes | None, list[tuple[str, bytes]]]  # (what it is, value, headers)


def envelope(type_: str, data: Any, **attributes: Any) -> dict[str, Any]:
    lead_id = data.get("lead_id") if isinstance(data, dict) else None
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "tests/hostile",
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "subject": lead_id or "lead-x",
        "datacontenttype": "application/json",
        "data": data,
        **attributes,
    }


def hand_made(topic: str) -> list[Record]:
    type_ = TYPES[topic]
    lead = mql_data()
    good = envelope(type_, lead)
    missing_id = {k: v for k, v in good.items() if k != "id"}
    dumps = json.dumps
    return [
        ("wrong type of lead_id", dumps(envelope(type_, {**lead, "lead_id": 123})).encode(), []),
        (
            "wrong type of employees",
            dumps(envelope(type_, {**lead, "company": {"employees": "many"}})).encode(),
            [],
        ),
        ("data a list", dumps(envelope(type_, [1, 2])).encode(), []),
        ("missing id", dumps(missing_id).encode(), []),
        ("missing data", dumps({k: v for k, v in good.items() if k != "data"}).encode(), []),
        ("extra attribute, an object", dumps({**good, "extra": {"nested": True}}).encode(), []),
        ("time not RFC 3339", dumps({**good, "time": "yesterday"}).encode(), []),
        ("specversion 0.3", dumps({**good, "specversion": "0.3"}).encode(), []),
        ("near the size limit", dumps({**good, "data": {"junk": "x" * 900_000}}).encode(), []),
        ("nesting 10,000 deep", b"[" * 10_000 + b"]" * 10_000, []),
        (
            "nesting 10,000 deep in data",
            dumps({**good, "data": None}).encode().replace(b"null", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
            [],
        ),
        ("invalid UTF-8", b'{"specversion": "1.0", "id": "\xff\xfe"}', []),
        ("NaN", dumps({**good, "data": {**lead, "score": float("nan")}}).encode(), []),
        ("Infinity", dumps(good).encode().replace(b'"specversion"', b'"x": Infinity, "specversion"', 1), []),
        ("unknown type", dumps(envelope("lead.exploded", lead)).encode(), []),
        ("empty value", b"", []),
        ("no value", None, []),
        ("a JSON string", b'"hello"', []),
        ("batch mode", dumps([good]).encode(), [("content-type", b"application/cloudevents-batch+json")]),
        (
            "binary mode, garbage headers",
            dumps(lead).encode(),
            [("ce_specversion", b"\xff\xfe\x00"), ("ce_id", b"\x80")],
        ),
        (
            "binary mode, no type",
            dumps(lead).encode(),
            [h for h in binary_headers(lead) if h[0] != "ce_type"],
        ),
        ("binary mode, not JSON", b"\x00\x01garbage", binary_headers(lead, type_=type_)),
    ]


async def produce(
    producer: AIOKafkaProducer, topic: str, key: bytes, records: list[Record]
) -> dict[int, str]:
    """Send records with one key (one partition, in order); answer offset -> what it is."""
    offsets = {}
    for what, value, headers in records:
        metadata = await producer.send_and_wait(topic, value, key=key, headers=headers)
        offsets[metadata.offset] = what
    return offsets


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()  # type: ignore[no-any-return]
    return None


async def wait_dead_lettered(
    watcher: TopicWatcher, topic: str, partition: int, offsets: dict[int, str], timeout: float = 60
) -> dict[int, str]:
    """Wait until every offset has a dead letter; answer offset -> error.class."""

    def ours(record: Any) -> bool:
        return (
            header(record, "original.topic") == topic
            and header(record, "original.partition") == str(partition)
            and int(header(record, "original.offset") or -1) in offsets
        )

    found: dict[int, str] = {}

    def complete(record: Any) -> bool:
        if ours(record):
            found[int(header(record, "original.offset") or -1)] = header(record, "error.class") or ""
        return len(found) >= len(offsets)

    await watcher.wait_for(complete, timeout=timeout)
    return found


@pytest.mark.parametrize("topic", sorted(CONSUMED))
async def test_hand_made_bad_events_are_dead_lettered_with_the_reason(
    producer: AIOKafkaProducer, topic: str, stack: Any, territory: Territory
) -> None:
    dlq = await TopicWatcher(stack.kafka, CONSUMED[topic]).start()
    assigned = await TopicWatcher(stack.kafka, "lead.assigned").start()
    try:
        key = unique("hostile").encode()
        records = hand_made(topic)
        offsets = await produce(producer, topic, key, records)
        partition = (await producer.send_and_wait(topic, b"not json either", key=key)).partition
        last = max(offsets) + 1
        offsets[last] = "a last bad record (the consumer still reads)"
        if topic == "lead.mql-created":  # a valid lead behind them is still assigned
            lead = mql_data()
            await producer.send_and_wait(topic, structured_event(lead), key=key)
        found = await wait_dead_lettered(dlq, topic, partition, offsets)
        report = {offsets[offset]: error for offset, error in sorted(found.items())}
        print(f"{topic}: {json.dumps(report, indent=1)}")
        assert set(found.values()) <= ERROR_CLASSES, report
        if topic == "lead.mql-created":
            (event,) = await assigned.events_for([lead["lead_id"]], timeout=30)
            assert event["lead_id"] == lead["lead_id"]
    finally:
        await dlq.stop()
        await assigned.stop()


async def test_a_5_mb_value_is_refused_by_the_broker(stack: Any) -> None:
    big = AIOKafkaProducer(bootstrap_servers=stack.kafka, max_request_size=8 * 1024 * 1024, acks="all")
    await big.start()
    try:
        with pytest.raises(KafkaError):
            await big.send_and_wait("lead.mql-created", b"x" * (5 * 1024 * 1024), key=b"five-megabytes")
    finally:
        await big.stop()


async def test_duplicate_id_with_a_different_body_is_applied_once(
    producer: AIOKafkaProducer, assigned: TopicWatcher, dead_letters: TopicWatcher, territory: Territory
) -> None:
    event_id = str(uuid.uuid4())
    first, second, marker = mql_data(), mql_data(), mql_data()
    key = unique("dup").encode()
    for lead in (first, second, marker):
        await producer.send_and_wait(
            "lead.mql-created",
            structured_event(lead, event_id=event_id if lead is not marker else None),
            key=key,
        )
    await assigned.events_for([first["lead_id"], marker["lead_id"]], timeout=30)
    # The marker came after the second on one partition, so the second was consumed by now; its
    # lead.assigned would be on another partition of lead.assigned: read every partition to its end.
    await assigned.read_to_end()
    assert not [e for e in assigned.events() if e["subject"] == second["lead_id"]]


async def test_huge_integers_are_read_exactly_or_dead_lettered(
    producer: AIOKafkaProducer, assigned: TopicWatcher, dead_letters: TopicWatcher, territory: Territory
) -> None:
    lead = mql_data(company={"name": "Huge", "domain": "huge.example.com", "employees": 10**30})
    metadata = await producer.send_and_wait(
        "lead.mql-created", structured_event(lead), key=lead["lead_id"].encode()
    )

    def handled(record: Any) -> bool:
        if record.topic == "lead.assigned":
            return bool(json.loads(record.value)["subject"] == lead["lead_id"])
        return header(record, "original.offset") == str(metadata.offset) and header(
            record, "original.partition"
        ) == str(metadata.partition)

    for _ in range(600):
        await assigned._poll()
        await dead_letters._poll()
        outcome = [r for r in assigned.records if handled(r)] + [
            r for r in dead_letters.records if handled(r)
        ]
        if outcome:
            break
    assert outcome, "the lead with a huge integer was neither assigned nor dead-lettered"
    if outcome[0].topic == "lead.assigned":
        assert json.loads(outcome[0].value)["data"]["lead"]["company"]["employees"] == 10**30


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
garbage = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["id", "source", "type", "time", "subject", "data", "datacontenttype"]), json_values
    ).map(
        lambda attrs: json.dumps({"specversion": "1.0", **attrs, "type": f"not.{attrs.get('type')}"}).encode()
    ),
)


@pytest.mark.parametrize("topic", sorted(CONSUMED))
async def test_generated_garbage_is_dead_lettered(producer: AIOKafkaProducer, topic: str, stack: Any) -> None:
    values: list[bytes] = []

    @given(value=garbage)
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def collect(value: bytes) -> None:
        values.append(value)

    collect()
    dlq = await TopicWatcher(stack.kafka, CONSUMED[topic]).start()
    try:
        key = unique("fuzz").encode()
        records: list[Record] = [(f"generated {i}", value or b"\x00", []) for i, value in enumerate(values)]
        offsets = await produce(producer, topic, key, records)
        partition = (await producer.send_and_wait(topic, b"{", key=key)).partition
        offsets[max(offsets) + 1] = "marker"
        found = await wait_dead_lettered(dlq, topic, partition, offsets)
        assert set(found.values()) <= ERROR_CLASSES
    finally:
        await dlq.stop()
