"""Routing runs: leads routed one after another inside the caller's transaction. Decide with the
pure core, persist, emit, and publish ``LeadsAssigned`` and ``LeadsWaiting`` for the features
that act on them (callbacks deliver, the queue keeps or lets go of waiting leads).

Every function here takes the open session of the caller's unit of work and never
commits: the use case (consumer or service) owns the transaction. Whoever routes takes the
routing state first (``start_run``), as the lock order of docs/architecture.md says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from handoff_shared import cloudevents, events
from handoff_shared.db import copy_rows
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy import union
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments import repository
from handoff_router.assignments import state as state_store
from handoff_router.assignments.records import assigned_data, assignment_row, new_assignment_id
from handoff_router.assignments.tables import assignments
from handoff_router.bus import Bus
from handoff_router.context import ConfigVersion, RouterContext
from handoff_router.facts import (
    Assigned,
    BatchMemory,
    LeadReengaged,
    LeadsAssigned,
    LeadsReengaged,
    LeadsWaiting,
    RecallPeople,
    RoutingInputs,
    UnreachableReps,
    WaitingAmongStatement,
    WaitingLead,
)
from handoff_router.metadata import outbox
from handoff_router.routing.engine import NO_CONTEXT, RoutingState, route


@dataclass(frozen=True)
class LeadToRoute:
    """A lead on its way to a rep: first time, again after a rejection, or from the queue."""

    lead: dict[str, Any]
    mql_event_id: str
    attempt: int = 1
    previous_rep_id: str | None = None
    excluded: frozenset[str] = frozenset()
    fresh: bool = False  # a new MQL: a person with an open assignment gets no second one


@dataclass
class RoutingRun:
    """Routes leads one after another in one transaction, carrying the state along."""

    session: AsyncSession
    config: ConfigVersion | None
    state: RoutingState
    now: datetime
    source: str
    assigned_topic: str
    bus: Bus
    memory: BatchMemory | None = None
    assigned: int = 0
    queued: int = 0
    reengaged: int = 0
    _reengaged: list[LeadReengaged] = field(default_factory=list)
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _waiting: list[WaitingLead] = field(default_factory=list)
    _messages: list[OutboxMessage] = field(default_factory=list)
    _assigned: list[Assigned] = field(default_factory=list)

    def route(self, item: LeadToRoute, *, from_queue: bool = False) -> str | None:
        """Decide one lead; answer the rep chosen, or None when it waits in the queue."""
        if self.config is None:
            if not from_queue:
                self._enqueue(item, "none", {"summary": "no routing configuration is active"})
            return None
        context = self.memory.context_for(item.lead, fresh=item.fresh) if self.memory else NO_CONTEXT
        if context.existing_assignment_id is not None and self.memory is not None:
            existing = self.memory.existing(item.lead)
            self._reengaged.append(
                LeadReengaged(existing.assignment_id, existing.lead_id, existing.rep_id, item.lead)
            )
            self.reengaged += 1
            return None
        decision, self.state = route(
            item.lead, self.config.config, self.state, self.now, exclude=item.excluded, context=context
        )
        if decision.rep_id is None:
            if not from_queue:
                self._enqueue(item, decision.rule_id, decision.explanation.to_dict())
            return None
        row = assignment_row(
            assignment_id=new_assignment_id(),
            lead=item.lead,
            decision=decision,
            now=self.now,
            attempt=item.attempt,
            previous_rep_id=item.previous_rep_id,
            excluded=item.excluded,
            config_version=self.config.version,
            mql_event_id=item.mql_event_id,
        )
        self._rows.append(row)
        if self.memory is not None:
            self.memory.assigned(item.lead, decision, row["assignment_id"], self.now)
        event = cloudevents.new_event(
            events.LEAD_ASSIGNED,
            self.source,
            row["lead_id"],
            assigned_data(row, decision),  # the shape is pinned by a unit test against events.LeadAssigned
            time=self.now,
        )
        message = OutboxMessage.of_event(self.assigned_topic, event)
        self._messages.append(message)
        self._assigned.append(Assigned(row, event, message.value or b"", was_waiting=from_queue))
        self.assigned += 1
        return decision.rep_id

    def park(self, item: LeadToRoute, rule_id: str, *, reason: str, summary: str) -> None:
        """Queue the lead for people, not for the drain: it waits, visible, until someone acts."""
        self._enqueue(item, rule_id, {"parked": True, "reason": reason, "summary": summary})

    def _enqueue(self, item: LeadToRoute, rule_id: str, explanation: dict[str, Any]) -> None:
        self._waiting.append(
            WaitingLead(
                lead_id=item.lead["lead_id"],
                mql_event_id=item.mql_event_id,
                lead=item.lead,
                attempt=item.attempt,
                previous_rep_id=item.previous_rep_id,
                excluded_reps=sorted(item.excluded),
                rule_id=rule_id,
                explanation=explanation,
                config_version=self.config.version if self.config else None,
                queued_at=self.now,
            )
        )
        self.queued += 1

    async def flush(self, before: RoutingState) -> None:
        """Write every assignment and event of the run, and the new state; publish the leads
        assigned and those left waiting, for their handlers to write theirs in the same transaction."""
        await copy_rows(self.session, assignments, self._rows)
        if self._waiting:
            await self.bus.publish(self.session, LeadsWaiting(self._waiting))
        await add_to_outbox(self.session, outbox, self._messages)
        if self._assigned:
            assert self.config is not None  # nothing is assigned without a config
            await self.bus.publish(self.session, LeadsAssigned(self.config.config, self._assigned))
        await state_store.save(self.session, before, self.state)
        if self._reengaged:
            config = self.config.config if self.config else None
            await self.bus.publish(self.session, LeadsReengaged(config, self._reengaged))

    async def recall(self, leads: Sequence[dict[str, Any]]) -> None:
        """Match the leads about to be routed to their accounts and recall their people."""
        if self.config is not None and leads:
            question = RecallPeople(leads, self.config.config, self.now)
            self.memory = await self.bus.ask(self.session, question)


async def start_run(
    context: RouterContext, session: AsyncSession, config: ConfigVersion | None
) -> RoutingRun:
    """Lock the routing state (first in the lock order) and start routing in ``session``."""
    now = context.clock()
    state = await state_store.lock(session)
    if config is not None:  # reps whose callback endpoint is down too long are skipped
        down = await context.bus.ask(session, UnreachableReps(now, config.config.unreachable_after))
        state = replace(state, unreachable=down)
    for inputs in await context.bus.gather(session, RoutingInputs(now)):  # other features' (calendars)
        state = replace(state, **inputs)
    return RoutingRun(
        session=session,
        config=config,
        state=state,
        now=now,
        source=context.settings.event_source,
        assigned_topic=context.settings.topic_lead_assigned,
        bus=context.bus,
    )


async def leads_in_hand(context: RouterContext, session: AsyncSession, lead_ids: Sequence[str]) -> set[str]:
    """Leads that already have an open assignment or wait in the queue."""
    if not lead_ids:
        return set()
    # One statement for both (a round trip each was a tenth of a small batch's time).
    waiting = await context.bus.ask(session, WaitingAmongStatement(lead_ids))
    statement = union(repository.pending_among_query(lead_ids), waiting)
    return set((await session.scalars(statement)).all())


def from_queue(waiting: WaitingLead) -> LeadToRoute:
    """A queued lead, on its way again."""
    return LeadToRoute(
        lead=waiting.lead,
        mql_event_id=waiting.mql_event_id,
        attempt=waiting.attempt,
        previous_rep_id=waiting.previous_rep_id,
        excluded=frozenset(waiting.excluded_reps),
    )


def next_attempt(row: Any) -> LeadToRoute:
    """The same lead, routed again without the rep who had it."""
    return LeadToRoute(
        lead=row.lead,
        mql_event_id=row.mql_event_id,
        attempt=row.attempt + 1,
        previous_rep_id=row.rep_id,
        excluded=frozenset(row.excluded_reps) | {row.rep_id},
    )
