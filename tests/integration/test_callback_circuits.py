"""Circuits through the running router (the stack opens one after 3 failures, probes after 2s):
deliveries wait while it is open, one probe closes it, and routing skips a rep whose tool
has been down longer than ``callbacks.unreachable_after``. Escalations are called back too."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.callback_receiver import Receiver
from tests.integration.callbacks import Tools, endpoint_state, send_mql
from tests.stack import TopicWatcher, eventually

pytestmark = pytest.mark.integration


async def test_circuit_opens_deliveries_wait_one_probe_closes_it(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    await tools.secret(admin, tools.solo)
    receiver.fail(tools.solo, default="500")
    endpoint = f"rep:{tools.solo}"

    leads = [await send_mql(producer, "FR") for _ in range(4)]

    opened = await eventually(
        lambda: _circuit(admin, endpoint, "open", "half_open"), timeout=30, what="the circuit to open"
    )
    assert opened["failure_streak"] >= 3
    assert opened["down_since"] is not None
    # While open, only probes reach the tool: one call per probe, never several at once.
    calls_when_opened = len(receiver.received(tools.solo))
    await eventually(
        lambda: len(receiver.received(tools.solo)) > calls_when_opened, timeout=20, what="a probe"
    )
    probes = await eventually(
        lambda: _attempts(admin, leads, probe=True), timeout=10, what="a probe recorded"
    )
    assert all(probe["status_code"] == 500 for probe in probes)
    receiver.fail(tools.solo, default="200")

    await eventually(lambda: _circuit(admin, endpoint, "closed"), timeout=30, what="the circuit to close")
    delivered = await eventually(
        lambda: {call.event["subject"] for call in receiver.delivered(tools.solo)} >= set(leads) or None,
        timeout=30,
        what="every waiting delivery",
    )
    assert delivered


async def test_a_rep_whose_tool_stays_down_is_skipped_then_routable_again(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin, unreachable_after="1s")
    await tools.secrets_for_all(admin)
    receiver.fail(tools.ana, default="500")
    for _ in range(4):  # round robin: at least 3 go to ana's failing tool, opening her circuit
        await send_mql(producer, "DE")
    await eventually(
        lambda: _circuit(admin, f"rep:{tools.ana}", "open", "half_open"), timeout=30, what="ana's circuit"
    )
    await eventually(lambda: _unreachable(admin, f"rep:{tools.ana}"), timeout=10, what="unreachable")

    later = [await send_mql(producer, "DE") for _ in range(4)]

    data = await assigned.events_for(later)
    assert {item["rep_id"] for item in data} == {tools.ben}
    for item in data:
        assert {"rep_id": tools.ana, "reason": "callback_unreachable"} in item["explanation"]["skipped"]

    receiver.fail(tools.ana, default="200")
    await eventually(lambda: _circuit(admin, f"rep:{tools.ana}", "closed"), timeout=30, what="recovery")
    again = [await send_mql(producer, "DE") for _ in range(4)]
    data = await assigned.events_for(again)
    assert tools.ana in {item["rep_id"] for item in data}


async def test_a_team_may_keep_routing_to_unreachable_reps(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin, unreachable_after="1s", skip_unreachable=False)
    await tools.secrets_for_all(admin)
    receiver.fail(tools.ana, default="500")
    for _ in range(4):
        await send_mql(producer, "DE")
    await eventually(lambda: _unreachable(admin, f"rep:{tools.ana}"), timeout=30, what="unreachable")

    later = [await send_mql(producer, "DE") for _ in range(4)]

    data = await assigned.events_for(later)
    assert {item["rep_id"] for item in data} == {tools.ana, tools.ben}


async def test_when_the_only_reachable_rep_recovers_the_queue_drains_to_them(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin, unreachable_after="1s", solo_is_fallback=True)
    await tools.secret(admin, tools.solo)
    receiver.fail(tools.solo, default="500")
    for _ in range(3):
        await send_mql(producer, "FR")
    await eventually(lambda: _unreachable(admin, f"rep:{tools.solo}"), timeout=30, what="unreachable")

    waiting = await send_mql(producer, "FR")

    async def queued() -> bool:
        response = await admin.get("/v1/queue")
        return any(item["lead_id"] == waiting for item in response.json()["items"])

    await eventually(queued, timeout=20, what="the lead to wait in the queue")
    receiver.fail(tools.solo, default="200")
    (data,) = await assigned.events_for([waiting], timeout=40)
    assert data["rep_id"] == tools.solo


@pytest.mark.parametrize(("level", "to_manager"), [("remind", False), ("escalate", True), ("reassign", True)])
async def test_escalations_are_called_back_to_the_rep_or_the_manager(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    receiver: Receiver,
    level: str,
    to_manager: bool,
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    await tools.secrets_for_all(admin)
    lead_id = await send_mql(producer, "FR")
    (assigned_call,) = await eventually(lambda: receiver.delivered(tools.solo), timeout=20, what="assigned")
    assignment = assigned_call.event["data"]
    event_id = str(uuid.uuid4())
    escalation = {
        "specversion": "1.0",
        "id": event_id,
        "source": "tests/sla-monitor",
        "type": "lead.escalated",
        "time": datetime.now(UTC).isoformat(),
        "subject": lead_id,
        "datacontenttype": "application/json",
        "data": {
            "assignment_id": assignment["assignment_id"],
            "lead_id": lead_id,
            "rep_id": tools.solo,
            "level": level,
            "sla_due_at": assignment["sla_due_at"],
            "overdue_seconds": -60 if level == "remind" else 60,
            "manager_id": tools.manager,
        },
    }

    await producer.send_and_wait("lead.escalated", json.dumps(escalation).encode(), key=lead_id.encode())

    target = tools.manager if to_manager else tools.solo

    def escalated() -> list[object]:
        return [call for call in receiver.delivered(target) if call.event["id"] == event_id]

    (call,) = await eventually(escalated, timeout=30, what=f"the {level} callback")
    assert call.verified is True  # type: ignore[attr-defined]
    assert call.event["data"]["level"] == level  # type: ignore[attr-defined]


async def _circuit(admin: httpx.AsyncClient, endpoint: str, *states: str) -> dict[str, Any] | None:
    found = await endpoint_state(admin, endpoint)
    return found if found is not None and found["circuit"] in states else None


async def _unreachable(admin: httpx.AsyncClient, endpoint: str) -> bool:
    found = await endpoint_state(admin, endpoint)
    return bool(found and found["unreachable"])


async def _attempts(admin: httpx.AsyncClient, leads: list[str], *, probe: bool) -> list[dict[str, Any]]:
    found = []
    for lead in leads:
        for delivery in (await admin.get("/v1/deliveries", params={"lead_id": lead})).json():
            detail = (await admin.get(f"/v1/deliveries/{delivery['delivery_id']}")).json()
            found += [attempt for attempt in detail["attempts_made"] if attempt["probe"] is probe]
    return found
