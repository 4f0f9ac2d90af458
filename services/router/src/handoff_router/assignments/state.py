"""Routing state in Postgres: team rotations, rep load and availability.

The single ``routing_state`` row is locked for the whole routing transaction, so routers
on any number of replicas take turns and never double-assign. Decisions lower a rep's
open count with an atomic ``open = open - 1`` that needs no such lock, and routing writes
its changes as deltas for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.routing.engine import Availability, RepLoad, RoutingState
from handoff_router.routing.rotation import rotation_from_json, rotation_to_json
from handoff_router.tables import rep_availability, rep_load, routing_state


async def lock(session: AsyncSession) -> RoutingState:
    """Lock the routing state for this transaction and read it."""
    await session.execute(insert(routing_state).values(id=1).on_conflict_do_nothing())
    rotation = await session.scalar(
        select(routing_state.c.rotation).where(routing_state.c.id == 1).with_for_update()
    )
    return RoutingState(
        rotation=rotation_from_json(rotation or {}),
        load=await read_load(session),
        availability=await read_availability(session),
    )


async def read(session: AsyncSession) -> RoutingState:
    """Read the routing state without locking it (previews and simulations)."""
    rotation = await session.scalar(select(routing_state.c.rotation).where(routing_state.c.id == 1))
    return RoutingState(
        rotation=rotation_from_json(rotation or {}),
        load=await read_load(session),
        availability=await read_availability(session),
    )


async def read_load(session: AsyncSession) -> dict[str, RepLoad]:
    """Every rep's open count and assignments of their local day."""
    rows = await session.execute(select(rep_load))
    return {row.rep_id: RepLoad(open=row.open, day=row.day, today=row.today) for row in rows}


async def read_availability(session: AsyncSession) -> dict[str, Availability]:
    """Every rep's availability as set at run time (absent: available)."""
    rows = await session.execute(select(rep_availability))
    return {row.rep_id: Availability(available=row.available, until=row.until) for row in rows}


async def save(session: AsyncSession, before: RoutingState, after: RoutingState) -> None:
    """Write what routing changed: the rotation, and each rep's load as a delta."""
    if after.rotation != before.rotation:
        await session.execute(
            update(routing_state)
            .where(routing_state.c.id == 1)
            .values(rotation=rotation_to_json(after.rotation))
        )
    changed = [
        {
            "rep_id": rep,
            "open": load.open - before.load.get(rep, RepLoad()).open,
            "day": load.day,
            "today": load.today,
        }
        for rep, load in after.load.items()
        if before.load.get(rep) != load
    ]
    if changed:
        statement = insert(rep_load)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[rep_load.c.rep_id],
                set_={
                    "open": rep_load.c.open + statement.excluded.open,
                    "day": statement.excluded.day,
                    "today": statement.excluded.today,
                },
            ),
            changed,
        )


async def release(session: AsyncSession, rep_ids: Iterable[str]) -> None:
    """One fewer open assignment for each rep given (a decision or a reassignment)."""
    for rep in rep_ids:
        await session.execute(
            update(rep_load)
            .where(rep_load.c.rep_id == rep, rep_load.c.open > 0)
            .values(open=rep_load.c.open - 1)
        )


async def set_availability(
    session: AsyncSession, rep_id: str, available: bool, until: datetime | None
) -> None:
    """Record a rep's availability (``until``: when it flips back)."""
    statement = insert(rep_availability).values(rep_id=rep_id, available=available, until=until)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[rep_availability.c.rep_id], set_={"available": available, "until": until}
        )
    )
