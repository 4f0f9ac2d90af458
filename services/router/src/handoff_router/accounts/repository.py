"""The account book and lead people in PostgreSQL. Never commits: the use case owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from handoff_shared.db import copy_rows
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.accounts.tables import account_book, accounts, lead_people
from handoff_router.routing.matching import AccountRecord

BOOK_CHANNEL = "handoff_router_accounts"
"""The PostgreSQL channel told when the book changes: every process rebuilds its index."""


def _row(account: AccountRecord, now: datetime) -> dict[str, Any]:
    return {
        "account_id": account.id,
        "name": account.name,
        "domains": list(account.domains),
        "owner": account.owner,
        "status": account.status,
        "tier": account.tier,
        "attributes": dict(account.attributes or {}),
        "updated_at": now,
    }


def record_of(row: Any) -> AccountRecord:
    """An account row as routing sees it."""
    return AccountRecord(
        id=row.account_id,
        name=row.name,
        domains=tuple(row.domains),
        owner=row.owner,
        status=row.status,
        tier=row.tier,
        attributes=row.attributes or None,
    )


async def clear(session: AsyncSession) -> None:
    """Empty the book (the replacement is written next, in the same transaction)."""
    await session.execute(accounts.delete())


async def insert_many(session: AsyncSession, batch: Sequence[AccountRecord], now: datetime) -> None:
    """Write new accounts (ids not in the book)."""
    await copy_rows(session, accounts, [_row(account, now) for account in batch])


async def upsert_many(session: AsyncSession, batch: Sequence[AccountRecord], now: datetime) -> None:
    """Write accounts, replacing those of the same id."""
    if not batch:
        return
    statement = insert(accounts).values([_row(account, now) for account in batch])
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[accounts.c.account_id],
            set_={
                name: excluded[name]
                for name in ("name", "domains", "owner", "status", "tier", "attributes", "updated_at")
            },
        )
    )


async def shared_domains(session: AsyncSession) -> list[tuple[str, list[str]]]:
    """Every domain that more than one account claims, with the accounts claiming it."""
    statement = text(
        "SELECT domain, array_agg(account_id ORDER BY account_id) AS ids "
        "FROM router.accounts, unnest(domains) AS domain GROUP BY domain HAVING count(*) > 1 ORDER BY domain"
    )
    return [(row.domain, list(row.ids)) for row in await session.execute(statement)]


async def bump_version(session: AsyncSession, now: datetime) -> int:
    """Raise the book's version and tell every process (on commit) to rebuild its index."""
    statement = (
        insert(account_book)
        .values(id=1, version=1, changed_at=now)
        .on_conflict_do_update(
            index_elements=[account_book.c.id],
            set_={"version": account_book.c.version + 1, "changed_at": now},
        )
        .returning(account_book.c.version)
    )
    version = int((await session.execute(statement)).scalar_one())
    await session.execute(select(func.pg_notify(BOOK_CHANNEL, str(version))))
    return version


async def version(session: AsyncSession) -> int:
    """The book's version (0: never written)."""
    return int(await session.scalar(select(account_book.c.version).where(account_book.c.id == 1)) or 0)


async def stream_all(session: AsyncSession) -> AsyncIterator[AccountRecord]:
    """Every account, read in pieces."""
    result = await session.stream(select(accounts).execution_options(yield_per=5000))
    async for row in result:
        yield record_of(row)


async def get(session: AsyncSession, account_id: str) -> Any:
    """One account row, or None."""
    return (await session.execute(select(accounts).where(accounts.c.account_id == account_id))).first()


async def move_ownership(session: AsyncSession, from_rep: str, to_rep: str, now: datetime) -> int:
    """Every account ``from_rep`` owns now belongs to ``to_rep``; answers how many moved."""
    result = await session.execute(
        update(accounts).where(accounts.c.owner == from_rep).values(owner=to_rep, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def remember(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record who each new assignment was for."""
    await copy_rows(session, lead_people, rows)


async def people_history(session: AsyncSession, keys: Sequence[str], assignments: Any) -> list[Any]:
    """The open (pending) and rejected assignments and accepted ones of any of these person keys
    (``assignments``: the assignments feature's ``AssignmentStatuses``)."""
    if not keys:
        return []
    statement = (
        select(
            lead_people.c.person_keys,
            assignments.c.assignment_id,
            assignments.c.lead_id,
            assignments.c.rep_id,
            assignments.c.status,
            assignments.c.assigned_at,
        )
        .join(assignments, assignments.c.assignment_id == lead_people.c.assignment_id)
        .where(lead_people.c.person_keys.overlap(list(keys)))
        .where(assignments.c.status.in_(("pending", "accepted", "rejected")))
        .order_by(assignments.c.assigned_at)
    )
    return list(await session.execute(statement))


async def account_history(
    session: AsyncSession, account_ids: Sequence[str], since: datetime, assignments: Any
) -> list[Any]:
    """The latest open or accepted assignment of each account since ``since`` (``assignments``:
    the assignments feature's ``AssignmentStatuses``)."""
    if not account_ids:
        return []
    statement = (
        select(lead_people.c.account_id, assignments.c.assignment_id, assignments.c.rep_id)
        .join(assignments, assignments.c.assignment_id == lead_people.c.assignment_id)
        .where(lead_people.c.account_id.in_(list(account_ids)))
        .where(lead_people.c.assigned_at >= since)
        .where(assignments.c.status.in_(("pending", "accepted")))
        .order_by(lead_people.c.account_id, lead_people.c.assigned_at.desc())
        .distinct(lead_people.c.account_id)
    )
    return list(await session.execute(statement))
