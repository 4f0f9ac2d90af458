"""Intake's queries: sources' sealed secrets, and which event ids were already routed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.intake.tables import intake_secrets
from handoff_router.metadata import processed_events


async def sealed_secret(session: AsyncSession, source_id: str) -> bytes | None:
    """The source's sealed secret, or None when none was set."""
    value: bytes | None = await session.scalar(
        select(intake_secrets.c.sealed).where(intake_secrets.c.source_id == source_id)
    )
    return value


async def store_secret(session: AsyncSession, source_id: str, sealed: bytes, now: datetime) -> None:
    """Set (or replace) the source's secret."""
    statement = insert(intake_secrets).values(source_id=source_id, sealed=sealed, set_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[intake_secrets.c.source_id], set_={"sealed": sealed, "set_at": now}
        )
    )


async def already_processed(session: AsyncSession, event_ids: Sequence[str]) -> set[str]:
    """Those of ``event_ids`` the MQL consumer has already applied."""
    if not event_ids:
        return set()
    rows = await session.scalars(
        select(processed_events.c.event_id).where(processed_events.c.event_id.in_(list(event_ids)))
    )
    return set(rows.all())
