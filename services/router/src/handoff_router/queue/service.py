"""The unassigned queue's use cases: show it, drain it when capacity may have freed, and let an
admin send a parked lead (one that waits for people, e.g. after ``sla.max_reassignments``)
back to routing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from handoff_router.assignments.routing import from_queue, start_run
from handoff_router.context import RouterContext
from handoff_router.queue import repository
from handoff_router.queue.errors import LeadNotQueued, NotParked
from handoff_router.queue.schemas import QueuedLead, QueueOut, Release

log = structlog.get_logger(__name__)

DRAIN_BATCH = 500


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
            await self.context.queue_changed.notify(session)
        log.info("queue.released", lead_id=lead_id, include_previous_reps=release.include_previous_reps)
        return QueuedLead.model_validate(updated._mapping, from_attributes=False)

    async def drain(self) -> int:
        """Route what waits, oldest first, as far as capacity allows; answer how many were assigned."""
        async with self.context.transaction() as session:
            if await repository.is_empty(session):
                return 0
            config = await self.context.configs.active(session)
            run = await start_run(self.context, session, config)
            before = run.state
            for row in await repository.oldest(session, DRAIN_BATCH, routable_only=True):
                run.route(from_queue(row), from_queue=True)
            await run.flush(before)
        if run.assigned:
            log.info("queue.drained", assigned=run.assigned)
        return run.assigned

    async def run_drainer(self, stop: asyncio.Event) -> None:
        """Background work: drain when woken (a decision, a rep back, a new config, in this process
        or another: see ``run_listener``) and every ``queue_drain_interval`` regardless, for what
        frees with time (``until``, a new local day) and what was notified while nobody listened."""
        interval = self.context.settings.queue_drain_interval.total_seconds()
        while not stop.is_set():
            await self.drain()
            await self.context.queue_changed.wait(stop, interval)

    async def run_listener(self, stop: asyncio.Event) -> None:
        """Background work beside the drainer: LISTEN for the wakeups other processes commit
        (the API pods' accepts, rejects, availability and configs)."""
        settings = self.context.settings
        await self.context.queue_changed.listen(
            stop,
            settings.database_url.get_secret_value(),
            check_every=min(settings.queue_drain_interval.total_seconds(), 30.0),
        )
