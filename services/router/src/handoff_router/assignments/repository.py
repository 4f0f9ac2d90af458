"""The ``assignments`` table: reading, deciding and closing assignments.

Lock order (docs/architecture.md): ``routing_state``, then ``assignments`` rows in
``assignment_id`` order, then ``rep_load`` rows in ``rep_id`` order. Functions that lock
several assignments take them sorted; callers take the routing state first when they route.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handoff_shared.db import one_of
from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments.tables import assignments
from handoff_router.routing.engine import BY_ACCOUNT


async def get(session: AsyncSession, assignment_id: str) -> Row[Any] | None:
    """One assignment, or None."""
    result = await session.execute(select(assignments).where(assignments.c.assignment_id == assignment_id))
    return result.first()


async def owner_of(session: AsyncSession, assignment_id: str) -> str | None:
    """The rep an assignment was made to (it never changes), or None when there is no such assignment."""
    return await session.scalar(
        select(assignments.c.rep_id).where(assignments.c.assignment_id == assignment_id)
    )


async def of_rep(session: AsyncSession, rep_id: str, status: str | None, limit: int) -> Sequence[Row[Any]]:
    """A rep's assignments, newest first."""
    query = select(assignments).where(assignments.c.rep_id == rep_id)
    if status is not None:
        query = query.where(assignments.c.status == status)
    rows = await session.execute(query.order_by(assignments.c.assigned_at.desc()).limit(limit))
    return rows.all()


async def decide(
    session: AsyncSession,
    assignment_id: str,
    rep_id: str,
    *,
    status: str,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
) -> Row[Any] | None:
    """Move a pending assignment of ``rep_id`` to ``status``; None when nothing changed (ownership
    and the pending state are part of the WHERE clause, so two decisions can never both win)."""
    statement = (
        update(assignments)
        .where(
            assignments.c.assignment_id == assignment_id,
            assignments.c.rep_id == rep_id,
            assignments.c.status == "pending",
        )
        .values(status=status, decided_at=now, reason=reason, note=note)
        .returning(*assignments.c)
    )
    return (await session.execute(statement)).first()


async def lock(session: AsyncSession, assignment_id: str) -> Row[Any] | None:
    """One assignment, locked for this transaction (its one row: lock order holds), or None."""
    result = await session.execute(
        select(assignments).where(assignments.c.assignment_id == assignment_id).with_for_update()
    )
    return result.first()


async def qualify(
    session: AsyncSession,
    assignment_id: str,
    rep_id: str,
    *,
    outcome: str,
    reason: str | None,
    note: str | None,
    now: datetime,
) -> Row[Any] | None:
    """Record the qualification of an accepted, unqualified assignment of ``rep_id``; None when
    nothing changed (ownership, acceptance and "not yet qualified" are the WHERE clause)."""
    statement = (
        update(assignments)
        .where(
            assignments.c.assignment_id == assignment_id,
            assignments.c.rep_id == rep_id,
            assignments.c.status == "accepted",
            assignments.c.qualified_at.is_(None),
        )
        .values(
            qualification_outcome=outcome,
            qualification_reason=reason,
            qualification_note=note,
            qualified_at=now,
        )
        .returning(*assignments.c)
    )
    return (await session.execute(statement)).first()


async def close_pending(
    session: AsyncSession, assignment_ids: Sequence[str], *, status: str, now: datetime
) -> list[Row[Any]]:
    """Close those of ``assignment_ids`` still pending (e.g. reassigned), locking them in id order first."""
    if not assignment_ids:
        return []
    ids = sorted(set(assignment_ids))
    await session.execute(
        select(assignments.c.assignment_id)
        .where(one_of(assignments.c.assignment_id, ids), assignments.c.status == "pending")
        .order_by(assignments.c.assignment_id)
        .with_for_update()
    )
    result = await session.execute(
        update(assignments)
        .where(one_of(assignments.c.assignment_id, ids), assignments.c.status == "pending")
        .values(status=status, decided_at=now)
        .returning(*assignments.c)
    )
    return sorted(result.all(), key=lambda row: row.assignment_id)


def pending_among_query(lead_ids: Sequence[str]) -> Any:
    """A statement selecting which of ``lead_ids`` have an open (pending) assignment, to run with
    other reads in one round trip."""
    return select(assignments.c.lead_id).where(
        one_of(assignments.c.lead_id, list(lead_ids)), assignments.c.status == "pending"
    )


async def recent_decided_statuses(
    session: AsyncSession, rep_id: str, limit: int, *, decided_after: datetime | None = None
) -> list[str]:
    """The statuses of the rep's last ``limit`` decided (not pending) assignments, newest first;
    with ``decided_after``, only those decided after it."""
    query = select(assignments.c.status).where(
        assignments.c.rep_id == rep_id, assignments.c.status != "pending"
    )
    if decided_after is not None:
        query = query.where(assignments.c.decided_at > decided_after)
    rows = await session.scalars(query.order_by(assignments.c.decided_at.desc()).limit(limit))
    return list(rows)


async def open_by_account(session: AsyncSession) -> dict[str, int]:
    """Each rep's undecided assignments that came to them by account (named account, owner,
    cover, stickiness) rather than by a team's rotation."""
    statement = (
        select(assignments.c.rep_id, func.count())
        .where(assignments.c.status == "pending")
        .where(assignments.c.explanation["matched_by"].astext.in_(sorted(BY_ACCOUNT)))
        .group_by(assignments.c.rep_id)
    )
    return dict((await session.execute(statement)).tuples().all())
