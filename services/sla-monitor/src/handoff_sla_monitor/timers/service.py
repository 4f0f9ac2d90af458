"""The sla-monitor's use cases: keep timers from lifecycle events, fire the ladder, report.

Each use case is one unit of work; nothing here parses HTTP or Kafka records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from handoff_shared.db import transaction
from handoff_shared.kafka import Incoming
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_sla_monitor.tables import outbox
from handoff_sla_monitor.timers import metrics, repository
from handoff_sla_monitor.timers.event_views import Accepted, Assigned, Decided
from handoff_sla_monitor.timers.records import timer_row

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    """The clock of the edges; the ladder is always handed ``now``."""
    return datetime.now(UTC)


@dataclass
class Timers:
    """Opens and closes timers, and fires their steps through the outbox."""

    sessions: async_sessionmaker[AsyncSession]
    source: str
    escalated_topic: str
    clock: Callable[[], datetime] = utc_now

    async def apply(self, batch: Sequence[Incoming], dead_letters: Sequence[OutboxMessage]) -> None:
        """Open timers for assignments, close them on decisions, in one transaction.

        Idempotent by natural keys and indifferent to order: a duplicate opens nothing twice,
        a decision before its assignment leaves a closed row the assignment cannot reopen,
        and a newer assignment of a lead closes the older one's timer whichever comes first.
        """
        now = self.clock()
        opened: list[dict[str, Any]] = []
        decided: list[dict[str, Any]] = []
        for item in batch:
            data = item.data
            if isinstance(data, Assigned):
                opened.append(timer_row(data))
            elif isinstance(data, Decided):
                status = "accepted" if isinstance(data, Accepted) else "rejected"
                decided.append(
                    {
                        "assignment_id": data.assignment_id,
                        "lead_id": data.lead_id,
                        "rep_id": data.rep_id,
                        "status": status,
                        "closed_at": now,
                    }
                )
        async with transaction(self.sessions) as session:
            await add_to_outbox(session, outbox, dead_letters)
            await repository.open_timers(session, _last_of_each(opened))
            await repository.supersede_older(session, [row["lead_id"] for row in opened], now)
            await repository.close_decided(session, _last_of_each(decided))
        log.info("timers.applied", events=len(batch), opened=len(opened), decided=len(decided))

    async def scan_once(self, batch_max: int) -> int:
        """Fire the due steps of up to ``batch_max`` timers; answer how many timers were claimed.

        One statement in one transaction (repository.fire_due): claim, fire, record, outbox,
        advance. A crash before the commit leaves nothing; after it, everything.
        """
        started = time.perf_counter()
        now = self.clock()
        async with transaction(self.sessions) as session:
            fired = await repository.fire_due(
                session, now, batch_max, topic=self.escalated_topic, source=self.source
            )
        for level, lag in zip(fired.levels, fired.lags, strict=True):
            metrics.ESCALATIONS.labels(level).inc()
            metrics.SCAN_LAG.observe(lag)
        if fired.claimed:
            metrics.SCAN_SECONDS.observe(time.perf_counter() - started)
        if fired.levels:
            log.info("timers.fired", timers=fired.claimed, steps=len(fired.levels))
        return fired.claimed

    async def refresh_gauges(self) -> None:
        """Open timers, overdue now, catch-up backlog."""
        async with self.sessions() as session:
            open_, overdue, backlog = await repository.gauges(session, self.clock())
        metrics.OPEN_TIMERS.set(open_)
        metrics.OVERDUE_NOW.set(overdue)
        metrics.CATCH_UP_BACKLOG.set(backlog)


def _last_of_each(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per assignment (a statement may not touch a row twice): the last one seen."""
    return list({row["assignment_id"]: row for row in rows}.values())
