"""The reps' own table: tokens (as digests)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.reps.tables import rep_tokens


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


async def revoke_tokens(session: AsyncSession, rep_id: str) -> int:
    """Every token of the rep stops working; answer how many there were."""
    result = await session.execute(
        delete(rep_tokens).where(rep_tokens.c.rep_id == rep_id).returning(rep_tokens.c.rep_id)
    )
    return len(result.all())
