"""Retention on the real stack: rows past their table's setting are deleted by each service's
background worker, rows still needed stay whatever their age, the cleanup goes in batches
that never wait on a row another transaction holds, and every table's size is a gauge."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from handoff_feedback.settings import Settings as FeedbackSettings
from handoff_router.settings import RouterSettings
from handoff_shared.db import make_sessions
from handoff_shared.retention import Rule, delete_expired
from handoff_sla_monitor.settings import Settings as SlaSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.stack import ROOT, Stack, eventually, unique

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)
KAFKA_TOPICS = ROOT / "deploy" / "k8s" / "base" / "kafka-topics.yaml"


def ago(days: float) -> datetime:
    return datetime.now(UTC) - days * DAY


@pytest.fixture
async def tag(engine: AsyncEngine) -> AsyncIterator[str]:
    """This test's ids; whatever of them is left is removed afterwards."""
    tag = unique("ret")
    yield tag
    async with engine.begin() as db:
        for table, column in (
            ("router.processed_events", "event_id"),
            ("router.callback_deliveries", "delivery_id"),
            ("router.lead_people", "assignment_id"),
            ("router.assignments", "assignment_id"),
            ("sla_monitor.escalations", "assignment_id"),
            ("sla_monitor.timers", "assignment_id"),
            ("feedback.leads", "lead_id"),
            ("feedback.aggregates", "segment"),
        ):
            await db.execute(text(f"DELETE FROM {table} WHERE {column} LIKE :tag"), {"tag": f"%{tag}%"})


async def plant(db: AsyncEngine, tag: str) -> None:
    """Rows of every rule: expired ones (``old-``) and ones kept whatever their age (``kept-``)."""
    async with db.begin() as c:
        await c.execute(
            text(
                "INSERT INTO router.processed_events (event_id, event_type, processed_at)"
                " VALUES (:old, 'mql.created', :t40), (:kept, 'mql.created', :t20)"
            ),
            {"old": f"old-{tag}", "kept": f"kept-{tag}", "t40": ago(40), "t20": ago(20)},
        )
        delivery = (
            "INSERT INTO router.callback_deliveries (delivery_id, endpoint_id, event_id, event_type, lead_id,"
            " body, status, next_attempt_at, created_at, finished_at)"
            " VALUES (CAST(:id AS text), :endpoint, CAST(:id AS text), 'lead.assigned', CAST(:id AS text),"
            " :body, :status, :next,"
            " :created, :finished)"
        )
        await c.execute(
            text(delivery),
            {
                "id": f"old-{tag}", "endpoint": f"rep:{tag}", "body": b"{}", "status": "delivered",
                "next": ago(31), "created": ago(31), "finished": ago(31),
            },
        )  # fmt: skip
        await c.execute(
            text(
                "INSERT INTO router.callback_attempts (delivery_id, number, started_at, latency_ms, outcome)"
                " VALUES (CAST(:id AS text), 1, :t, 5, 'delivered')"
            ),
            {"id": f"old-{tag}", "t": ago(31)},
        )
        await c.execute(
            text(delivery),
            {
                "id": f"kept-{tag}", "endpoint": f"rep:{tag}", "body": b"{}", "status": "pending",
                "next": datetime(2999, 1, 1, tzinfo=UTC), "created": ago(60), "finished": None,
            },
        )  # fmt: skip
        assignment = (
            "INSERT INTO router.assignments (assignment_id, lead_id, rep_id, team_id, rule_id, attempt,"
            " status,"
            " assigned_at, decided_at, explanation, lead, mql_event_id)"
            " VALUES (CAST(:id AS text), CAST(:id AS text), :rep, 'team', 'rule', 1, :status, :at, :decided,"
            " '{}', '{}',"
            " CAST(:id AS text))"
        )
        await c.execute(
            text(assignment),
            {
                "id": f"old-{tag}",
                "rep": f"rep-{tag}",
                "status": "accepted",
                "at": ago(402),
                "decided": ago(401),
            },
        )
        await c.execute(
            text(assignment),
            {"id": f"kept-{tag}", "rep": f"rep-{tag}", "status": "pending", "at": ago(500), "decided": None},
        )
        for which, days in (("old", 402), ("kept", 500)):
            await c.execute(
                text(
                    "INSERT INTO router.lead_people"
                    " (assignment_id, lead_id, person_keys, rep_id, assigned_at)"
                    " VALUES (CAST(:id AS text), CAST(:id AS text), :keys, 'rep', :at)"
                ),
                {"id": f"{which}-{tag}", "keys": [f"email:{which}-{tag}@example.org"], "at": ago(days)},
            )
        timer = (
            "INSERT INTO sla_monitor.timers (assignment_id, lead_id, rep_id, status, assigned_at, closed_at)"
            " VALUES (CAST(:id AS text), CAST(:id AS text), 'rep', :status, :at, :closed)"
        )
        await c.execute(
            text(timer), {"id": f"old-{tag}", "status": "accepted", "at": ago(41), "closed": ago(40)}
        )
        await c.execute(text(timer), {"id": f"kept-{tag}", "status": "open", "at": ago(41), "closed": None})
        for which in ("old", "kept"):
            await c.execute(
                text(
                    "INSERT INTO sla_monitor.escalations (assignment_id, step, level, lead_id, rep_id,"
                    " planned_at, fired_at, overdue_seconds)"
                    " VALUES (CAST(:id AS text), 0, 'remind', CAST(:id AS text), 'rep',"
                    " CAST(:t AS timestamptz), CAST(:t AS timestamptz), 0)"
                ),
                {"id": f"{which}-{tag}", "t": ago(40)},
            )
        await c.execute(
            text(
                "INSERT INTO feedback.leads (lead_id, state, updated_at)"
                " VALUES (:old, '{}', :t91), (:kept, '{}', :t80)"
            ),
            {"old": f"old-{tag}", "kept": f"kept-{tag}", "t91": ago(91), "t80": ago(80)},
        )
        await c.execute(
            text(
                'INSERT INTO feedback.aggregates (dimension, segment, "window", window_start, measure, count)'
                " VALUES ('source', :old, 'day', :t801, 'mqls', 1),"
                " ('source', :kept, 'day', :t790, 'mqls', 1)"
            ),
            {"old": f"source=old-{tag}", "kept": f"source=kept-{tag}", "t801": ago(801), "t790": ago(790)},
        )


async def left(db: AsyncEngine, tag: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    async with db.connect() as c:
        for table, column in (
            ("router.processed_events", "event_id"),
            ("router.callback_deliveries", "delivery_id"),
            ("router.callback_attempts", "delivery_id"),
            ("router.assignments", "assignment_id"),
            ("router.lead_people", "assignment_id"),
            ("sla_monitor.timers", "assignment_id"),
            ("sla_monitor.escalations", "assignment_id"),
            ("feedback.leads", "lead_id"),
            ("feedback.aggregates", "segment"),
        ):
            rows = await c.execute(
                text(f"SELECT {column} FROM {table} WHERE {column} LIKE :t"), {"t": f"%{tag}"}
            )
            found[table] = {row[0].removeprefix("source=").split("-")[0] for row in rows}
    return found


async def test_each_service_deletes_expired_rows_and_keeps_the_rest(
    stack: Stack, engine: AsyncEngine, tag: str
) -> None:
    await plant(engine, tag)

    async def only_kept() -> dict[str, set[str]] | None:
        found = await left(engine, tag)
        return found if all("old" not in ids for ids in found.values()) else None

    # make up runs retention every 5 s (HANDOFF_RETENTION_INTERVAL); the defaults expire these.
    found = await eventually(only_kept, timeout=60, interval=0.5, what="the expired rows to be deleted")
    assert found == {
        "router.processed_events": {"kept"},  # 20 days: within the dead letters' 30
        "router.callback_deliveries": {"kept"},  # pending: never forgotten
        "router.callback_attempts": set(),  # went with their delivery
        "router.assignments": {"kept"},  # pending
        "router.lead_people": {"kept"},  # of the pending assignment
        "sla_monitor.timers": {"kept"},  # open
        "sla_monitor.escalations": {"kept"},  # of an open timer
        "feedback.leads": {"kept"},
        "feedback.aggregates": {"kept"},
    }

    async with httpx.AsyncClient(timeout=10) as client:
        for url, table in (
            (stack.router_url, "processed_events"),
            (stack.sla_monitor_url, "timers"),
            (stack.feedback_url, "leads"),
        ):
            metrics = (await client.get(f"{url}/metrics")).text
            assert re.search(
                rf'^handoff_table_bytes{{service="[^"]+",table="{table}"}} [1-9]', metrics, re.M
            ), url
            assert re.search(rf'^handoff_table_rows{{service="[^"]+",table="{table}"}} ', metrics, re.M), url
            deleted = re.search(
                rf'^handoff_retention_deleted_total{{service="[^"]+",table="{table}"}} (\S+)', metrics, re.M
            )
            assert deleted is not None, url
            assert float(deleted.group(1)) >= 1


async def test_cleanup_goes_in_batches_and_never_waits_on_a_held_row(engine: AsyncEngine) -> None:
    table = f"public.retention_{unique('t').replace('-', '_')}"
    async with engine.begin() as c:
        await c.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY, at timestamptz NOT NULL)"))
        await c.execute(
            text(f"INSERT INTO {table} SELECT i,"
                 " now() - make_interval(days => CASE WHEN i <= 9 THEN 10 ELSE 1 END)"
                 " FROM generate_series(1, 12) i")
        )  # fmt: skip
    sessions = make_sessions(engine)
    rule = Rule(table, timedelta(days=5), "x.at < :cutoff")
    try:
        async with engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(text(f"SELECT * FROM {table} WHERE id = 1 FOR UPDATE"))
            # Row 1 is held by another transaction: it is skipped, not waited for.
            deleted = await asyncio.wait_for(delete_expired(sessions, rule, datetime.now(UTC), batch=2), 10)
            assert deleted == 8
            await transaction.rollback()
        assert await delete_expired(sessions, rule, datetime.now(UTC), batch=2) == 1
        async with engine.connect() as c:
            assert (await c.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 3
    finally:
        async with engine.begin() as c:
            await c.execute(text(f"DROP TABLE {table}"))


def test_idempotency_keys_outlive_the_dead_letters_that_can_be_replayed() -> None:
    """A replayed dead letter already applied is still a duplicate: the ids of applied events,
    timers and lead states are kept longer than the Kafka retention of the *.dlq topics."""
    dead_letter_ms = [
        int(retention.group(1))
        for document in KAFKA_TOPICS.read_text().split("\n---")
        if re.search(r"topicName: \S+\.dlq\n", document)
        for retention in [re.search(r"retention\.ms: (-?\d+)", document)]
        if retention
    ]
    assert dead_letter_ms, "no *.dlq topic with retention.ms in the manifests"
    longest = timedelta(milliseconds=max(dead_letter_ms))
    database = {"database_url": "postgresql+asyncpg://u@h/d"}
    assert RouterSettings.model_validate(database).processed_events_retention > longest
    assert SlaSettings.model_validate(database).timers_retention > longest
    assert FeedbackSettings.model_validate(database).lead_states_retention > longest
