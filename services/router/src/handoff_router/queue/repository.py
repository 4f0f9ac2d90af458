"""The unassigned queue: leads nobody can take now, waiting for capacity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handoff_shared.db import one_of
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.queue.tables import unassigned


async def park(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Put leads in the queue; a lead already there keeps its place and gets the newer explanation."""
    if not rows:
        return
    statement = insert(unassigned)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[unassigned.c.lead_id],
            set_={
                "explanation": statement.excluded.explanation,
                "rule_id": statement.excluded.rule_id,
                "attempt": statement.excluded.attempt,
                "previous_rep_id": statement.excluded.previous_rep_id,
                "excluded_reps": statement.excluded.excluded_reps,
            },
        ),
        list(rows),
    )


async def remove(session: AsyncSession, lead_ids: Sequence[str]) -> None:
    """Take leads out of the queue (they have been assigned)."""
    if lead_ids:
        await session.execute(delete(unassigned).where(one_of(unassigned.c.lead_id, lead_ids)))


async def oldest(session: AsyncSession, limit: int, *, routable_only: bool = False) -> Sequence[Any]:
    """The oldest queued leads, first in first out."""
    query = select(unassigned)
    if routable_only:  # parked leads (explanation.parked) wait for people, not for the drain
        query = query.where(unassigned.c.explanation["parked"].as_boolean().is_not(True))
    rows = await session.execute(query.order_by(unassigned.c.queued_at).limit(limit))
    return rows.all()


async def locked(session: AsyncSession, lead_id: str) -> Any | None:
    """One queued lead, locked until the transaction ends (None: not in the queue)."""
    result = await session.execute(
        select(unassigned).where(unassigned.c.lead_id == lead_id).with_for_update()
    )
    return result.first()


async def requeue(
    session: AsyncSession, lead_id: str, explanation: dict[str, Any], excluded_reps: Sequence[str]
) -> Any:
    """Give a queued lead a new explanation and excluded reps; answer the row as it now is."""
    result = await session.execute(
        update(unassigned)
        .where(unassigned.c.lead_id == lead_id)
        .values(explanation=explanation, excluded_reps=list(excluded_reps))
        .returning(*unassigned.c)
    )
    return result.one()


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(unassigned)) or 0)


async def is_empty(session: AsyncSession) -> bool:
    """True when no lead waits for capacity."""
    return (await session.scalar(select(unassigned.c.lead_id).limit(1))) is None


def queued_among_query(lead_ids: Sequence[str]) -> Any:
    """A statement selecting which of ``lead_ids`` wait in the queue, to run with other reads in
    one round trip."""
    return select(unassigned.c.lead_id).where(one_of(unassigned.c.lead_id, list(lead_ids)))
