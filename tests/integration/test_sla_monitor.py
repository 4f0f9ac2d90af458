"""The sla-monitor over the real stack, with second-scale SLAs: the ladder fires in order,
decisions stop it, events out of order open nothing that fires, and replicas or a SIGKILL
neither lose nor double a step."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import ROOT, Stack, TopicWatcher, eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration
LEVELS = ["remind", "escalate", "reassign"]


@pytest.fixture
async def escalated(stack: Stack) -> AsyncIterator[TopicWatcher]:
    watcher = await TopicWatcher(stack.kafka, "lead.escalated").start()
    yield watcher
    await watcher.stop()


@pytest.fixture
async def monitor_http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.sla_monitor_url, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30
    ) as client:
        yield client


def assigned_data(
    seconds: float,
    *,
    assignment_id: str | None = None,
    lead_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A ``lead.assigned`` with a wall-clock SLA of ``seconds`` and the default ladder."""
    lead_id = lead_id or unique("lead")
    assigned_at = at or datetime.now(UTC)
    return {
        "assignment_id": assignment_id or unique("asg"),
        "lead_id": lead_id,
        "rep_id": unique("rep"),
        "team_id": "sla-test",
        "rule_id": "sla-test",
        "attempt": 1,
        "assigned_at": assigned_at.isoformat(),
        "sla_due_at": (assigned_at + timedelta(seconds=seconds)).isoformat(),
        "explanation": {"rule_id": "sla-test"},
        "lead": {"lead_id": lead_id, "email": "pat@example.com"},
        "manager_id": "mgr-sla",
        "sla": {
            "accept_within_seconds": seconds,
            "timezone": "UTC",
            "ladder": [
                {"percent": 50, "action": "remind"},
                {"percent": 100, "action": "escalate"},
                {"percent": 150, "action": "reassign"},
            ],
            "max_reassignments": 2,
        },
    }


async def publish(producer: AIOKafkaProducer, topic: str, type_: str, data: dict[str, Any]) -> None:
    await producer.send_and_wait(topic, structured_event(data, type_=type_), key=data["lead_id"].encode())


def of_assignment(assignment_id: str) -> Callable[[Any], bool]:
    return lambda record: json.loads(record.value)["data"]["assignment_id"] == assignment_id


async def test_an_ignored_lead_is_reminded_escalated_and_reassigned_to_another_rep(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    monitor_http: httpx.AsyncClient,
) -> None:
    territory = Territory.new()
    await territory.apply(admin, sla={"accept_within": "4s"})
    lead = mql_data(country="DE")
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (first,) = await assigned.events_for([lead["lead_id"]])
    assert first["sla"]["accept_within_seconds"] == 4
    assert first["manager_id"] == territory.manager

    steps = await escalated.wait_for(of_assignment(first["assignment_id"]), count=3, timeout=30)
    data = [json.loads(step.value)["data"] for step in steps]
    assert [item["level"] for item in data] == LEVELS
    assert [item["step"] for item in data] == [0, 1, 2]
    # Late firing (a loaded machine) may catch steps up together; their order never changes.
    assert data[0]["overdue_seconds"] <= data[1]["overdue_seconds"] <= data[2]["overdue_seconds"]
    assert data[1]["overdue_seconds"] >= 0
    assert {item["manager_id"] for item in data} == {territory.manager}

    second = (
        await assigned.wait_for(
            lambda r: (
                json.loads(r.value)["data"]["lead_id"] == lead["lead_id"]
                and json.loads(r.value)["data"]["attempt"] == 2
            ),
            timeout=30,
        )
    )[0]
    again = json.loads(second.value)["data"]
    assert again["previous_rep_id"] == first["rep_id"]
    assert again["rep_id"] != first["rep_id"]

    timer = (await monitor_http.get(f"/v1/sla/timers/{first['assignment_id']}")).json()
    assert timer["status"] == "reassigned"
    assert [step["state"] for step in timer["steps"]] == ["fired", "fired", "fired"]


async def test_a_lead_accepted_in_time_is_never_escalated(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    monitor_http: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(admin, sla={"accept_within": "1h"})
    lead = mql_data(country="DE")
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (assignment,) = await assigned.events_for([lead["lead_id"]])
    token = await territory.token(admin, assignment["rep_id"])
    answer = await router_http.post(
        f"/v1/assignments/{assignment['assignment_id']}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200

    async def closed() -> dict[str, Any] | None:
        response = await monitor_http.get(f"/v1/sla/timers/{assignment['assignment_id']}")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["status"] == "accepted" else None

    timer = await eventually(closed, timeout=20, what="the timer to close on acceptance")
    assert timer["next_fire_at"] is None
    assert {step["state"] for step in timer["steps"]} == {"cancelled"}
    async with engine.connect() as conn:
        fired = await conn.scalar(
            text("SELECT count(*) FROM sla_monitor.escalations WHERE assignment_id = :id"),
            {"id": assignment["assignment_id"]},
        )
    assert fired == 0


async def test_a_decision_seen_before_its_assignment_leaves_no_timer_that_fires(
    producer: AIOKafkaProducer, monitor_http: httpx.AsyncClient
) -> None:
    data = assigned_data(1)
    decision = {
        "assignment_id": data["assignment_id"],
        "lead_id": data["lead_id"],
        "rep_id": data["rep_id"],
        "rejected_at": datetime.now(UTC).isoformat(),
        "reason": "not_icp",
    }
    await publish(producer, "lead.rejected", "lead.rejected", decision)
    await publish(producer, "lead.assigned", "lead.assigned", data)

    async def filled_in() -> dict[str, Any] | None:
        response = await monitor_http.get(f"/v1/sla/timers/{data['assignment_id']}")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["assigned_at"] is not None else None

    timer = await eventually(filled_in, timeout=20, what="the late assignment to reach its timer")
    assert (timer["status"], timer["next_fire_at"]) == ("rejected", None)
    assert len(timer["steps"]) == 3


async def test_a_duplicate_assignment_fires_each_step_once_and_a_newer_one_closes_the_older(
    producer: AIOKafkaProducer, escalated: TopicWatcher, monitor_http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = assigned_data(1)
    for _ in range(2):
        await publish(producer, "lead.assigned", "lead.assigned", data)
    await escalated.wait_for(of_assignment(data["assignment_id"]), count=3, timeout=30)
    older = assigned_data(3600, lead_id=data["lead_id"], at=datetime.now(UTC) - timedelta(minutes=1))
    newer = assigned_data(3600, lead_id=data["lead_id"])
    await publish(producer, "lead.assigned", "lead.assigned", newer)
    await publish(producer, "lead.assigned", "lead.assigned", older)  # arrives late

    async def superseded() -> bool:
        response = await monitor_http.get(f"/v1/sla/timers/{older['assignment_id']}")
        return response.status_code == 200 and response.json()["status"] == "superseded"

    await eventually(superseded, timeout=20, what="the older assignment's timer to be superseded")
    assert (await monitor_http.get(f"/v1/sla/timers/{newer['assignment_id']}")).json()["status"] == "open"
    await escalated.read_to_end()  # every step emitted by now, not only those polled so far
    emitted = [
        json.loads(r.value)["data"] for r in escalated.records if of_assignment(data["assignment_id"])(r)
    ]
    assert [(item["step"], item["level"]) for item in emitted] == list(enumerate(LEVELS))
    async with engine.connect() as conn:
        steps = (
            (
                await conn.execute(
                    text("SELECT level FROM sla_monitor.escalations WHERE assignment_id = :id ORDER BY step"),
                    {"id": data["assignment_id"]},
                )
            )
            .scalars()
            .all()
        )
    assert list(steps) == LEVELS


async def test_overdue_lists_late_assignments_oldest_first_and_needs_the_admin_token(
    stack: Stack, producer: AIOKafkaProducer, monitor_http: httpx.AsyncClient
) -> None:
    team = unique("team")
    old = assigned_data(3600, at=datetime.now(UTC) - timedelta(hours=1, minutes=10)) | {"team_id": team}
    old["sla"]["ladder"] = [{"percent": 1000, "action": "escalate"}]
    older = assigned_data(3600, at=datetime.now(UTC) - timedelta(hours=2)) | {"team_id": team}
    older["sla"]["ladder"] = [{"percent": 1000, "action": "escalate"}]
    for data in (old, older):
        await publish(producer, "lead.assigned", "lead.assigned", data)

    async def listed() -> dict[str, Any] | None:
        body: dict[str, Any] = (await monitor_http.get("/v1/sla/overdue", params={"limit": 1000})).json()
        mine = [row for row in body["timers"] if row["team_id"] == team]
        return body | {"mine": mine} if len(mine) == 2 else None

    report = await eventually(listed, timeout=20, what="both late assignments to be listed")
    assert [row["assignment_id"] for row in report["mine"]] == [older["assignment_id"], old["assignment_id"]]
    assert report["mine"][0]["overdue_seconds"] > 3500
    (team_row,) = [row for row in report["by_team"] if row["team_id"] == team]
    assert team_row["overdue"] == 2
    async with httpx.AsyncClient(base_url=stack.sla_monitor_url) as anonymous:
        assert (await anonymous.get("/v1/sla/overdue")).status_code == 401
        assert (await monitor_http.get(f"/v1/sla/timers/{unique('nope')}")).status_code == 404


# Several monitors, and one killed mid-scan.


def _port(stack: Stack, shift: int) -> int:
    port = urlparse(stack.sla_monitor_url).port
    assert port is not None
    return port + shift


async def start_monitor(stack: Stack, port: int, log_path: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka,
        "HANDOFF_DATABASE_URL": stack.database_url,
        "HANDOFF_ADMIN_TOKEN": stack.admin_token,
        "HANDOFF_HTTP_PORT": str(port),
        "HANDOFF_SLA_SCAN_BATCH": "50",
    }
    with log_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "handoff_sla_monitor",
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                assert process.returncode is None, "the extra monitor exited"
                return False

        await eventually(ready, timeout=60, what="the extra monitor to be ready")
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await asyncio.wait_for(process.wait(), timeout=10)


async def fired_once_each(engine: AsyncEngine, ids: list[str], escalated: TopicWatcher) -> None:
    """Every step of every timer recorded once, and on the topic with one id per step, in order."""
    records = await escalated.wait_for(
        lambda r: json.loads(r.value)["data"]["assignment_id"] in set(ids), count=3 * len(ids), timeout=90
    )
    async with engine.connect() as conn:
        recorded = (
            await conn.execute(
                text(
                    "SELECT assignment_id, count(*) FROM sla_monitor.escalations "
                    "WHERE assignment_id = ANY(:ids) GROUP BY assignment_id"
                ),
                {"ids": ids},
            )
        ).all()
    assert dict(recorded) == dict.fromkeys(ids, 3)
    by_id: dict[str, dict[str, Any]] = {}
    for record in records:
        event = json.loads(record.value)
        by_id.setdefault(event["id"], event["data"])  # a relay repeat carries the same id
    steps = Counter(data["assignment_id"] for data in by_id.values())
    assert steps == dict.fromkeys(ids, 3)
    for assignment_id in ids:
        levels = [
            json.loads(r.value)["data"]["level"]
            for r in records
            if json.loads(r.value)["data"]["assignment_id"] == assignment_id
        ]
        assert list(dict.fromkeys(levels)) == LEVELS  # first sightings in order


async def test_two_monitor_processes_fire_each_step_once(
    stack: Stack, producer: AIOKafkaProducer, escalated: TopicWatcher, engine: AsyncEngine, tmp_path: Path
) -> None:
    extra = await start_monitor(stack, _port(stack, 50), tmp_path / "monitor-2.log")
    try:
        timers = [assigned_data(2) for _ in range(200)]
        for data in timers:
            await publish(producer, "lead.assigned", "lead.assigned", data)
        await fired_once_each(engine, [data["assignment_id"] for data in timers], escalated)
    finally:
        await stop(extra)
    # Which monitor claims which batch is up to SKIP LOCKED: the second one may find none left.
    took_part = "timers.fired" in (tmp_path / "monitor-2.log").read_text()
    print(f"the second monitor fired steps: {took_part}")


async def test_a_monitor_killed_mid_scan_loses_and_doubles_nothing(
    stack: Stack, producer: AIOKafkaProducer, escalated: TopicWatcher, engine: AsyncEngine, tmp_path: Path
) -> None:
    # The stack's own monitor is frozen (SIGSTOP) until the victim dies, so the victim is the
    # one scanning when it is killed: otherwise the stack's monitor may fire every step first.
    stack_monitor = int((ROOT / ".run" / "pids" / "sla-monitor.pid").read_text())
    victim = await start_monitor(stack, _port(stack, 51), tmp_path / "victim.log")
    os.killpg(stack_monitor, signal.SIGSTOP)
    try:
        timers = [assigned_data(1) for _ in range(500)]
        await asyncio.gather(*(publish(producer, "lead.assigned", "lead.assigned", data) for data in timers))

        async def scanning() -> bool:
            return "timers.fired" in (tmp_path / "victim.log").read_text()

        await eventually(scanning, timeout=60, interval=0.01, what="the victim to fire steps")
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        os.killpg(stack_monitor, signal.SIGCONT)
        restarted = await start_monitor(stack, _port(stack, 51), tmp_path / "restarted.log")
        try:
            await fired_once_each(engine, [data["assignment_id"] for data in timers], escalated)
        finally:
            await stop(restarted)
    finally:
        os.killpg(stack_monitor, signal.SIGCONT)
        await stop(victim)


def manager_notice_of(lead_id: str, reason: str) -> Callable[[Any], bool]:
    """The router's word to the manager: ``lead.escalated`` of level ``escalate`` with a reason."""

    def matches(record: Any) -> bool:
        data = json.loads(record.value)["data"]
        return bool(
            data["lead_id"] == lead_id and data["level"] == "escalate" and data.get("reason") == reason
        )

    return matches


async def manager_callbacks(engine: AsyncEngine, event_id: str) -> list[str]:
    """The callback deliveries the router enqueued for one event (their endpoint ids)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT endpoint_id FROM router.callback_deliveries WHERE event_id = :id"), {"id": event_id}
        )
        return [str(row[0]) for row in rows]


async def park_a_lead(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, escalated: TopicWatcher
) -> tuple[Territory, dict[str, Any], dict[str, Any]]:
    """A lead ignored by both reps of a team with ``max_reassignments: 1``: answer the territory,
    the MQL, and the last ``reassign`` escalation (attempt 2), after which the router parks it."""
    territory = Territory.new()
    await territory.apply(admin, sla={"accept_within": "2s", "max_reassignments": 1})
    lead = mql_data(country="DE")
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())

    def reassign_of_attempt(attempt: int) -> Callable[[Any], bool]:
        def matches(record: Any) -> bool:
            data = json.loads(record.value)["data"]
            return bool(
                data["lead_id"] == lead["lead_id"]
                and data["level"] == "reassign"
                and data["attempt"] == attempt
            )

        return matches

    first = json.loads((await escalated.wait_for(reassign_of_attempt(1), timeout=40))[0].value)["data"]
    final = json.loads((await escalated.wait_for(reassign_of_attempt(2), timeout=40))[0].value)["data"]
    assert (first["reassignments_left"], final["reassignments_left"]) == (1, 0)
    assert final["manager_id"] == territory.manager
    return territory, lead, final


async def queued(admin: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    items: list[dict[str, Any]] = (await admin.get("/v1/queue", params={"limit": 1000})).json()["items"]
    return next((item for item in items if item["lead_id"] == lead_id), None)


async def test_after_max_reassignments_the_lead_is_parked_in_the_queue_with_the_reason(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory, lead, final = await park_a_lead(admin, producer, escalated)

    async def parked() -> dict[str, Any] | None:
        return await queued(admin, lead["lead_id"])

    item = await eventually(parked, timeout=20, what="the lead to be parked in the unassigned queue")
    assert item["explanation"]["reason"] == "max_reassignments"
    assert item["explanation"]["parked"] is True
    assert item["attempt"] == 3

    # The manager is told by an escalation event of its own, from the router's outbox.
    record = (await escalated.wait_for(manager_notice_of(lead["lead_id"], "max_reassignments"), timeout=20))[
        0
    ]
    notice = json.loads(record.value)
    assert notice["type"] == "lead.escalated"
    assert notice["source"] == "handoff/router"
    data = notice["data"]
    assert (data["assignment_id"], data["rep_id"]) == (final["assignment_id"], final["rep_id"])
    assert data["manager_id"] == territory.manager
    assert data["summary"] == item["explanation"]["summary"]
    assert data["overdue_seconds"] >= 0

    async def called_back() -> list[str] | None:
        return await manager_callbacks(engine, notice["id"]) or None

    endpoints = await eventually(called_back, timeout=20, what="the manager's callback of the notice")
    assert len(endpoints) == 1
    assert territory.manager in endpoints[0]

    records = await assigned.wait_for(
        lambda r: json.loads(r.value)["data"]["lead_id"] == lead["lead_id"], count=2
    )
    assert [json.loads(record.value)["data"]["attempt"] for record in records] == [1, 2]  # never a third
    notices = [r for r in escalated.records if manager_notice_of(lead["lead_id"], "max_reassignments")(r)]
    assert len({json.loads(r.value)["id"] for r in notices}) == 1  # a relay repeat keeps its id


async def test_an_admin_releases_a_parked_lead_back_to_routing(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
) -> None:
    territory, lead, final = await park_a_lead(admin, producer, escalated)

    async def parked() -> dict[str, Any] | None:
        return await queued(admin, lead["lead_id"])

    await eventually(parked, timeout=20, what="the lead to be parked")
    path = f"/v1/queue/{lead['lead_id']}/release"
    token = await territory.token(admin, territory.ana)
    as_rep = await router_http.post(path, json={}, headers={"Authorization": f"Bearer {token}"})
    assert as_rep.status_code == 403
    assert (await admin.post(f"/v1/queue/{unique('nobody')}/release", json={})).status_code == 404

    away = await admin.put(f"/v1/reps/{territory.ben}/availability", json={"available": False})
    assert away.status_code == 200, away.text
    answer = await admin.post(path, json={"include_previous_reps": True, "note": "ana is back"})
    assert answer.status_code == 200, answer.text
    released = answer.json()
    assert released["explanation"]["released_from"]["reason"] == "max_reassignments"
    assert released["explanation"]["note"] == "ana is back"
    assert "parked" not in released["explanation"]

    third = await assigned.wait_for(
        lambda r: (
            json.loads(r.value)["data"]["lead_id"] == lead["lead_id"]
            and json.loads(r.value)["data"]["attempt"] == 3
        ),
        timeout=30,
    )
    data = json.loads(third[0].value)["data"]
    # The reps who had it are allowed again: ana (ben is away), not the fallback.
    assert data["rep_id"] == territory.ana
    assert data["previous_rep_id"] == final["rep_id"]

    async def gone() -> bool:
        return await queued(admin, lead["lead_id"]) is None

    await eventually(gone, timeout=20, what="the released lead to leave the queue")
    again = await admin.post(path, json={})
    assert again.status_code == 404


async def test_a_rep_whose_leads_go_cold_is_auto_paused_until_they_come_back(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    # Its own rule: a lead an earlier test left queued is routed to the fallback team, never to
    # these reps (with a streak of 1 it would pause the rep on its own assignment).
    await territory.apply(
        admin,
        rules=own_rules(territory),
        sla={"accept_within": "2s", "pause_after_expired": 1, "max_reassignments": 5},
    )
    lead = mql_data(country="DE", source=territory.weighted_team)
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (first,) = await assigned.events_for([lead["lead_id"]])
    cold = first["rep_id"]
    await escalated.wait_for(of_assignment(first["assignment_id"]), count=3, timeout=30)

    async def paused() -> dict[str, Any] | None:
        rows: list[dict[str, Any]] = (await admin.get("/v1/reps/load")).json()
        row = next(row for row in rows if row["rep_id"] == cold)
        return row if row["unavailable_reason"] == "sla_auto_paused" else None

    row = await eventually(paused, timeout=20, what="the rep to be auto-paused")
    assert row["available"] is False

    def pause_notice(record: Any) -> bool:
        data = json.loads(record.value)["data"]
        return bool(data.get("reason") == "sla_auto_paused" and data["rep_id"] == cold)

    record = (await escalated.wait_for(pause_notice, timeout=20))[0]
    notice = json.loads(record.value)
    assert notice["source"] == "handoff/router"
    assert notice["data"]["level"] == "escalate"
    assert notice["data"]["assignment_id"] == first["assignment_id"]
    assert notice["data"]["manager_id"] == territory.manager
    assert "sla_auto_paused" in notice["data"]["summary"]

    async def called_back() -> list[str] | None:
        return await manager_callbacks(engine, notice["id"]) or None

    endpoints = await eventually(called_back, timeout=20, what="the manager's callback of the pause")
    assert len(endpoints) == 1
    assert territory.manager in endpoints[0]

    own_lead = mql_data(country="DE", source=territory.weighted_team)
    preview = (await admin.post("/v1/route/preview", json=own_lead)).json()
    assert {"rep_id": cold, "reason": "sla_auto_paused"} in preview["explanation"]["skipped"]

    token = await territory.token(admin, cold)
    back = await router_http.put(
        f"/v1/reps/{cold}/availability",
        json={"available": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert back.status_code == 200
    row = next(row for row in (await admin.get("/v1/reps/load")).json() if row["rep_id"] == cold)
    assert (row["available"], row["unavailable_reason"]) == (True, None)


async def router_status(engine: AsyncEngine, assignment_id: str) -> str | None:
    async with engine.connect() as conn:
        status = await conn.scalar(
            text("SELECT status FROM router.assignments WHERE assignment_id = :id"), {"id": assignment_id}
        )
    return None if status is None else str(status)


async def availability_reason(admin: httpx.AsyncClient, rep_id: str) -> tuple[bool, str | None]:
    rows: list[dict[str, Any]] = (await admin.get("/v1/reps/load")).json()
    row = next(row for row in rows if row["rep_id"] == rep_id)
    return bool(row["available"]), row["unavailable_reason"]


def own_rules(territory: Territory) -> list[dict[str, Any]]:
    """One rule, on a source only this test's leads carry: leads parked by earlier tests, which
    a new config routes again from the queue, fall to the fallback team, never to these reps."""
    return [{"id": "own", "when": {"source": [territory.weighted_team]}, "team": territory.weighted_team}]


async def first_assignment(
    producer: AIOKafkaProducer, assigned: TopicWatcher, territory: Territory
) -> dict[str, Any]:
    lead = mql_data(country="DE", source=territory.weighted_team)
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (assignment,) = await assigned.events_for([lead["lead_id"]])
    assert assignment["attempt"] == 1
    return assignment


async def let_go_cold(
    territory: Territory,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> dict[str, Any]:
    """A new lead its rep ignores until the router has taken it away (``reassign`` applied)."""
    assignment = await first_assignment(producer, assigned, territory)
    await escalated.wait_for(
        lambda r: (
            json.loads(r.value)["data"]["assignment_id"] == assignment["assignment_id"]
            and json.loads(r.value)["data"]["level"] == "reassign"
        ),
        timeout=30,
    )

    async def taken_away() -> bool:
        return await router_status(engine, assignment["assignment_id"]) == "reassigned"

    # The pause, when there is one, is written in the transaction that closes the assignment.
    await eventually(taken_away, timeout=20, what="the router to apply the reassign")
    return assignment


def solo_config(territory: Territory, **sla: Any) -> dict[str, Any]:
    """The test's leads all go to ana alone (the fallback team takes what she loses)."""
    teams = territory.config()["teams"]
    teams[0] = {**teams[0], "members": [territory.ana]}
    sla = {"accept_within": "2s", "max_reassignments": 1, **sla}
    return {"teams": teams, "rules": own_rules(territory), "sla": sla}


async def test_a_cold_streak_pauses_at_the_threshold_and_a_decision_in_between_resets_it(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(admin, **solo_config(territory, pause_after_expired=2))
    ana = territory.ana

    first = await let_go_cold(territory, producer, assigned, escalated, engine)
    assert first["rep_id"] == ana
    assert first["sla"]["pause_after_expired"] == 2
    assert await availability_reason(admin, ana) == (True, None)  # 1 < 2: below the threshold

    decided = await first_assignment(producer, assigned, territory)
    assert decided["rep_id"] == ana
    token = await territory.token(admin, ana)
    answer = await router_http.post(
        f"/v1/assignments/{decided['assignment_id']}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text

    third = await let_go_cold(territory, producer, assigned, escalated, engine)
    assert third["rep_id"] == ana
    assert await availability_reason(admin, ana) == (True, None)  # cold, accepted, cold: no streak of 2

    fourth = await let_go_cold(territory, producer, assigned, escalated, engine)
    assert fourth["rep_id"] == ana
    assert await availability_reason(admin, ana) == (False, "sla_auto_paused")

    def pause_notice(record: Any) -> bool:
        data = json.loads(record.value)["data"]
        return bool(data.get("reason") == "sla_auto_paused" and data["rep_id"] == ana)

    notice = json.loads((await escalated.wait_for(pause_notice, timeout=20))[0].value)["data"]
    assert notice["assignment_id"] == fourth["assignment_id"]
    assert notice["summary"].startswith(f"{ana} paused: 2 assignment(s) in a row")


async def test_a_rep_who_ends_a_pause_starts_a_new_streak(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(admin, **solo_config(territory, pause_after_expired=2))
    ana = territory.ana
    for _ in range(2):
        assert (await let_go_cold(territory, producer, assigned, escalated, engine))["rep_id"] == ana
    assert await availability_reason(admin, ana) == (False, "sla_auto_paused")

    token = await territory.token(admin, ana)
    back = await router_http.put(
        f"/v1/reps/{ana}/availability", json={"available": True}, headers={"Authorization": f"Bearer {token}"}
    )
    assert back.status_code == 200, back.text

    # The two cold leads before the pause no longer count: one more is a streak of 1.
    assert (await let_go_cold(territory, producer, assigned, escalated, engine))["rep_id"] == ana
    assert await availability_reason(admin, ana) == (True, None)
    assert (await let_go_cold(territory, producer, assigned, escalated, engine))["rep_id"] == ana
    assert await availability_reason(admin, ana) == (False, "sla_auto_paused")

    def pause_notice(record: Any) -> bool:
        data = json.loads(record.value)["data"]
        return bool(data.get("reason") == "sla_auto_paused" and data["rep_id"] == ana)

    notices = await escalated.wait_for(pause_notice, count=2, timeout=20)
    assert len({json.loads(r.value)["id"] for r in notices}) == 2  # the manager hears of each pause


@pytest.mark.parametrize("off", [{}, {"pause_after_expired": 0}], ids=["absent", "zero"])
async def test_auto_pause_off_in_the_assignments_config_stays_off_under_a_newer_config(
    off: dict[str, Any],
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(
        admin, rules=own_rules(territory), sla={"accept_within": "2s", "max_reassignments": 1, **off}
    )
    first = await first_assignment(producer, assigned, territory)
    assert first["sla"]["pause_after_expired"] == 0  # carried: off, not left for the router to guess
    cold = first["rep_id"]
    # A newer config turns auto-pause on (streak 1) before the first assignment goes cold.
    await territory.apply(
        admin,
        rules=own_rules(territory),  # as before: another test's queued lead never reaches these reps
        sla={"accept_within": "2s", "max_reassignments": 1, "pause_after_expired": 1},
    )
    applied_at = datetime.now(UTC)

    reassign = json.loads(
        (
            await escalated.wait_for(
                lambda r: (
                    json.loads(r.value)["data"]["assignment_id"] == first["assignment_id"]
                    and json.loads(r.value)["data"]["level"] == "reassign"
                ),
                timeout=30,
            )
        )[0].value
    )["data"]
    assert reassign["pause_after_expired"] == 0
    assert datetime.fromisoformat(reassign["escalated_at"]) > applied_at

    # The second assignment was made under the newer config: its rep is paused after one cold
    # lead; that is the point after which the first rep's pause would have been written too.
    second = (
        await assigned.wait_for(
            lambda r: (
                json.loads(r.value)["data"]["lead_id"] == first["lead_id"]
                and json.loads(r.value)["data"]["attempt"] == 2
            ),
            timeout=30,
        )
    )[0]
    other = json.loads(second.value)["data"]["rep_id"]
    assert other != cold

    async def other_paused() -> bool:
        return await availability_reason(admin, other) == (False, "sla_auto_paused")

    await eventually(other_paused, timeout=30, what="the second rep, under the newer config, to be paused")
    assert await router_status(engine, first["assignment_id"]) == "reassigned"
    assert await availability_reason(admin, cold) == (True, None)


@pytest.mark.parametrize("decision", ["accept", "reject"])
async def test_an_assignment_decided_in_time_fires_nothing(
    decision: str,
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
    monitor_http: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    # 6s: the remind falls at 3s, well after the decision; reassign at 9s.
    await territory.apply(admin, rules=own_rules(territory), sla={"accept_within": "6s"})
    decided = await first_assignment(producer, assigned, territory)
    token = await territory.token(admin, decided["rep_id"])
    body = {"reason": "not_icp", "note": "a student project"} if decision == "reject" else None
    answer = await router_http.post(
        f"/v1/assignments/{decided['assignment_id']}/{decision}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    decided_at = datetime.now(UTC)
    assert decided_at < datetime.fromisoformat(decided["assigned_at"]) + timedelta(seconds=3)

    # A control lead assigned after it, and ignored: when its ladder has fired to the end, the
    # decided one's whole ladder (earlier) is long past.
    control = await first_assignment(producer, assigned, territory)
    steps = await escalated.wait_for(of_assignment(control["assignment_id"]), count=3, timeout=40)
    assert [json.loads(step.value)["data"]["level"] for step in steps] == LEVELS
    await escalated.read_to_end()

    assert [r for r in escalated.records if of_assignment(decided["assignment_id"])(r)] == []
    status = "accepted" if decision == "accept" else "rejected"

    async def closed() -> dict[str, Any] | None:
        # The monitor reads each partition at its own pace: the decided lead's events may be
        # read after the control's (a partition behind after a heavy test).
        answer = await monitor_http.get(f"/v1/sla/timers/{decided['assignment_id']}")
        found: dict[str, Any] = answer.json()
        return found if answer.status_code == 200 and found["status"] == status else None

    timer = await eventually(closed, timeout=60, what="the decided timer to be closed")
    assert timer["status"] == status
    assert timer["next_fire_at"] is None
    assert [step["state"] for step in timer["steps"]] == ["cancelled", "cancelled", "cancelled"]
    async with engine.connect() as conn:
        fired = await conn.scalar(
            text("SELECT count(*) FROM sla_monitor.escalations WHERE assignment_id = :id"),
            {"id": decided["assignment_id"]},
        )
    assert fired == 0


async def test_with_the_default_max_reassignments_a_lead_is_reassigned_twice_then_parked(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    escalated: TopicWatcher,
) -> None:
    territory = Territory.new()
    teams = territory.config()["teams"]
    teams[0] = {**teams[0], "members": [territory.ana, territory.ben, territory.cap]}
    await territory.apply(
        admin, teams=teams, rules=own_rules(territory), sla={"accept_within": "2s"}
    )  # max_reassignments: default
    first = await first_assignment(producer, assigned, territory)
    assert first["sla"]["max_reassignments"] == 2
    lead_id = first["lead_id"]

    def reassign_of(record: Any) -> bool:
        data = json.loads(record.value)["data"]
        return bool(data["lead_id"] == lead_id and data["level"] == "reassign")

    reassigns = [
        json.loads(r.value)["data"] for r in await escalated.wait_for(reassign_of, count=3, timeout=60)
    ]
    assert [(item["attempt"], item["reassignments_left"]) for item in reassigns] == [(1, 2), (2, 1), (3, 0)]

    async def parked() -> dict[str, Any] | None:
        return await queued(admin, lead_id)

    item = await eventually(parked, timeout=20, what="the lead to be parked after two reassignments")
    assert (item["attempt"], item["explanation"]["reason"]) == (4, "max_reassignments")
    assert item["explanation"]["summary"] == "parked: reassigned 2 time(s) for the SLA (limit 2)"

    notice = json.loads(
        (await escalated.wait_for(manager_notice_of(lead_id, "max_reassignments"), timeout=20))[0].value
    )["data"]
    assert (notice["assignment_id"], notice["manager_id"]) == (
        reassigns[2]["assignment_id"],
        territory.manager,
    )
    records = await assigned.wait_for(lambda r: json.loads(r.value)["data"]["lead_id"] == lead_id, count=3)
    attempts = [json.loads(record.value)["data"] for record in records]
    assert [data["attempt"] for data in attempts] == [1, 2, 3]  # never a fourth
    assert len({data["rep_id"] for data in attempts}) == 3
