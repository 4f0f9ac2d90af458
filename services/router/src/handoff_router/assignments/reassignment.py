"""What the assignments feature does with ``EscalationsReceived``: at level ``reassign``, close the
assignment and route the lead to someone else, or, after ``sla.max_reassignments``, park it in
the unassigned queue with the reason (the other levels are for people, through callbacks).
A park, and a rep auto-paused for letting leads go cold, are told to the manager by a
``lead.escalated`` of level ``escalate`` (assignments/notices.py) in the same transaction.

Locks follow the order of docs/architecture.md: the routing state, then every escalated
assignment in id order, then the reps' loads in rep order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments import repository as assignment_store
from handoff_router.assignments import state as state_store
from handoff_router.assignments.notices import MAX_REASSIGNMENTS, manager_notice
from handoff_router.assignments.runs import RoutingRun, next_attempt, start_run
from handoff_router.context import RouterContext
from handoff_router.event_views import Escalation
from handoff_router.facts import AssignmentsDecided, EscalationsReceived, ReceivedEscalation, StoredSlaSetting
from handoff_router.metadata import outbox
from handoff_router.routing.engine import SLA_AUTO_PAUSED, Availability

log = structlog.get_logger(__name__)

REASSIGN = "reassign"
DEFAULT_MAX_REASSIGNMENTS = 2
PAUSED = Availability(available=False, until=None, reason=SLA_AUTO_PAUSED)


@dataclass
class Reassignments:
    """Takes back the assignments whose SLA ran out to ``reassign``."""

    context: RouterContext

    async def reassign(self, session: AsyncSession, fact: EscalationsReceived) -> None:
        """Reassign the leads of ``reassign`` escalations still pending; the rest are no-ops."""
        fresh = [item for item in fact.escalations if item.data.level == REASSIGN]
        if fresh:
            await _reassign(self.context, session, fact, fresh)


async def _reassign(
    context: RouterContext, session: AsyncSession, fact: EscalationsReceived, fresh: list[ReceivedEscalation]
) -> None:
    now = context.clock()
    run = await start_run(context, session, fact.config)
    before = run.state
    wanted = [item.data.assignment_id for item in fresh]
    closed = await assignment_store.close_pending(session, wanted, status="reassigned", now=now)
    for assignment_id in set(wanted) - {row.assignment_id for row in closed}:
        log.info("escalation.already_decided", assignment_id=assignment_id)
    await state_store.release(session, [row.rep_id for row in closed])
    by_id = {item.data.assignment_id: item.data for item in fresh}
    notices = await _pause_cold_reps(context, session, run, closed, by_id, now)
    source = context.settings.event_source
    for row in closed:
        escalation = by_id[row.assignment_id]
        limit = await _sla_setting(
            context, session, row, escalation, "max_reassignments", DEFAULT_MAX_REASSIGNMENTS
        )
        if row.attempt - 1 >= limit:
            # Bounded loop: the lead waits for people, visibly, with the reason.
            summary = f"parked: reassigned {row.attempt - 1} time(s) for the SLA (limit {limit})"
            run.park(next_attempt(row), row.rule_id, reason=MAX_REASSIGNMENTS, summary=summary)
            event = manager_notice(escalation, MAX_REASSIGNMENTS, summary, now, source)
            notices.append(OutboxMessage.of_event(context.settings.topic_lead_escalated, event))
            log.info("escalation.parked", assignment_id=row.assignment_id, lead_id=row.lead_id)
            continue
        run.route(next_attempt(row))
    await run.flush(before)
    await add_to_outbox(session, outbox, notices)
    if closed:
        await context.bus.publish(session, AssignmentsDecided("reassigned", [row._mapping for row in closed]))


async def _pause_cold_reps(
    context: RouterContext,
    session: AsyncSession,
    run: RoutingRun,
    closed: Sequence[Any],
    by_id: dict[str, Escalation],
    now: datetime,
) -> list[OutboxMessage]:
    """Pause each rep of ``closed`` whose leads went cold in a row; answer the managers' notices."""
    notices: list[OutboxMessage] = []
    for rep_id in sorted({row.rep_id for row in closed}):
        row = next(row for row in closed if row.rep_id == rep_id)
        escalation = by_id[row.assignment_id]
        was_paused = _is_auto_paused(run.state.availability.get(rep_id))
        streak = await _pause_if_cold(context, session, row, escalation, now)
        if streak:
            run.state = replace(run.state, availability={**run.state.availability, rep_id: PAUSED})
            if not was_paused:  # the manager hears of a pause once, not of every lead after it
                summary = (
                    f"{rep_id} paused: {streak} assignment(s) in a row reached reassign undecided "
                    "(sla_auto_paused; the rep or an admin ends it with the availability call)"
                )
                event = manager_notice(
                    escalation, SLA_AUTO_PAUSED, summary, now, context.settings.event_source
                )
                notices.append(OutboxMessage.of_event(context.settings.topic_lead_escalated, event))
    return notices


async def _sla_setting(
    context: RouterContext, session: AsyncSession, row: Any, escalation: Any, key: str, default: int
) -> int:
    """An SLA setting of the config version the assignment was made under: as the escalation
    carries it (``lead.assigned``'s ``sla``, 0 included), else as that version stored it (an
    escalation from before the terms were carried), else ``default``. Never the active config's:
    a newer config does not change the rules an assignment was made under."""
    carried = getattr(escalation, key, None)
    if isinstance(carried, int) and not isinstance(carried, bool):
        return carried
    if row.config_version is not None:
        stored = await context.bus.ask(session, StoredSlaSetting(row.config_version, key))
        if stored is not None:
            return stored
    return default


def _is_auto_paused(availability: Availability | None) -> bool:
    return availability is not None and not availability.available and availability.reason == SLA_AUTO_PAUSED


async def _pause_if_cold(
    context: RouterContext, session: AsyncSession, row: Any, escalation: Any, now: datetime
) -> int:
    """Pause a rep whose last ``pause_after_expired`` decided assignments all reached ``reassign``;
    answer the streak that paused them (0: not paused; the setting 0 or absent: off).

    The streak counts only assignments decided since the rep's availability last changed: a
    rep who ends a pause starts a new streak instead of being paused again by the next cold
    lead on the strength of the ones that paused them."""
    streak = await _sla_setting(context, session, row, escalation, "pause_after_expired", 0)
    if streak <= 0:
        return 0
    rep_id = row.rep_id
    since = await state_store.availability_changed_at(session, rep_id)
    statuses = await assignment_store.recent_decided_statuses(session, rep_id, streak, decided_after=since)
    if len(statuses) < streak or any(status != "reassigned" for status in statuses):
        return 0
    await state_store.set_availability(session, rep_id, False, None, reason=SLA_AUTO_PAUSED, now=now)
    log.info("rep.auto_paused", rep_id=rep_id, expired_in_a_row=streak)
    return streak
