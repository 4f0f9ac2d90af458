"""Routing state in Postgres: team rotations, rep load and availability (set by the reps feature's
``AvailabilitySet`` and by the SLA auto-pause).

The single ``routing_state`` row is locked for the whole routing transaction, so routers
on any number of replicas take turns and never double-assign. Decisions lower a rep's
open count with an atomic ``open = open - 1`` that needs no such lock, and routing writes
its changes as deltas for the same reason. ``rep_load`` rows are always written in
``rep_id`` order (the lock order of docs/architecture.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
    cast,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments.tables import rep_availability, rep_load, routing_state
from handoff_router.routing.engine import Availability, RepLoad, RoutingState
from handoff_router.routing.rotation import rotation_from_json, rotation_to_json

_LOCK = select(routing_state.c.rotation).where(routing_state.c.id == 1).with_for_update()


async def lock(session: AsyncSession) -> RoutingState:
    """Lock the routing state for this transaction and read it."""
    row = (await session.execute(_LOCK)).first()
    if row is None:  # the first routing ever: the row is made once, then locked like any other time
        await session.execute(insert(routing_state).values(id=1).on_conflict_do_nothing())
        row = (await session.execute(_LOCK)).one()
    # Read after the lock is held, in a statement of its own: READ COMMITTED gives it a snapshot
    # holding everything the transaction that held the lock before committed.
    load, availability = await read_load_and_availability(session)
    return RoutingState(rotation=rotation_from_json(row.rotation or {}), load=load, availability=availability)


async def read(session: AsyncSession) -> RoutingState:
    """Read the routing state without locking it (previews and simulations)."""
    rotation = await session.scalar(select(routing_state.c.rotation).where(routing_state.c.id == 1))
    load, availability = await read_load_and_availability(session)
    return RoutingState(rotation=rotation_from_json(rotation or {}), load=load, availability=availability)


def _load_and_availability() -> Any:
    """Every rep's load and availability in one statement (one round trip, not two)."""
    load, available = rep_load, rep_availability
    return union_all(
        select(
            literal_column("'load'").label("kind"),
            load.c.rep_id,
            load.c.open,
            load.c.day,
            load.c.today,
            cast(null(), Boolean).label("available"),
            cast(null(), DateTime(timezone=True)).label("until"),
            cast(null(), String).label("reason"),
        ),
        select(
            literal_column("'availability'"),
            available.c.rep_id,
            cast(null(), Integer),
            cast(null(), Date),
            cast(null(), Integer),
            available.c.available,
            available.c.until,
            available.c.reason,
        ),
    )


_LOAD_AND_AVAILABILITY = _load_and_availability()


async def read_load_and_availability(
    session: AsyncSession,
) -> tuple[dict[str, RepLoad], dict[str, Availability]]:
    """Every rep's open count and assignments of their local day, and availability as set at
    run time (absent: available)."""
    load: dict[str, RepLoad] = {}
    availability: dict[str, Availability] = {}
    for row in await session.execute(_LOAD_AND_AVAILABILITY):
        if row.kind == "load":
            load[row.rep_id] = RepLoad(open=row.open, day=row.day, today=row.today)
        else:
            availability[row.rep_id] = Availability(
                available=row.available, until=row.until, reason=row.reason
            )
    return load, availability


async def save(session: AsyncSession, before: RoutingState, after: RoutingState) -> None:
    """Write what routing changed: the rotation, and each rep's load as a delta (one statement)."""
    rotate = after.rotation != before.rotation
    changed = [
        (rep, load.open - before.load.get(rep, RepLoad()).open, load.day, load.today)
        for rep, load in sorted(after.load.items())
        if before.load.get(rep) != load
    ]
    if not rotate and not changed:
        return
    reps, opens, days, todays = (
        (list(column) for column in zip(*changed, strict=True)) if changed else ([], [], [], [])
    )
    await session.execute(
        _SAVE,
        {
            "rotate": rotate,
            "rotation": orjson.dumps(rotation_to_json(after.rotation)).decode(),
            "reps": reps,
            "opens": opens,
            "days": days,
            "todays": todays,
        },
    )


# The rotation and the load deltas together; rows in ``rep_id`` order (the lock order).
_SAVE = text(
    f"WITH rotation AS (UPDATE {routing_state.schema}.{routing_state.name} "
    "SET rotation = CAST(:rotation AS jsonb) WHERE id = 1 AND CAST(:rotate AS boolean)) "
    f"INSERT INTO {rep_load.schema}.{rep_load.name} AS load (rep_id, open, day, today) "
    "SELECT * FROM unnest(CAST(:reps AS text[]), CAST(:opens AS integer[]), CAST(:days AS date[]), "
    "CAST(:todays AS integer[])) "
    "ON CONFLICT (rep_id) DO UPDATE SET open = load.open + excluded.open, day = excluded.day, "
    "today = excluded.today"
)


async def release(session: AsyncSession, rep_ids: Iterable[str]) -> None:
    """One fewer open assignment for each rep given, as often as given (decisions, reassignments).

    Rows are updated in ``rep_id`` order, the lock order of every transaction that touches them.
    """
    for rep, count in sorted(Counter(rep_ids).items()):
        await session.execute(
            update(rep_load)
            .where(rep_load.c.rep_id == rep)
            .values(open=func.greatest(rep_load.c.open - count, 0))
        )


async def set_availability(
    session: AsyncSession,
    rep_id: str,
    available: bool,
    until: datetime | None,
    reason: str | None = None,
    *,
    now: datetime,
) -> None:
    """Record a rep's availability (``until``: when it flips back; ``reason``: why, when not the rep's).

    ``updated_at`` becomes ``now``: a cold streak (assignments/reassignment.py) counts only what
    was decided after it, so ending an auto-pause starts a new streak."""
    values = {"available": available, "until": until, "reason": reason, "updated_at": now}
    statement = insert(rep_availability).values(rep_id=rep_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[rep_availability.c.rep_id], set_=values)
    )


async def availability_changed_at(session: AsyncSession, rep_id: str) -> datetime | None:
    """When the rep's availability last changed (None: never set)."""
    changed: datetime | None = await session.scalar(
        select(rep_availability.c.updated_at).where(rep_availability.c.rep_id == rep_id)
    )
    return changed
