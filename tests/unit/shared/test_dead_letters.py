"""Dead letters keep the original bytes and say why, in the headers of CONTRACT §1."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from handoff_shared.cloudevents import InvalidEvent
from handoff_shared.kafka import dead_letter, decode_batch
from handoff_shared.topics import dead_letter_topic


def record(
    value: bytes | None, headers: list[tuple[str, bytes]] | None = None
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="lead.mql-created",
        partition=2,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=b"lead-9",
        value=value,
        checksum=None,
        serialized_key_size=6,
        serialized_value_size=len(value or b""),
        headers=tuple(headers or ()),
    )


def test_dead_letter_keeps_bytes_key_and_headers_and_adds_the_reason() -> None:
    original = record(b"\xff not json", [("trace-id", b"t-1")])

    letter = dead_letter(
        original,
        InvalidEvent("not_json", "value is not JSON"),
        stage="decode",
        topic="lead.mql-created.dlq",
        service="router",
    )

    headers = dict(letter.headers)
    assert (letter.topic, letter.key, letter.value) == ("lead.mql-created.dlq", b"lead-9", b"\xff not json")
    assert headers == {
        "trace-id": b"t-1",
        "error.class": b"not_json",
        "error.message": b"value is not JSON",
        "error.stage": b"decode",
        "original.topic": b"lead.mql-created",
        "original.partition": b"2",
        "original.offset": b"41",
        "error.service": b"router",
    }


def test_mql_dead_letters_go_to_the_contract_topic_and_others_beside_their_topic() -> None:
    assert dead_letter_topic("lead.mql-created", "router") == "lead.mql-created.dlq"
    assert dead_letter_topic("lead.escalated", "router") == "lead.escalated.dlq"
    assert dead_letter_topic("lead.assigned", "sla-monitor") == "lead.assigned.dlq"
    assert dead_letter_topic("lead.qualified", "feedback") == "lead.qualified.dlq"


def test_a_service_that_does_not_own_a_topics_dead_letters_writes_its_own() -> None:
    """CONTRACT §13: the router alone writes lead.mql-created.dlq."""
    assert dead_letter_topic("lead.mql-created", "feedback") == "lead.mql-created.feedback.dlq"
    assert dead_letter_topic("lead.assigned", "feedback") == "lead.assigned.feedback.dlq"
    assert dead_letter_topic("lead.escalated", "feedback") == "lead.escalated.feedback.dlq"
    renamed = dead_letter_topic("t.mql", "router", owner="router", owners_topic="t.mql.dead")
    assert renamed == "t.mql.dead"
    other = dead_letter_topic("t.mql", "feedback", owner="router", owners_topic="t.mql.dead")
    assert other == "t.mql.feedback.dlq"


def test_batch_with_garbage_splits_into_dead_letters_without_raising() -> None:
    records = [record(None), record(b""), record(b"[1,2]"), record(b'{"specversion": "1.0"}')]

    valid, dead = decode_batch(records, {"mql.created"}, lambda topic: f"{topic}.dlq", service="test")

    assert valid == []
    assert len(dead) == 4
    # No value and an empty one are not JSON; an array is not an event; a bare envelope lacks attributes.
    assert [dict(letter.headers)["error.class"] for letter in dead] == [
        b"not_json",
        b"not_json",
        b"not_cloudevent",
        b"missing_attribute",
    ]
