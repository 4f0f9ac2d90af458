"""Lifecycle events as the core's facts (the edge between the contract's models and the core)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handoff_shared import events
from handoff_shared.cloudevents import CloudEvent
from handoff_shared.events import EventData

from handoff_feedback.outcomes.facts import Accepted, Assigned, Escalated, Fact, Mql, Qualified, Rejected

CONSUMED_TYPES = frozenset(
    {
        events.MQL_CREATED,
        events.LEAD_ASSIGNED,
        events.LEAD_ACCEPTED,
        events.LEAD_REJECTED,
        events.LEAD_ESCALATED,
        events.LEAD_QUALIFIED,
    }
)


def _mql(event_id: str, fallback: datetime, data: events.MqlCreated) -> Mql:
    fields: dict[str, Any] = data.model_dump(mode="json", exclude_none=True)
    return Mql(event_id, data.mql_at or fallback, data.source, data.campaign, data.score, fields)


def fact_of(event: CloudEvent, data: EventData) -> Fact:
    """The fact one valid event states; its time is the event's own business time."""
    at = event.time
    assert at is not None  # decode() requires it
    match data:
        case events.MqlCreated():
            return _mql(event.id, at, data)
        case events.LeadAssigned():
            lead = _mql(f"{event.id}/lead", data.assigned_at, data.lead)
            return Assigned(
                event.id,
                data.assigned_at,
                data.assignment_id,
                data.rep_id,
                data.team_id,
                data.rule_id,
                data.attempt,
                lead,
            )
        case events.LeadAccepted():
            return Accepted(
                event.id, data.accepted_at, data.assignment_id, data.rep_id, data.seconds_to_accept
            )
        case events.LeadRejected():
            return Rejected(
                event.id, data.rejected_at, data.assignment_id, data.rep_id, data.reason, data.note
            )
        case events.LeadEscalated():
            return Escalated(event.id, data.escalated_at or at, data.assignment_id, data.rep_id, data.level)
        case events.LeadQualified():
            return Qualified(
                event.id,
                data.qualified_at,
                data.assignment_id,
                data.rep_id,
                data.outcome,
                data.reason,
                data.seconds_since_accept,
            )
    raise TypeError(f"not a lifecycle event: {type(data).__name__}")
