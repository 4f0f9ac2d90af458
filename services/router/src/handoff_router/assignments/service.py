"""The router's use cases: route a batch of MQLs, decide an assignment, reassign, drain the queue.

Each use case is one unit of work; nothing here parses HTTP or Kafka records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from handoff_shared import cloudevents, events
from handoff_shared.db import transaction
from handoff_shared.idempotency import first_seen
from handoff_shared.kafka import Incoming
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.assignments import state as state_store
from handoff_router.assignments.errors import (
    AlreadyDecided,
    AssignmentNotFound,
    InvalidReason,
    NotYourAssignment,
)
from handoff_router.assignments.records import AssignmentView
from handoff_router.assignments.routing import (
    LeadToRoute,
    RoutingRun,
    leads_in_hand,
    queue_is_empty,
    queued_leads,
)
from handoff_router.configs.repository import ConfigCache, ConfigVersion
from handoff_router.settings import RouterSettings
from handoff_router.tables import assignments, outbox, processed_events

log = structlog.get_logger(__name__)

WRONG_TERRITORY = "wrong_territory"
QUEUE_DRAIN_BATCH = 500


def utc_now() -> datetime:
    """The clock of the edges; the core is always handed ``now``."""
    return datetime.now(UTC)


@dataclass
class Assignments:
    """Routes leads and records reps' decisions."""

    sessions: async_sessionmaker[AsyncSession]
    configs: ConfigCache
    settings: RouterSettings
    clock: Callable[[], datetime] = utc_now

    async def route_mqls(
        self, batch: Sequence[Incoming], dead_letters: Sequence[OutboxMessage]
    ) -> RoutingRun | None:
        """Route a batch of ``mql.created`` events in one transaction (duplicates are no-ops)."""
        async with transaction(self.sessions) as session:
            await add_to_outbox(session, outbox, dead_letters)
            fresh = await first_seen(session, processed_events, batch)
            if not fresh:
                return None
            config = await self.configs.active(session)
            run = await self._start_run(session, config)
            before = run.state
            in_hand = await leads_in_hand(session, [item.data.lead_id for item in fresh])
            for item in fresh:
                lead = item.data.model_dump(mode="json", exclude_none=True)
                if lead["lead_id"] in in_hand:
                    log.info("mql.duplicate_lead", event_id=item.event.id, lead_id=lead["lead_id"])
                    continue
                in_hand.add(lead["lead_id"])
                run.route(LeadToRoute(lead=lead, mql_event_id=item.event.id))
            await run.flush(before)
        log.info(
            "mql.batch_routed", events=len(batch), fresh=len(fresh), assigned=run.assigned, queued=run.queued
        )
        return run

    async def reassign_escalated(
        self, batch: Sequence[Incoming], dead_letters: Sequence[OutboxMessage]
    ) -> None:
        """Apply ``lead.escalated`` events of level ``reassign``: route the lead to someone else."""
        async with transaction(self.sessions) as session:
            await add_to_outbox(session, outbox, dead_letters)
            fresh = [
                item
                for item in await first_seen(session, processed_events, batch)
                if item.data.level == "reassign"
            ]
            if not fresh:
                return
            config = await self.configs.active(session)
            run = await self._start_run(session, config)
            before = run.state
            for item in fresh:
                row = await self._close(session, item.data.assignment_id, status="reassigned", rep_id=None)
                if row is None:
                    log.info("escalation.already_decided", assignment_id=item.data.assignment_id)
                    continue
                await state_store.release(session, [row.rep_id])
                run.route(_next_attempt(row))
            await run.flush(before)

    async def accept(self, assignment_id: str, rep_id: str) -> AssignmentView:
        """The assigned rep accepts; accepting again answers the same, with nothing emitted."""
        async with transaction(self.sessions) as session:
            row = await self._close(session, assignment_id, status="accepted", rep_id=rep_id)
            if row is None:
                return await self._repeat_or_refuse(session, assignment_id, rep_id, "accepted")
            await state_store.release(session, [rep_id])
            seconds = (row.decided_at - row.assigned_at).total_seconds()
            data = events.LeadAccepted(
                assignment_id=row.assignment_id,
                lead_id=row.lead_id,
                rep_id=row.rep_id,
                accepted_at=row.decided_at,
                seconds_to_accept=seconds,
            )
            await self._emit(
                session, self.settings.topic_lead_accepted, events.LEAD_ACCEPTED, row.lead_id, data
            )
        await self.drain_queue()
        return AssignmentView.of(row)

    async def reject(self, assignment_id: str, rep_id: str, reason: str, note: str | None) -> AssignmentView:
        """The assigned rep rejects with a reason code; ``wrong_territory`` routes the lead again."""
        async with transaction(self.sessions) as session:
            config = await self.configs.active(session)
            _check_reason(config, reason, note)
            # Lock the routing state before the rep's load row, in the order routing takes them.
            run = await self._start_run(session, config) if reason == WRONG_TERRITORY else None
            row = await self._close(
                session, assignment_id, status="rejected", rep_id=rep_id, reason=reason, note=note
            )
            if row is None:
                return await self._repeat_or_refuse(session, assignment_id, rep_id, "rejected")
            await state_store.release(session, [rep_id])
            data = events.LeadRejected(
                assignment_id=row.assignment_id,
                lead_id=row.lead_id,
                rep_id=row.rep_id,
                rejected_at=row.decided_at,
                reason=reason,
                note=note,
            )
            await self._emit(
                session, self.settings.topic_lead_rejected, events.LEAD_REJECTED, row.lead_id, data
            )
            if run is not None:
                before = run.state
                run.route(_next_attempt(row))
                await run.flush(before)
        await self.drain_queue()
        return AssignmentView.of(row)

    async def drain_queue(self) -> int:
        """Route what waits in the unassigned queue, now that capacity may have freed."""
        async with transaction(self.sessions) as session:
            if await queue_is_empty(session):
                return 0
            config = await self.configs.active(session)
            run = await self._start_run(session, config)
            before = run.state
            for item in await queued_leads(session, QUEUE_DRAIN_BATCH):
                run.route(item, from_queue=True)
            await run.flush(before)
        if run.assigned:
            log.info("queue.drained", assigned=run.assigned)
        return run.assigned

    async def get(self, assignment_id: str) -> Row[Any] | None:
        """One assignment row, or None."""
        async with self.sessions() as session:
            result = await session.execute(
                select(assignments).where(assignments.c.assignment_id == assignment_id)
            )
            return result.first()

    async def of_rep(self, rep_id: str, status: str | None, limit: int) -> list[AssignmentView]:
        """A rep's assignments, newest first."""
        query = select(assignments).where(assignments.c.rep_id == rep_id)
        if status is not None:
            query = query.where(assignments.c.status == status)
        async with self.sessions() as session:
            rows = await session.execute(query.order_by(assignments.c.assigned_at.desc()).limit(limit))
            return [AssignmentView.of(row) for row in rows]

    async def _start_run(self, session: AsyncSession, config: ConfigVersion | None) -> RoutingRun:
        return RoutingRun(
            session=session,
            config=config,
            state=await state_store.lock(session),
            now=self.clock(),
            source=self.settings.event_source,
            assigned_topic=self.settings.topic_lead_assigned,
        )

    async def _close(
        self,
        session: AsyncSession,
        assignment_id: str,
        *,
        status: str,
        rep_id: str | None,
        reason: str | None = None,
        note: str | None = None,
    ) -> Row[Any] | None:
        """Move a pending assignment to ``status``; ownership is part of the WHERE clause."""
        condition = (assignments.c.assignment_id == assignment_id) & (assignments.c.status == "pending")
        if rep_id is not None:
            condition &= assignments.c.rep_id == rep_id
        statement = (
            update(assignments)
            .where(condition)
            .values(status=status, decided_at=self.clock(), reason=reason, note=note)
            .returning(*assignments.c)
        )
        return (await session.execute(statement)).first()

    async def _repeat_or_refuse(
        self, session: AsyncSession, assignment_id: str, rep_id: str, status: str
    ) -> AssignmentView:
        """Nothing changed: a repeat of the same decision, someone else's, or a conflict."""
        row = (
            await session.execute(select(assignments).where(assignments.c.assignment_id == assignment_id))
        ).first()
        if row is None:
            raise AssignmentNotFound(f"no assignment {assignment_id}")
        if row.rep_id != rep_id:
            raise NotYourAssignment(f"assignment {assignment_id} is not assigned to you")
        if row.status == status:
            return AssignmentView.of(row)
        raise AlreadyDecided(
            f"assignment {assignment_id} is already {row.status}", assignment_status=row.status
        )

    async def _emit(
        self, session: AsyncSession, topic: str, event_type: str, lead_id: str, data: Any
    ) -> None:
        event = cloudevents.new_event(
            event_type, self.settings.event_source, lead_id, data, time=self.clock()
        )
        await add_to_outbox(session, outbox, [OutboxMessage.of_event(topic, event)])


def _next_attempt(row: Row[Any]) -> LeadToRoute:
    """The same lead, routed again without the rep who had it."""
    return LeadToRoute(
        lead=row.lead,
        mql_event_id=row.mql_event_id,
        attempt=row.attempt + 1,
        previous_rep_id=row.rep_id,
        excluded=frozenset(row.excluded_reps) | {row.rep_id},
    )


def _check_reason(config: ConfigVersion | None, reason: str, note: str | None) -> None:
    reasons = config.config.rejection_reasons if config is not None else ()
    if reason not in reasons:
        raise InvalidReason(
            f"unknown reason {reason!r}; expected one of: {', '.join(reasons)}", allowed=list(reasons)
        )
    if reason == "other" and not (note or "").strip():
        raise InvalidReason("reason 'other' needs a note saying why")
