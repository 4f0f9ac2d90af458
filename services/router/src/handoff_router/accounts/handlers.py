"""What the accounts feature does with the router's facts and which questions it answers (wired
in ``bootstrap.py``): routing asks it to recall a batch's people and accounts, simulations ask
for the index each process holds, and every new assignment's person keys and account are
recorded in the assignment's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.accounts import people, repository
from handoff_router.accounts.book_index import BookIndex
from handoff_router.bus import Bus
from handoff_router.facts import AssignmentStatuses, CurrentAccountIndex, LeadsAssigned, RecallPeople
from handoff_router.routing.identity import keys_of
from handoff_router.routing.matching import AccountIndex


class AccountMemory:
    """The account book's index of this process and the people of past assignments."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus) -> None:
        self.book = BookIndex(sessions)
        self.bus = bus

    async def recall(self, session: AsyncSession, question: RecallPeople) -> people.Recall:
        assignments = await self.bus.ask(session, AssignmentStatuses())
        index = await self.book.current(session)
        return await people.recall(session, question.leads, question.config, index, question.now, assignments)

    async def index(self, session: AsyncSession, question: CurrentAccountIndex) -> AccountIndex:
        return await self.book.current(session)


async def remember_people(session: AsyncSession, fact: LeadsAssigned) -> None:
    """Record the person keys and account of each new assignment."""
    records: list[dict[str, Any]] = []
    for item in fact.assigned:
        row = item.row
        match = (row.get("explanation") or {}).get("match") or {}
        account_id = match.get("account_id") if match.get("by") in people.STICKY_BY else None
        keys = keys_of(row["lead"]).all()
        if keys or account_id:
            records.append(
                {
                    "assignment_id": row["assignment_id"],
                    "lead_id": row["lead_id"],
                    "person_keys": list(keys),
                    "account_id": account_id,
                    "rep_id": row["rep_id"],
                    "assigned_at": row["assigned_at"],
                }
            )
    await repository.remember(session, records)
