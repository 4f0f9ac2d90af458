"""The reps' own table: tokens (as digests)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.reps.tables import rep_tokens


async def add_token(session: AsyncSession, digest: str, rep_id: str) -> None:
    await session.execute(insert(rep_tokens).values(token_sha256=digest, rep_id=rep_id))


async def rep_of_token(session: AsyncSession, digest: str) -> str | None:
    """The rep a token digest belongs to, or None."""
    return await session.scalar(select(rep_tokens.c.rep_id).where(rep_tokens.c.token_sha256 == digest))
