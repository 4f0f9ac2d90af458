"""The unassigned queue's use cases: show it, and let an admin send a parked lead (one that waits
for people, e.g. after ``sla.max_reassignments``) back to routing (``LeadReleased``). The
assignments feature drains the queue; ``handlers.py`` keeps it as routing runs say."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from handoff_router.context import RouterContext
from handoff_router.facts import LeadReleased
from handoff_router.queue import repository
from handoff_router.queue.errors import LeadNotQueued, NotParked
from handoff_router.queue.schemas import QueuedLead, QueueOut, Release

log = structlog.get_logger(__name__)


@dataclass
class Queue:
    """Leads waiting for capacity."""

    context: RouterContext

    async def show(self, limit: int) -> QueueOut:
        """The oldest ``limit`` leads and how many wait in all."""
        async with self.context.sessions() as session:
            total = await repository.count(session)
            rows = await repository.oldest(session, limit)
        return QueueOut(
            total=total,
            items=[QueuedLead.model_validate(row._mapping, from_attributes=False) for row in rows],
        )

    async def release(self, lead_id: str, release: Release) -> QueuedLead:
        """Unpark a lead: it keeps its place and attempt, and the drainer routes it like any other
        waiting lead (excluding the reps who had it, unless ``include_previous_reps``)."""
        async with self.context.transaction() as session:
            row = await repository.locked(session, lead_id)
            if row is None:
                raise LeadNotQueued(f"lead {lead_id} is not in the unassigned queue")
            if not row.explanation.get("parked"):
                raise NotParked(
                    f"lead {lead_id} is not parked: it waits for capacity and is routed when it can be"
                )
            explanation = {
                "summary": "released by an admin; waiting to be routed",
                "released_at": self.context.clock().isoformat(),
                "released_from": {key: row.explanation.get(key) for key in ("reason", "summary")},
                "note": release.note,
            }
            excluded = [] if release.include_previous_reps else row.excluded_reps
            updated = await repository.requeue(session, lead_id, explanation, excluded)
            await self.context.bus.publish(session, LeadReleased(lead_id))
        log.info("queue.released", lead_id=lead_id, include_previous_reps=release.include_previous_reps)
        return QueuedLead.model_validate(updated._mapping, from_attributes=False)
