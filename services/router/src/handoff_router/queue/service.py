"""The unassigned queue's use cases: show it, and drain it when capacity may have freed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from handoff_router.assignments.routing import from_queue, start_run
from handoff_router.context import RouterContext
from handoff_router.queue import repository
from handoff_router.queue.schemas import QueuedLead, QueueOut

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
        """Background work: drain when woken (a decision, a rep back, a new config) and every
        ``queue_drain_interval`` regardless, for what frees with time (``until``, a new local day)."""
        interval = self.context.settings.queue_drain_interval.total_seconds()
        while not stop.is_set():
            await self.drain()
            await self.context.queue_changed.wait(stop, interval)
