"""The SDR's use cases on assignments: read, accept, reject, qualify. Each is one unit of work; nothing
here parses HTTP. Each decision publishes ``AssignmentsDecided`` in its unit of work; the
composition root wakes the queue drainer on it (capacity freed): the request never drains the
queue itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handoff_shared import cloudevents, events
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments import repository
from handoff_router.assignments import state as state_store
from handoff_router.assignments.errors import (
    AlreadyDecided,
    AssignmentNotFound,
    CannotQualify,
    InvalidQualification,
    InvalidReason,
    NotYourAssignment,
)
from handoff_router.assignments.qualification import (
    Conflict,
    Qualification,
    Verdict,
    check_qualification,
    judge,
    seconds_since_accept,
)
from handoff_router.assignments.runs import next_attempt, start_run
from handoff_router.assignments.schemas import AssignmentView
from handoff_router.context import ConfigVersion, RouterContext
from handoff_router.facts import AssignmentsDecided
from handoff_router.metadata import outbox
from handoff_router.routing.config import DEFAULT_DISQUALIFICATION_REASONS, DEFAULT_REJECTION_REASONS

WRONG_TERRITORY = "wrong_territory"


@dataclass
class Assignments:
    """Reads assignments and records reps' decisions."""

    context: RouterContext

    async def check_owner(self, assignment_id: str, rep_id: str) -> None:
        """AssignmentNotFound or NotYourAssignment, before anything about the request is looked at."""
        async with self.context.sessions() as session:
            owner = await repository.owner_of(session, assignment_id)
        _check_owner(assignment_id, owner, rep_id)

    async def get(self, assignment_id: str, rep_id: str | None) -> AssignmentView:
        """An assignment, for its rep (``rep_id``) or an admin (None)."""
        async with self.context.sessions() as session:
            row = await repository.get(session, assignment_id)
        if rep_id is not None:
            _check_owner(assignment_id, row.rep_id if row else None, rep_id)
        if row is None:
            raise AssignmentNotFound(f"no assignment {assignment_id}")
        return AssignmentView.of(row)

    async def of_rep(self, rep_id: str, status: str | None, limit: int) -> list[AssignmentView]:
        """A rep's assignments, newest first."""
        async with self.context.sessions() as session:
            return [AssignmentView.of(row) for row in await repository.of_rep(session, rep_id, status, limit)]

    async def accept(self, assignment_id: str, rep_id: str) -> AssignmentView:
        """The assigned rep accepts; accepting again answers the same, with nothing emitted."""
        async with self.context.transaction() as session:
            row = await repository.decide(
                session, assignment_id, rep_id, status="accepted", now=self.context.clock()
            )
            if row is None:
                return await _repeat_or_refuse(session, assignment_id, rep_id, "accepted")
            await state_store.release(session, [rep_id])
            data = events.LeadAccepted(
                assignment_id=row.assignment_id,
                lead_id=row.lead_id,
                rep_id=row.rep_id,
                accepted_at=row.decided_at,
                seconds_to_accept=(row.decided_at - row.assigned_at).total_seconds(),
            )
            await self._emit(
                session, self.context.settings.topic_lead_accepted, events.LEAD_ACCEPTED, row, data
            )
            await self.context.bus.publish(session, AssignmentsDecided("accepted", [row._mapping]))
        return AssignmentView.of(row)

    async def reject(self, assignment_id: str, rep_id: str, reason: str, note: str | None) -> AssignmentView:
        """The assigned rep rejects with a reason code; ``wrong_territory`` routes the lead again.

        Ownership is enforced by the UPDATE's WHERE clause (and ``_repeat_or_refuse`` says 403 or
        404); a caller wanting 403/404 before the reason's 422 calls ``check_owner`` first, as the
        endpoint's dependency does (before the body is even read), so it is not queried twice."""
        async with self.context.transaction() as session:
            config = await self.context.configs.active(session)
            _check_reason(config, reason, note)
            # Routing again takes the routing state first: the lock order puts it before the assignment.
            run = await start_run(self.context, session, config) if reason == WRONG_TERRITORY else None
            row = await repository.decide(
                session,
                assignment_id,
                rep_id,
                status="rejected",
                now=self.context.clock(),
                reason=reason,
                note=note,
            )
            if row is None:
                return await _repeat_or_refuse(session, assignment_id, rep_id, "rejected")
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
                session, self.context.settings.topic_lead_rejected, events.LEAD_REJECTED, row, data
            )
            if run is not None:
                before = run.state
                run.route(next_attempt(row))
                await run.flush(before)
            await self.context.bus.publish(session, AssignmentsDecided("rejected", [row._mapping]))
        return AssignmentView.of(row)

    async def qualify(self, assignment_id: str, rep_id: str, asked: Qualification) -> AssignmentView:
        """The assigned rep says what an accepted lead became (SAL -> SQL); the same report again
        answers the same, with nothing emitted. Ownership is checked on the locked row; for 403/404
        before the body's 422, callers call ``check_owner`` first (the endpoint's dependency does)."""
        async with self.context.transaction() as session:
            _check_qualification(await self.context.configs.active(session), asked)
            row = await repository.lock(session, assignment_id)
            _check_owner(assignment_id, row.rep_id if row else None, rep_id)
            assert row is not None
            verdict = judge(row.status, recorded_qualification(row), asked)
            if isinstance(verdict, Conflict):
                raise CannotQualify(
                    f"assignment {assignment_id}: {verdict.message}",
                    assignment_status=row.status,
                    qualification=row.qualification_outcome,
                )
            if verdict is Verdict.REPEAT:
                return AssignmentView.of(row)
            qualified = await repository.qualify(
                session,
                assignment_id,
                rep_id,
                outcome=asked.outcome,
                reason=asked.reason,
                note=asked.note,
                now=self.context.clock(),
            )
            assert qualified is not None  # the row is locked, accepted and unqualified
            data = events.LeadQualified(
                assignment_id=qualified.assignment_id,
                lead_id=qualified.lead_id,
                rep_id=qualified.rep_id,
                outcome=asked.outcome,
                reason=asked.reason,
                note=asked.note,
                qualified_at=qualified.qualified_at,
                seconds_since_accept=seconds_since_accept(qualified.decided_at, qualified.qualified_at),
            )
            await self._emit(
                session, self.context.settings.topic_lead_qualified, events.LEAD_QUALIFIED, qualified, data
            )
            await self.context.bus.publish(session, AssignmentsDecided("qualified", [qualified._mapping]))
        return AssignmentView.of(qualified)

    async def _emit(
        self, session: AsyncSession, topic: str, event_type: str, row: Row[Any], data: Any
    ) -> None:
        event = cloudevents.new_event(
            event_type, self.context.settings.event_source, row.lead_id, data, time=self.context.clock()
        )
        await add_to_outbox(session, outbox, [OutboxMessage.of_event(topic, event)])


def _check_owner(assignment_id: str, owner: str | None, rep_id: str) -> None:
    if owner is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    if owner != rep_id:
        raise NotYourAssignment(f"assignment {assignment_id} is not assigned to you")


async def _repeat_or_refuse(
    session: AsyncSession, assignment_id: str, rep_id: str, status: str
) -> AssignmentView:
    """Nothing changed: a repeat of the same decision, someone else's, or a conflict."""
    row = await repository.get(session, assignment_id)
    _check_owner(assignment_id, row.rep_id if row else None, rep_id)
    assert row is not None
    if row.status == status:
        return AssignmentView.of(row)
    raise AlreadyDecided(f"assignment {assignment_id} is already {row.status}", assignment_status=row.status)


def _check_reason(config: ConfigVersion | None, reason: str, note: str | None) -> None:
    """The active config's reason codes; the default ones while no config is active."""
    reasons = config.config.rejection_reasons if config is not None else DEFAULT_REJECTION_REASONS
    if reason not in reasons:
        raise InvalidReason(
            f"unknown reason {reason!r}; expected one of: {', '.join(reasons)}", allowed=list(reasons)
        )
    if reason == "other" and not (note or "").strip():
        raise InvalidReason("reason 'other' needs a note saying why")


def recorded_qualification(row: Row[Any]) -> Qualification | None:
    """The qualification an assignment row holds, or None before the rep gave one."""
    if row.qualified_at is None:
        return None
    return Qualification(row.qualification_outcome, row.qualification_reason, row.qualification_note)


def _check_qualification(config: ConfigVersion | None, asked: Qualification) -> None:
    """The active config's disqualification reasons; the default ones while no config is active."""
    reasons = (
        config.config.disqualification_reasons if config is not None else DEFAULT_DISQUALIFICATION_REASONS
    )
    problem = check_qualification(asked, reasons)
    if problem is not None:
        extra = {"allowed": list(problem.allowed)} if problem.allowed else {}
        raise InvalidQualification(problem.message, **extra)
