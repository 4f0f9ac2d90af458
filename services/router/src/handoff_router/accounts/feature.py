"""The accounts feature in the app: its API, the index each process holds, what routing reads of
people and accounts, and the record of who each assignment was for."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from handoff_shared.runtime import Runtime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.accounts import endpoints, people, repository
from handoff_router.accounts.book_index import BookIndex
from handoff_router.accounts.service import Accounts
from handoff_router.context import RouterContext
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.identity import keys_of
from handoff_router.routing.matching import AccountIndex


class AccountMemory:
    """``LeadMemory`` over the account book and the people of past assignments."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.book = BookIndex(sessions)

    async def recall(
        self, session: AsyncSession, leads: Sequence[Mapping[str, Any]], config: RoutingConfig, now: datetime
    ) -> people.Recall:
        return await people.recall(session, leads, config, await self.book.current(session), now)

    async def index(self, session: AsyncSession) -> AccountIndex:
        return await self.book.current(session)


async def remember_people(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """An ``AssignedHook``: record the person keys and account of each new assignment."""
    records = []
    for row in rows:
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


def install(app: FastAPI, runtime: Runtime, context: RouterContext, memory: AccountMemory) -> Accounts:
    """Add the account book API, keep this process's index fresh, record assignments' people."""
    accounts = Accounts(context, memory.book)
    app.state.accounts = accounts
    app.include_router(endpoints.router)
    context.on_assigned.append(remember_people)
    database_url = context.settings.database_url.get_secret_value()

    async def listen(stop: asyncio.Event) -> None:
        await memory.book.run_listener(stop, database_url)

    runtime.spawn("accounts-index", memory.book.run_refresher)
    runtime.spawn("accounts-listener", listen)
    return accounts
