"""The scanner fires in one SQL statement; the ladder's rules and the event's shape live in
Python (ladder.fire, records.escalation_event). Here both meet on a real PostgreSQL: for
timers in every situation, what the statement writes (events, records, timer progress) is
what the Python reference says.

A database of its own (migrated like the stack's), so the stack's monitor cannot claim these
timers and the clock can be anything.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from handoff_shared import cloudevents, events
from handoff_shared.db import make_engine, make_sessions, transaction
from handoff_shared.event_views import view_of
from handoff_sla_monitor.tables import escalations, outbox, timers
from handoff_sla_monitor.timers.event_views import Assigned
from handoff_sla_monitor.timers.records import advance, escalation_event, timer_row
from handoff_sla_monitor.timers.service import Timers
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.stack import ROOT, Stack, eventually

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=UTC)
SOURCE = "handoff/sla-monitor"


@pytest.fixture
async def own_database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    name = f"handoff_sla_{uuid.uuid4().hex[:10]}"
    base, _, _ = stack.database_url.rpartition("/")
    url = f"{base}/{name}"
    admin = create_async_engine(stack.database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff_sla_monitor", "migrate", cwd=ROOT,
        env={**os.environ, "HANDOFF_DATABASE_URL": url, "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await migrate.communicate()
    assert migrate.returncode == 0, output.decode()[-2000:]
    engine = make_engine(url, pool_size=2, schema="sla_monitor")
    try:
        yield engine
    finally:
        await engine.dispose()

        async def dropped() -> bool:
            try:
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except DBAPIError:  # an autovacuum worker FORCE cannot end: wait until it is done
                return False
            return True

        await eventually(dropped, timeout=60, interval=0.5, what=f"database {name} dropped")
        await admin.dispose()


def assigned(number: int, *, at: datetime, seconds: float, **extra: Any) -> Assigned:
    """The sla-monitor's view of a valid ``lead.assigned``."""
    lead_id = f"lead-{number}"
    data = {
        "assignment_id": f"asg-{number}",
        "lead_id": lead_id,
        "rep_id": f"rep-{number % 3}",
        "team_id": "emea",
        "rule_id": "r",
        "attempt": 1,
        "assigned_at": at.isoformat(),
        "sla_due_at": (at + timedelta(seconds=seconds)).isoformat(),
        "explanation": {"rule_id": "r"},
        "lead": {"lead_id": lead_id, "email": "pat@example.com"},
        "manager_id": "mgr-1",
        "sla": {
            "accept_within_seconds": seconds,
            "timezone": "UTC",
            "ladder": [
                {"percent": 50, "action": "remind"},
                {"percent": 100, "action": "escalate"},
                {"percent": 150, "action": "reassign"},
            ],
            "max_reassignments": 2,
            "pause_after_expired": 3,
        },
    }
    events.LeadAssigned.model_validate(data | extra)
    return view_of(data | extra, Assigned)


def situations() -> list[dict[str, Any]]:
    """Timer rows: before the first step, at each step, past several (catch-up), past all,
    half-way through, without terms or manager, on a short ladder, at the last attempt, and
    one whose steps carry no events written ahead (the statement's other path)."""
    hour = 3600.0
    rows = [
        timer_row(assigned(1, at=NOW - timedelta(minutes=10), seconds=hour)),  # nothing due
        timer_row(assigned(2, at=NOW - timedelta(minutes=31), seconds=hour)),  # remind
        timer_row(assigned(3, at=NOW - timedelta(minutes=61), seconds=hour)),  # remind, escalate
        timer_row(assigned(4, at=NOW - timedelta(hours=3), seconds=hour)),  # all three
        timer_row(assigned(5, at=NOW - timedelta(hours=3), seconds=hour, manager_id=None, attempt=3)),
        timer_row(assigned(6, at=NOW - timedelta(hours=3), seconds=hour, team_id="apac", sla=None)),
    ]
    two_steps = {"percent": 50, "action": "remind"}, {"percent": 100, "action": "escalate"}
    terms = {"accept_within_seconds": hour, "timezone": "UTC", "ladder": list(two_steps)}
    rows.append(timer_row(assigned(7, at=NOW - timedelta(hours=3), seconds=hour, sla=terms)))  # stays open
    halfway = timer_row(assigned(8, at=NOW - timedelta(minutes=100), seconds=hour))
    halfway["next_step"] = 1  # its remind fired in an earlier scan
    halfway["next_fire_at"] = datetime.fromisoformat(halfway["steps"][1]["fire_at"])
    rows.append(halfway)
    exact = timer_row(assigned(9, at=NOW - timedelta(minutes=30, microseconds=123456), seconds=hour))
    rows.append(exact)  # due at exactly NOW
    older = timer_row(assigned(10, at=NOW - timedelta(hours=3), seconds=hour))
    for step in older["steps"]:  # opened by a version that did not write events ahead
        del step["envelope"], step["data"]
    rows.append(older)
    return rows


def normalised(data: dict[str, Any]) -> dict[str, Any]:
    """Times as instants and numbers as floats: formats may differ, values may not."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in {"sla_due_at", "escalated_at", "planned_at"}:
            out[name] = events.parse_rfc3339(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
        else:
            out[name] = value
    return out


async def test_the_scanners_statement_does_what_the_python_reference_says(own_database: AsyncEngine) -> None:
    sessions = make_sessions(own_database)
    rows = situations()
    async with transaction(sessions) as session:
        await session.execute(insert(timers), rows)
    async with sessions() as session:
        stored = {row.assignment_id: row for row in (await session.execute(select(timers))).all()}

    expected_events: dict[str, dict[str, Any]] = {}
    expected_progress: dict[str, tuple[int, datetime | None, str]] = {}
    for row in stored.values():
        if row.next_fire_at is None or row.next_fire_at > NOW:
            expected_progress[row.assignment_id] = (row.next_step, row.next_fire_at, row.status)
            continue
        fired, state, status = advance(row, NOW)
        next_fire = None if status != "open" else state.next_fire_at
        expected_progress[row.assignment_id] = (state.next_step, next_fire, status)
        for step in fired:
            event = escalation_event(row, step, NOW, SOURCE)
            expected_events[event.id] = {
                "source": event.source,
                "type": event.type,
                "subject": event.subject,
                "time": event.time,
                "data": normalised(event.data),
            }

    assert len(expected_events) == 20  # every situation fires what it should (1+2+3+3+3+2+2+1+3)
    scanner = Timers(sessions, SOURCE, "lead.escalated", clock=lambda: NOW)
    claimed = await scanner.scan_once(100)
    assert claimed == sum(1 for row in stored.values() if row.next_fire_at and row.next_fire_at <= NOW)
    assert await scanner.scan_once(100) == 0  # nothing due twice

    async with sessions() as session:
        sent = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        progress = {row.assignment_id: row for row in (await session.execute(select(timers))).all()}
        recorded = (await session.execute(select(escalations))).all()
    decoded = [cloudevents.decode(row.value, _headers(row.headers)) for row in sent]
    assert all(row.topic == "lead.escalated" for row in sent)
    assert [row.key for row in sent] == [event.subject.encode() for event in decoded if event.subject]
    got = {
        event.id: {
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "time": event.time,
            "data": normalised(event.data),
        }
        for event in decoded
    }
    assert len(got) == len(decoded)  # one id per step
    assert got == expected_events
    for event in decoded:  # what consumers validate
        _, data = cloudevents.decode_typed(*cloudevents.encode(event), {events.LEAD_ESCALATED})
        assert isinstance(data, events.LeadEscalated)
    # Each timer's steps are written in order.
    order = [(event.subject, event.data["step"]) for event in decoded]
    for subject in {s for s, _ in order}:
        steps = [step for s, step in order if s == subject]
        assert steps == sorted(steps)
    assert {
        name: (row.next_step, row.next_fire_at, row.status) for name, row in progress.items()
    } == expected_progress
    assert {(row.assignment_id, row.step) for row in recorded} == {
        (event.data["assignment_id"], event.data["step"]) for event in decoded
    }
    for row in recorded:
        assert row.fired_at == NOW
        assert row.overdue_seconds == pytest.approx(
            (NOW - stored[row.assignment_id].sla_due_at).total_seconds()
        )
    closed = {name for name, row in progress.items() if row.status == "reassigned"}
    assert all(progress[name].closed_at == NOW for name in closed)


def _headers(raw: list[list[str]]) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in raw]
