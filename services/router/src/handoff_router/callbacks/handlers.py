"""What callbacks do with the router's facts and which questions they answer (wired in
``bootstrap.py``): every assignment and escalation gets its delivery rows in the transaction
that made it (so a callback exists exactly when its event does), the delivery worker of every
process is woken once that commits, and a new config's URLs are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from handoff_shared.wakeup import Wakeup
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.callbacks import recipients, repository
from handoff_router.callbacks.service import callback_urls, config_url_problems
from handoff_router.facts import (
    ConfigApplied,
    ConfigProblems,
    EscalationsReceived,
    LeadsAssigned,
    LeadsReengaged,
    UnreachableReps,
)
from handoff_router.routing.problems import Problem
from handoff_router.settings import RouterSettings


@dataclass(frozen=True)
class CallbackHandlers:
    """The callbacks feature's side of the bus."""

    settings: RouterSettings
    clock: Callable[[], datetime]
    wakeup: Wakeup  # the delivery worker's

    async def deliver_assigned(self, session: AsyncSession, fact: LeadsAssigned) -> None:
        """The callback of each ``lead.assigned`` to its rep's tool."""
        now = self.clock()
        calls = [
            recipients.to_rep(fact.config, item.row["rep_id"], item.event, item.body, now)
            for item in fact.assigned
        ]
        await repository.enqueue(session, [call for call in calls if call is not None])
        await self.wakeup.notify(session)

    async def deliver_escalations(self, session: AsyncSession, fact: EscalationsReceived) -> None:
        """Every level is called back (remind: the rep; escalate, reassign: the manager)."""
        config = fact.config.config if fact.config else None
        now = self.clock()
        calls = [recipients.for_escalation(config, item.event, item.data, now) for item in fact.escalations]
        await repository.enqueue(session, [call for call in calls if call is not None])
        await self.wakeup.notify(session)

    async def tell_reengaged(self, session: AsyncSession, fact: LeadsReengaged) -> None:
        """CONTRACT §11: the rep of the open assignment hears that their lead came back."""
        now = self.clock()
        source = self.settings.event_source
        calls = [recipients.for_reengaged(fact.config, item, source, now) for item in fact.reengaged]
        await repository.enqueue(session, calls)
        await self.wakeup.notify(session)

    async def keep_urls(self, session: AsyncSession, fact: ConfigApplied) -> None:
        await repository.sync_urls(session, callback_urls(fact.version.config))

    async def unreachable_reps(self, session: AsyncSession, question: UnreachableReps) -> frozenset[str]:
        return await repository.unreachable_reps(session, question.now, question.after)

    async def url_problems(self, session: AsyncSession, question: ConfigProblems) -> list[Problem]:
        return config_url_problems(question.config, self.settings)
