"""The router over the real stack: territory rules, fair rotation, caps, named accounts,
duplicates, both envelope modes and dead letters (CONTRACT §1-3, §6)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import (
    Stack,
    TopicWatcher,
    binary_headers,
    committed_offset,
    eventually,
    mql_data,
    structured_event,
)

pytestmark = pytest.mark.integration


ROUTER_GROUP = "handoff-router"  # the router's MQL consumer group (RouterSettings.consumer_group)


async def send(
    producer: AIOKafkaProducer, data: dict[str, Any], *, event_id: str | None = None
) -> RecordMetadata:
    return await producer.send_and_wait(
        "lead.mql-created", structured_event(data, event_id=event_id), key=data["lead_id"].encode()
    )


async def test_weighted_team_gets_its_shares_exactly(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, assigned: TopicWatcher
) -> None:
    territory = Territory.new()
    version = await territory.apply(admin)
    leads = [mql_data(country="DE") for _ in range(40)]
    for lead in leads:
        await send(producer, lead)

    events = await assigned.events_for(lead["lead_id"] for lead in leads)

    shares = Counter(event["rep_id"] for event in events)
    assert shares == {territory.ana: 30, territory.ben: 10}
    assert {event["team_id"] for event in events} == {territory.weighted_team}
    assert {event["rule_id"] for event in events} == {"dach"}
    assert all(event["attempt"] == 1 and event["config_version"] == version for event in events)
    assert all(event["explanation"]["strategy"] == "weighted_round_robin" for event in events)


async def test_rep_at_cap_is_skipped_and_lead_goes_to_fallback(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, assigned: TopicWatcher
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    first, second = mql_data(country="FR"), mql_data(country="FR")
    await send(producer, first)
    (one,) = await assigned.events_for([first["lead_id"]])
    await send(producer, second)
    (two,) = await assigned.events_for([second["lead_id"]])

    assert one["rep_id"] == territory.cap
    assert two["rep_id"] == territory.fallback
    assert two["team_id"] == territory.fallback_team
    assert {"rep_id": territory.cap, "reason": "at_max_open"} in two["explanation"]["skipped"]


async def test_named_account_goes_to_its_owner_before_rules(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, assigned: TopicWatcher
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    lead = mql_data(
        country="DE", company={"name": "Acme EU", "domain": f"EU.{territory.account_domain.upper()}"}
    )
    await send(producer, lead)

    (event,) = await assigned.events_for([lead["lead_id"]])

    assert event["rep_id"] == territory.ben
    assert event["explanation"]["matched_by"] == "named_account"
    assert event["lead"]["lead_id"] == lead["lead_id"]
    assert event["sla_due_at"] > event["assigned_at"]


async def test_lead_matching_no_rule_goes_to_fallback_team(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, assigned: TopicWatcher
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    lead = mql_data(country="BR")
    await send(producer, lead)

    (event,) = await assigned.events_for([lead["lead_id"]])

    assert (event["rep_id"], event["team_id"]) == (territory.fallback, territory.fallback_team)


async def test_duplicate_event_and_second_mql_for_open_lead_make_one_assignment(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
    stack: Stack,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    lead = mql_data(country="DE")
    event_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    await send(producer, lead, event_id=event_id)
    await send(producer, lead, event_id=event_id)  # the same event again
    # A different event for the same lead, still open; the lead id keys all three to one partition.
    last = await send(producer, lead, event_id=second_id)
    partition = TopicPartition(last.topic, last.partition)

    async def consumed() -> bool:
        # The router commits a batch's offsets only after its transaction committed.
        return bool(await committed_offset(stack.kafka, ROUTER_GROUP, partition) > last.offset)

    await eventually(consumed, timeout=30, what="the router to commit past the duplicates")
    async with engine.connect() as conn:
        assignments = (
            await conn.execute(
                text("SELECT assignment_id, mql_event_id FROM router.assignments WHERE lead_id = :lead"),
                {"lead": lead["lead_id"]},
            )
        ).all()
        recorded = await conn.scalar(
            text("SELECT count(*) FROM router.processed_events WHERE event_id IN (:first, :second)"),
            {"first": event_id, "second": second_id},
        )
        last_row = await conn.scalar(text("SELECT max(id) FROM router.outbox"))

    async def published() -> bool:
        async with engine.connect() as conn:
            unsent = await conn.scalar(
                text("SELECT count(*) FROM router.outbox WHERE sent_at IS NULL AND id <= :last"),
                {"last": last_row},
            )
        return bool(unsent == 0)

    await eventually(published, what="the outbox to have published what the batches wrote")
    await assigned.read_to_end()

    # One assignment, from the first event; both distinct events were seen (neither dead-lettered);
    # one lead.assigned for the lead on the whole topic.
    assert [row.mql_event_id for row in assignments] == [event_id]
    assert recorded == 2
    emitted = [
        event["data"]["assignment_id"] for event in assigned.events() if event["subject"] == lead["lead_id"]
    ]
    assert emitted == [str(assignments[0].assignment_id)]


async def test_binary_mode_event_is_routed(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, assigned: TopicWatcher
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    lead = mql_data(country="DE")
    await producer.send_and_wait(
        "lead.mql-created",
        json.dumps(lead).encode(),
        key=lead["lead_id"].encode(),
        headers=binary_headers(lead),
    )

    (event,) = await assigned.events_for([lead["lead_id"]])

    assert event["rep_id"] == territory.ana  # a fresh 3:1 team starts with ana


# Each bad record, and the dead letter's error.class for it (the classes of cloudevents.py).
INVALID = {
    "not_json": (b"{this is not json", b"not_json"),
    "not_cloudevent": (json.dumps({"hello": "world"}).encode(), b"not_cloudevent"),
    "wrong_event_type": (structured_event(mql_data(), type_="lead.accepted"), b"wrong_type"),
    "missing_field": (
        structured_event({k: v for k, v in mql_data().items() if k != "email"}),
        b"invalid_data",
    ),
    "wrong_field_type": (
        structured_event(mql_data(company={"name": "X", "employees": "many"})),
        b"invalid_data",
    ),
}


@pytest.mark.parametrize("kind", sorted(INVALID))
async def test_invalid_event_goes_to_dead_letter_with_reason_and_consumer_goes_on(
    kind: str,
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    dead_letters: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    key = f"bad-{uuid.uuid4().hex}".encode()
    value, error_class = INVALID[kind]
    metadata = await producer.send_and_wait("lead.mql-created", value, key=key, headers=[("trace", b"kept")])
    after = mql_data(country="DE")
    await send(producer, after)

    # Feedback reads MQLs too and dead-letters what it cannot read: the router's letter is the one
    # this pins (error.service), the class cloudevents.py gives (as the unit tests check).
    letter, *repeats = await dead_letters.wait_for(
        lambda record: record.key == key and dict(record.headers).get("error.service") == b"router"
    )
    await assigned.events_for([after["lead_id"]])
    # At least once: a consumer that dies before committing may dead-letter a record again,
    # always as the same record (same original offset).
    assert all(dict(r.headers)["original.offset"] == dict(letter.headers)["original.offset"] for r in repeats)

    headers = dict(letter.headers)
    assert letter.value == value
    assert headers["original.topic"] == b"lead.mql-created"
    assert headers["original.partition"] == str(metadata.partition).encode()
    assert headers["original.offset"] == str(metadata.offset).encode()
    assert headers["error.stage"] == b"decode"
    assert headers["error.class"] == error_class
    assert headers["error.message"]
    assert headers["trace"] == b"kept"
