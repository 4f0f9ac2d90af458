"""Lifecycle events as the core's facts (the edge between the contract's models and the core)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handoff_shared import events
from handoff_shared.cloudevents import CloudEvent

from handoff_feedback.ingest import event_views as views
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


def _assigned_lead(event_id: str, data: views.Assigned) -> Mql:
    """The lead as the router saw it: its fields as they came (the router wrote them from a
    validated model), the read ones validated by the view."""
    known = data.known_lead
    fields = {name: value for name, value in data.lead.items() if value is not None}
    return Mql(event_id, known.mql_at or data.assigned_at, known.source, known.campaign, known.score, fields)


def fact_of(event: CloudEvent, data: object) -> Fact:
    """The fact one valid event states (``mql.created`` as its model, the others as the views
    of ingest/event_views.py); its time is the event's own business time."""
    at = event.time
    assert at is not None  # decode() requires it
    match data:
        case events.MqlCreated():
            return _mql(event.id, at, data)
        case views.Assigned():
            lead = _assigned_lead(f"{event.id}/lead", data)
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
        case views.Accepted():
            return Accepted(
                event.id, data.accepted_at, data.assignment_id, data.rep_id, data.seconds_to_accept
            )
        case views.Rejected():
            return Rejected(
                event.id, data.rejected_at, data.assignment_id, data.rep_id, data.reason, data.note
            )
        case views.Escalated():
            return Escalated(event.id, data.escalated_at or at, data.assignment_id, data.rep_id, data.level)
        case views.Qualified():
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
