"""Timers in PostgreSQL. Every function takes the caller's session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handoff_shared.db import copy_rows, one_of
from sqlalchemy import Row, and_, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handoff_sla_monitor.tables import escalations, timers

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


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Lock up to ``limit`` timers due by ``now``, earliest first; rows other scanners hold are skipped."""
    result = await session.execute(
        select(timers)
        .where(timers.c.next_fire_at <= now)
        .order_by(timers.c.next_fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return result.all()


_ADVANCE = text(
    f"UPDATE {timers.schema}.{timers.name} AS t SET next_step = v.next_step, next_fire_at = v.next_fire_at, "
    "status = v.status, closed_at = CASE WHEN v.status = 'open' THEN NULL ELSE CAST(:now AS timestamptz) END "
    "FROM unnest(CAST(:ids AS text[]), CAST(:steps AS int[]), CAST(:fires AS timestamptz[]), "
    "CAST(:statuses AS text[])) AS v(assignment_id, next_step, next_fire_at, status) "
    "WHERE t.assignment_id = v.assignment_id"
)


async def advance(
    session: AsyncSession, changes: Sequence[tuple[str, int, datetime | None, str]], now: datetime
) -> None:
    """Save claimed timers' progress in one statement: (assignment_id, next_step, next_fire_at, status)."""
    if not changes:
        return
    ids, steps, fires, statuses = (list(column) for column in zip(*changes, strict=True))
    await session.execute(
        _ADVANCE, {"ids": ids, "steps": steps, "fires": fires, "statuses": statuses, "now": now}
    )


async def record_escalations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record fired steps; the primary key refuses a step fired twice."""
    await copy_rows(session, escalations, rows)


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
