"""Routing the leads that wait in the queue, oldest first, as far as capacity allows.

The queue feature keeps the waiting leads; this asks it for them (``AnyLeadWaiting``,
``OldestWaitingForCapacity``) after taking the routing state, so two drainers on two replicas
never route the same lead, and the run's ``LeadsAssigned`` lets the queue drop those assigned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from handoff_shared.wakeup import Wakeup

from handoff_router.assignments.runs import from_queue, start_run
from handoff_router.context import RouterContext
from handoff_router.facts import AnyLeadWaiting, OldestWaitingForCapacity

log = structlog.get_logger(__name__)

DRAIN_BATCH = 500


@dataclass
class Drainer:
    """Background work: drain when woken and every ``queue_drain_interval`` regardless."""

    context: RouterContext
    wakeup: Wakeup

    async def drain(self) -> int:
        """Route what waits, oldest first, as far as capacity allows; answer how many were assigned."""
        context = self.context
        async with context.transaction() as session:
            if not await context.bus.ask(session, AnyLeadWaiting()):
                return 0
            config = await context.configs.active(session)
            run = await start_run(context, session, config)
            before = run.state
            for waiting in await context.bus.ask(session, OldestWaitingForCapacity(DRAIN_BATCH)):
                run.route(from_queue(waiting), from_queue=True)
            await run.flush(before)
        if run.assigned:
            log.info("queue.drained", assigned=run.assigned)
        return run.assigned

    async def run(self, stop: asyncio.Event) -> None:
        """Drain when woken (a decision, a rep back, a new config, a circuit closed, in this process
        or another: the wakeup's listener) and every ``queue_drain_interval`` regardless, for what
        frees with time (``until``, a new local day) and what was notified while nobody listened."""
        interval = self.context.settings.queue_drain_interval.total_seconds()
        while not stop.is_set():
            await self.drain()
            await self.wakeup.wait(stop, interval)
