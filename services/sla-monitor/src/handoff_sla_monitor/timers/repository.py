"""Timers in PostgreSQL. Every function takes the caller's session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from handoff_shared import events
from handoff_shared.db import one_of
from handoff_shared.events import format_rfc3339
from sqlalchemy import Row, and_, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handoff_sla_monitor.tables import escalations, outbox, timers
from handoff_sla_monitor.timers.records import ESCALATION_IDS, HEADERS

# What a late ``lead.assigned`` fills into a row its decision created first.
_DATA = ("team_id", "manager_id", "attempt", "assigned_at", "sla_due_at", "steps", "terms")


async def open_timers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert timers; a duplicate is a no-op, a row made by an earlier decision only gains its data."""
    if not rows:
        return
    statement = insert(timers)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[timers.c.assignment_id],
            set_={name: statement.excluded[name] for name in _DATA},
            where=timers.c.assigned_at.is_(None),
        ),
        list(rows),
    )


async def supersede_older(session: AsyncSession, lead_ids: Sequence[str], now: datetime) -> None:
    """Close the open timers of these leads that a newer assignment of the same lead replaced."""
    if not lead_ids:
        return
    newer = aliased(timers)
    await session.execute(
        update(timers)
        .where(
            one_of(timers.c.lead_id, list(set(lead_ids))),
            timers.c.status == "open",
            exists().where(
                and_(newer.c.lead_id == timers.c.lead_id, newer.c.assigned_at > timers.c.assigned_at)
            ),
        )
        .values(status="superseded", next_fire_at=None, closed_at=now)
    )


async def close_decided(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Close timers on a decision; a decision ahead of its assignment leaves a closed row behind."""
    if not rows:
        return
    statement = insert(timers)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[timers.c.assignment_id],
            set_={
                "status": statement.excluded.status,
                "next_fire_at": None,
                "closed_at": statement.excluded.closed_at,
            },
            where=timers.c.status == "open",
        ),
        list(rows),
    )


# RFC 3339 in UTC with ``Z``, as handoff_shared.events.format_rfc3339 writes it (microseconds
# always shown: parsers take both).
def _rfc3339(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


# The step's event id: RFC 4122 version 3 (MD5, which PostgreSQL has built in) of
# ``{assignment_id}/{step}`` in the escalations namespace, as records.escalation_id computes it.
_ID_HASH = "md5(decode(:namespace, 'hex') || convert_to(f.assignment_id || '/' || f.step, 'UTF8'))"
_ESCALATION_ID = (
    f"CAST(overlay(overlay({_ID_HASH} PLACING '3' FROM 13 FOR 1) PLACING "
    f"substr('89ab', (get_byte(decode(substr({_ID_HASH}, 17, 2), 'hex'), 0) >> 4 & 3) + 1, 1) "
    "FROM 17 FOR 1) AS uuid)"
)
_T = f"{timers.schema}.{timers.name}"
_E = f"{escalations.schema}.{escalations.name}"
_O = f"{outbox.schema}.{outbox.name}"

# One statement fires a batch: claim the earliest due timers (SKIP LOCKED over the
# next-fire-time index), expand the steps whose time has come (each once, in order: only a
# run of due steps from ``next_step`` on), record them, write their ``lead.escalated`` to the
# outbox, and advance or close the timers. Nothing is decided per row in Python; the rules are
# those of ladder.fire (a ``reassign`` ends the timer), and an integration test holds the
# events to records.escalation_event.
_FIRE = text(
    f"""
WITH due AS MATERIALIZED (
    SELECT assignment_id, lead_id, rep_id, team_id, manager_id, attempt, sla_due_at, steps, next_step, terms
    FROM {_T}
    WHERE next_fire_at <= :now
    ORDER BY next_fire_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
expanded AS (
    SELECT d.*, s.ord, CAST(s.step ->> 'index' AS int) AS step, s.step ->> 'level' AS level,
        CAST(s.step ->> 'fire_at' AS timestamptz) AS planned_at,
        s.step ->> 'envelope' AS envelope, s.step ->> 'data' AS data,
        bool_and(CAST(s.step ->> 'fire_at' AS timestamptz) <= :now)
            OVER (PARTITION BY d.assignment_id ORDER BY s.ord) AS in_due_run
    FROM due AS d CROSS JOIN LATERAL jsonb_array_elements(d.steps) WITH ORDINALITY AS s(step, ord)
    WHERE s.ord > d.next_step
),
fired AS MATERIALIZED (
    SELECT * FROM expanded WHERE in_due_run
),
progress AS (
    SELECT d.assignment_id, d.next_step + count(f.step) AS next_step,
        coalesce(bool_or(f.level = 'reassign'), false) AS reassigned
    FROM due AS d LEFT JOIN fired AS f ON f.assignment_id = d.assignment_id
    GROUP BY d.assignment_id, d.next_step
),
advanced AS (
    UPDATE {_T} AS t SET
        next_step = p.next_step,
        status = CASE WHEN p.reassigned THEN 'reassigned' ELSE 'open' END,
        next_fire_at = CASE WHEN p.reassigned THEN NULL
            ELSE CAST(t.steps -> CAST(p.next_step AS int) ->> 'fire_at' AS timestamptz) END,
        closed_at = CASE WHEN p.reassigned THEN CAST(:now AS timestamptz) ELSE NULL END
    FROM progress AS p
    WHERE t.assignment_id = p.assignment_id
    RETURNING t.assignment_id
),
recorded AS (
    INSERT INTO {_E} (assignment_id, step, level, lead_id, rep_id, team_id, manager_id, planned_at,
        fired_at, overdue_seconds)
    SELECT assignment_id, step, level, lead_id, rep_id, team_id, manager_id, planned_at, :now,
        extract(epoch FROM CAST(:now AS timestamptz) - sla_due_at)
    FROM fired
),
sent AS (
    INSERT INTO {_O} (topic, key, value, headers)
    SELECT CAST(:topic AS text), convert_to(f.lead_id, 'UTF8'), convert_to(CASE
        WHEN f.data IS NOT NULL THEN
            -- Written ahead when the timer opened (records.with_fragments): concatenation only.
            CAST(:head AS text) || f.envelope || ',"data":{{' || f.data || ',"overdue_seconds":'
            || CAST(CAST(extract(epoch FROM CAST(:now AS timestamptz) - f.sla_due_at) AS float8) AS text)
            || CAST(:tail AS text)
        ELSE CAST(jsonb_build_object(  -- a timer opened before the fragments existed
            'specversion', '1.0',
            'id', {_ESCALATION_ID},
            'source', CAST(:source AS text),
            'type', CAST(:type AS text),
            'subject', f.lead_id,
            'time', CAST(:now_text AS text),
            'datacontenttype', 'application/json',
            'data', jsonb_strip_nulls(jsonb_build_object(
                'assignment_id', f.assignment_id,
                'lead_id', f.lead_id,
                'rep_id', f.rep_id,
                'level', f.level,
                'sla_due_at', {_rfc3339("f.sla_due_at")},
                'overdue_seconds',
                    CAST(extract(epoch FROM CAST(:now AS timestamptz) - f.sla_due_at) AS float8),
                'manager_id', f.manager_id,
                'escalated_at', CAST(:now_text AS text),
                'team_id', f.team_id,
                'attempt', f.attempt,
                'step', f.step,
                'planned_at', {_rfc3339("f.planned_at")},
                'max_reassignments', f.terms -> 'max_reassignments',
                'pause_after_expired', f.terms -> 'pause_after_expired',
                'reassignments_left', CASE
                    WHEN f.level = 'reassign' AND jsonb_typeof(f.terms -> 'max_reassignments') = 'number'
                        AND f.attempt IS NOT NULL
                    THEN greatest(0, CAST(f.terms ->> 'max_reassignments' AS int) - (f.attempt - 1)) END
            ))
        ) AS text) END, 'UTF8'), CAST(:headers AS jsonb)
    FROM fired AS f
    ORDER BY f.planned_at, f.assignment_id, f.step
)
SELECT (SELECT count(*) FROM advanced) AS claimed,
    coalesce(array_agg(level), '{{}}') AS levels,
    coalesce(array_agg(extract(epoch FROM CAST(:now AS timestamptz) - planned_at)), '{{}}') AS lags
FROM fired
"""
)


_NO_JIT = text("SET LOCAL jit = off")


@dataclass(frozen=True)
class Fired:
    """What one scan did: timers claimed, and the level and lateness (seconds) of each step fired."""

    claimed: int
    levels: list[str]
    lags: list[float]


async def fire_due(session: AsyncSession, now: datetime, limit: int, *, topic: str, source: str) -> Fired:
    """Claim up to ``limit`` due timers, fire their due steps through the outbox, advance them."""
    now_text = format_rfc3339(now)
    head = (
        orjson.dumps(
            {"specversion": "1.0", "type": events.LEAD_ESCALATED, "source": source, "time": now_text}
        ).decode()[:-1]
        + ',"datacontenttype":"application/json",'
    )
    tail = ',"escalated_at":' + orjson.dumps(now_text).decode() + "}}"
    # A batch of thousands costs enough for the planner to JIT-compile it, which takes longer
    # than the statement itself: off for this transaction.
    await session.execute(_NO_JIT)
    row = (
        await session.execute(
            _FIRE,
            {
                "now": now,
                "now_text": now_text,
                "head": head,
                "tail": tail,
                "limit": limit,
                "topic": topic,
                "source": source,
                "type": events.LEAD_ESCALATED,
                "namespace": ESCALATION_IDS.hex,
                "headers": HEADERS,
            },
        )
    ).one()
    return Fired(int(row.claimed), list(row.levels), [float(lag) for lag in row.lags])


async def timer(session: AsyncSession, assignment_id: str) -> Row[Any] | None:
    return (await session.execute(select(timers).where(timers.c.assignment_id == assignment_id))).first()


async def fired_steps(session: AsyncSession, assignment_id: str) -> Sequence[Row[Any]]:
    result = await session.execute(
        select(escalations).where(escalations.c.assignment_id == assignment_id).order_by(escalations.c.step)
    )
    return result.all()


async def overdue(session: AsyncSession, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Open timers past their deadline, oldest deadline first."""
    result = await session.execute(
        select(timers)
        .where(timers.c.status == "open", timers.c.sla_due_at <= now)
        .order_by(timers.c.sla_due_at)
        .limit(limit)
    )
    return result.all()


async def overdue_counts(session: AsyncSession, now: datetime) -> Sequence[Row[Any]]:
    """Overdue open timers per team and rep, with the oldest deadline of each."""
    result = await session.execute(
        select(
            timers.c.team_id,
            timers.c.rep_id,
            func.count().label("overdue"),
            func.min(timers.c.sla_due_at).label("oldest_due_at"),
        )
        .where(timers.c.status == "open", timers.c.sla_due_at <= now)
        .group_by(timers.c.team_id, timers.c.rep_id)
        .order_by(func.min(timers.c.sla_due_at))
    )
    return result.all()


async def gauges(session: AsyncSession, now: datetime) -> tuple[int, int, int]:
    """Open timers, overdue ones, and timers due but not yet fired (the catch-up backlog)."""
    open_ = await session.scalar(select(func.count()).select_from(timers).where(timers.c.status == "open"))
    late = await session.scalar(
        select(func.count()).select_from(timers).where(timers.c.status == "open", timers.c.sla_due_at <= now)
    )
    backlog = await session.scalar(
        select(func.count()).select_from(timers).where(timers.c.next_fire_at <= now)
    )
    return int(open_ or 0), int(late or 0), int(backlog or 0)
