"""Idempotent consumers: an event id applied once is a no-op the next time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_shared.kafka import Incoming


async def first_seen(session: AsyncSession, processed: Table, batch: Sequence[Incoming]) -> list[Incoming]:
    """Record the batch's event ids; answer the events not processed before, each once, in order."""
    if not batch:
        return []
    unique = {item.event.id: item for item in batch}
    # executemany with RETURNING: one round trip, and a statement compiled once, not per batch size
    statement = insert(processed).on_conflict_do_nothing().returning(processed.c.event_id)
    rows = [{"event_id": event_id, "event_type": item.event.type} for event_id, item in unique.items()]
    new_ids = set((await session.scalars(statement, rows)).all())
    return [item for event_id, item in unique.items() if event_id in new_ids]
