"""Idempotent consumers: an event id applied once is a no-op the next time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_shared.kafka import Incoming


async def first_seen(session: AsyncSession, processed: Table, batch: Sequence[Incoming]) -> list[Incoming]:
    """Record the batch's event ids; answer the events not processed before, each once, in order."""
    if not batch:
        return []
    # The first record of an id wins, also when one batch holds the same id twice with
    # different bodies (a later body must not replace the one that came first).
    unique: dict[str, Incoming] = {}
    for item in batch:
        unique.setdefault(item.event.id, item)
    # One statement whatever the batch size: the ids travel as two arrays.
    statement = text(
        f"INSERT INTO {processed.schema}.{processed.name} (event_id, event_type) "
        "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:types AS text[])) "
        "ON CONFLICT DO NOTHING RETURNING event_id"
    )
    ids = list(unique)
    types = [item.event.type for item in unique.values()]
    new_ids = set((await session.scalars(statement, {"ids": ids, "types": types})).all())
    return [item for event_id, item in unique.items() if event_id in new_ids]
