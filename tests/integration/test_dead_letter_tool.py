"""`handoff dlq list|show|replay` against the local stack: an invalid MQL is dead-lettered by
the router, listed and shown by the tool, fixed and replayed to its topic with its original id
and key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.routing_configs import Territory
from tests.stack import ROOT, Stack, TopicWatcher, mql_data, structured_event, unique

pytestmark = pytest.mark.integration


def handoff(stack: Stack, *args: str) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "handoff"), *args],
        env={**os.environ, "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_an_invalid_mql_is_listed_shown_fixed_and_replayed_with_its_id(
    stack: Stack,
    producer: AIOKafkaProducer,
    dead_letters: TopicWatcher,
    tmp_path: Path,
    territory: Territory,  # the replayed lead is routed to reps of this test's own
) -> None:
    lead_id, event_id = unique("lead"), str(uuid.uuid4())
    broken = mql_data(lead_id)
    del broken["email"]
    await producer.send_and_wait(
        "lead.mql-created", value=structured_event(broken, event_id=event_id), key=lead_id.encode()
    )
    # Dead-lettering is at least once (a batch retried after its dead letters were sent repeats them).
    letter = (
        await dead_letters.wait_for(
            lambda r: r.key == lead_id.encode() and dict(r.headers).get("error.service") == b"router"
        )
    )[0]
    address = f"{letter.topic}/{letter.partition}/{letter.offset}"

    listed = await asyncio.to_thread(handoff, stack, "dlq", "list", "lead.mql-created.dlq")
    assert f"{address}  id={event_id}" in listed
    shown = await asyncio.to_thread(handoff, stack, "dlq", "show", address)
    assert "replays to: lead.mql-created" in shown
    assert "error.stage: decode" in shown

    (tmp_path / "other.json").write_text(json.dumps({**json.loads(letter.value), "id": "another-id"}))
    refused = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).parent / "handoff"),
            "dlq",
            "replay",
            address,
            "--fixed",
            str(tmp_path / "other.json"),
        ],
        env={**os.environ, "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    assert "keep the id" in refused.stderr

    fixed = json.loads(letter.value)
    fixed["data"]["email"] = "pat@example.com"
    (tmp_path / "fixed.json").write_text(json.dumps(fixed))
    watcher = await TopicWatcher(stack.kafka, "lead.mql-created").start()
    try:
        replayed = await asyncio.to_thread(
            handoff, stack, "dlq", "replay", address, "--fixed", str(tmp_path / "fixed.json")
        )
        assert f"replayed {address} -> lead.mql-created" in replayed
        record = (await watcher.wait_for(lambda r: r.key == lead_id.encode()))[0]
    finally:
        await watcher.stop()
    assert json.loads(record.value)["id"] == event_id
    assert json.loads(record.value)["data"]["email"] == "pat@example.com"
    headers = dict(record.headers)
    assert headers["handoff.replayed-from"] == address.encode()
    assert "error.class" not in headers
