"""The "rep offboarded" fact, for assignments: the rep's pending leads are routed again without
them, in the offboarding unit of work (each new assignment explains that the rep was passed
over; a lead nobody can take waits in the queue, visibly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments import repository
from handoff_router.assignments import state as state_store
from handoff_router.assignments.runs import next_attempt, start_run
from handoff_router.context import RouterContext
from handoff_router.facts import AssignmentsDecided

MANY = 100_000


async def reroute_pending(
    context: RouterContext, session: AsyncSession, rep_id: str, successor: str, now: datetime
) -> dict[str, Any]:
    """Close the rep's pending assignments (``reassigned``) and route each lead again."""
    config = await context.configs.active(session)
    run = await start_run(context, session, config)  # the routing state first, as the lock order says
    before = run.state
    pending = await repository.of_rep(session, rep_id, "pending", MANY)
    closed = await repository.close_pending(
        session, [row.assignment_id for row in pending], status="reassigned", now=now
    )
    await state_store.release(session, [row.rep_id for row in closed])
    moved = []
    for row in closed:
        chosen = run.route(next_attempt(row))
        moved.append({"assignment_id": row.assignment_id, "lead_id": row.lead_id, "now_with": chosen})
    await run.flush(before)
    if closed:
        await context.bus.publish(session, AssignmentsDecided("reassigned", [row._mapping for row in closed]))
    return {"reassigned": moved}
