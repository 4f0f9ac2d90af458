"""What the queue does with the router's facts and which questions it answers (wired in
``bootstrap.py``): leads left waiting by a routing run are kept; those a run assigned from the
queue are let go; routing asks which leads wait."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.facts import (
    AnyLeadWaiting,
    LeadsAssigned,
    LeadsWaiting,
    OldestWaitingForCapacity,
    WaitingAmongStatement,
    WaitingLead,
)
from handoff_router.queue import repository

_FIELDS = [field.name for field in fields(WaitingLead)]


async def keep_waiting(session: AsyncSession, fact: LeadsWaiting) -> None:
    await repository.park(session, [asdict(waiting) for waiting in fact.waiting])


async def let_go_of_assigned(session: AsyncSession, fact: LeadsAssigned) -> None:
    await repository.remove(session, [item.row["lead_id"] for item in fact.assigned if item.was_waiting])


async def any_waiting(session: AsyncSession, question: AnyLeadWaiting) -> bool:
    return not await repository.is_empty(session)


async def oldest_waiting(session: AsyncSession, question: OldestWaitingForCapacity) -> Sequence[WaitingLead]:
    rows = await repository.oldest(session, question.limit, routable_only=True)
    return [WaitingLead(**{name: getattr(row, name) for name in _FIELDS}) for row in rows]


async def waiting_among(session: AsyncSession, question: WaitingAmongStatement) -> Any:
    return repository.queued_among_query(question.lead_ids)
