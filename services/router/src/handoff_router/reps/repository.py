"""The reps' own tables: tokens (as digests) and availability set at run time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.routing.engine import BY_ACCOUNT, Availability
from handoff_router.tables import assignments, rep_availability, rep_tokens


async def add_token(session: AsyncSession, digest: str, rep_id: str) -> None:
    await session.execute(insert(rep_tokens).values(token_sha256=digest, rep_id=rep_id))


async def rep_of_token(
    session: AsyncSession, digest: str, issued_after: datetime | None = None
) -> str | None:
    """The rep a token digest belongs to (one issued after ``issued_after``, when given), or None."""
    query = select(rep_tokens.c.rep_id).where(rep_tokens.c.token_sha256 == digest)
    if issued_after is not None:
        query = query.where(rep_tokens.c.created_at > issued_after)
    return await session.scalar(query)


async def read_availability(session: AsyncSession) -> dict[str, Availability]:
    """Every rep's availability as set at run time (absent: available)."""
    rows = await session.execute(select(rep_availability))
    return {
        row.rep_id: Availability(available=row.available, until=row.until, reason=row.reason) for row in rows
    }


async def set_availability(
    session: AsyncSession,
    rep_id: str,
    available: bool,
    until: datetime | None,
    reason: str | None = None,
    *,
    now: datetime,
) -> None:
    """Record a rep's availability (``until``: when it flips back; ``reason``: why, when not the rep's).

    ``updated_at`` becomes ``now``: a cold streak (escalations/service.py) counts only what was
    decided after it, so ending an auto-pause starts a new streak."""
    values = {"available": available, "until": until, "reason": reason, "updated_at": now}
    statement = upsert(rep_availability).values(rep_id=rep_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[rep_availability.c.rep_id], set_=values)
    )


async def availability_changed_at(session: AsyncSession, rep_id: str) -> datetime | None:
    """When the rep's availability last changed (None: never set)."""
    changed: datetime | None = await session.scalar(
        select(rep_availability.c.updated_at).where(rep_availability.c.rep_id == rep_id)
    )
    return changed


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


async def revoke_tokens(session: AsyncSession, rep_id: str) -> int:
    """Every token of the rep stops working; answer how many there were."""
    result = await session.execute(
        delete(rep_tokens).where(rep_tokens.c.rep_id == rep_id).returning(rep_tokens.c.rep_id)
    )
    return len(result.all())
