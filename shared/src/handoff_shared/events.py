"""One pydantic model per event of CONTRACT §3: the ``data`` of each CloudEvent.

Fields the contract names are validated strictly (no "12" for 12, no naive times); fields
it does not name are kept as they came ("more fields are welcome").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict

MQL_CREATED = "mql.created"
LEAD_ASSIGNED = "lead.assigned"
LEAD_ACCEPTED = "lead.accepted"
LEAD_REJECTED = "lead.rejected"
LEAD_ESCALATED = "lead.escalated"
LEAD_OUTCOME = "scoring.lead_outcome"
FEEDBACK_SNAPSHOT = "scoring.feedback_snapshot"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError("not an ISO 3166-1 alpha-2 country code (two letters, e.g. US)")
    return value.upper()


Text = Annotated[str, Strict(), Field(max_length=10_000)]
Id = Annotated[str, Strict(), Field(min_length=1, max_length=200)]
Int = Annotated[int, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
Number = Annotated[float, Strict()]
Time = Annotated[AwareDatetime, AfterValidator(_utc)]
Email = Annotated[str, Strict(), Field(max_length=320), AfterValidator(_email)]
Country = Annotated[str, Strict(), AfterValidator(_country)]
Domain = Annotated[str, Strict(), Field(min_length=1, max_length=253), AfterValidator(str.lower)]


class EventData(BaseModel):
    """Base of every event's data: known fields strict, unknown ones kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Company(EventData):
    name: Text | None = None
    domain: Domain | None = None
    employees: Count | None = None
    industry: Text | None = None
    annual_revenue: Number | None = None


class MqlCreated(EventData):
    """``mql.created``: a lead became marketing qualified."""

    lead_id: Id
    email: Email
    first_name: Text | None = None
    last_name: Text | None = None
    title: Text | None = None
    phone: Text | None = None
    company: Company | None = None
    country: Country | None = None
    region: Text | None = None
    postal_code: Text | None = None
    source: Text | None = None
    campaign: Text | None = None
    score: Number | None = None
    product_interest: list[Text] | None = None
    mql_at: Time | None = None
    attributes: dict[str, Any] | None = None


class Skipped(EventData):
    rep_id: Id
    reason: Id


class Explanation(EventData):
    """Why this rep: the rule, the strategy, who was considered and who was skipped."""

    rule_id: Id
    strategy: Text | None = None
    candidates: list[Text] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)


class LeadAssigned(EventData):
    """``lead.assigned``: a lead went to a rep."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    team_id: Id
    rule_id: Id
    attempt: Annotated[int, Strict(), Field(ge=1)]
    previous_rep_id: Id | None = None
    assigned_at: Time
    sla_due_at: Time
    explanation: Explanation
    lead: MqlCreated


class LeadAccepted(EventData):
    """``lead.accepted``: the assigned rep accepted."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    accepted_at: Time
    seconds_to_accept: Annotated[float, Strict(), Field(ge=0)]


class LeadRejected(EventData):
    """``lead.rejected``: the assigned rep rejected, with a reason code."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    rejected_at: Time
    reason: Id
    note: Text | None = None


class LeadEscalated(EventData):
    """``lead.escalated``: an assignment was left undecided too long."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    level: Literal["remind", "escalate", "reassign"]
    sla_due_at: Time
    overdue_seconds: Number
    manager_id: Id | None = None
    escalated_at: Time | None = None


class LeadOutcome(EventData):
    """``scoring.lead_outcome``: how one lead's handoff ended."""

    lead_id: Id
    outcome: Literal["accepted", "rejected", "expired"]
    reason: Text | None = None
    rep_id: Id | None = None
    team_id: Id | None = None
    source: Text | None = None
    campaign: Text | None = None
    score: Number | None = None
    seconds_to_decision: Number | None = None
    decided_at: Time | None = None


class FeedbackSnapshot(EventData):
    """``scoring.feedback_snapshot``: acceptance and rejection reasons of a segment over a window."""

    segment: dict[str, Any]
    window_start: Time
    window_end: Time
    mqls: Count
    accepted: Count
    rejected: Count
    rejected_by_reason: dict[str, Count]
    acceptance_rate: Annotated[float, Strict(), Field(ge=0, le=1)]
    seconds_to_accept_p50: Number | None = None
    seconds_to_accept_p90: Number | None = None


EVENT_TYPES: dict[str, type[EventData]] = {
    MQL_CREATED: MqlCreated,
    LEAD_ASSIGNED: LeadAssigned,
    LEAD_ACCEPTED: LeadAccepted,
    LEAD_REJECTED: LeadRejected,
    LEAD_ESCALATED: LeadEscalated,
    LEAD_OUTCOME: LeadOutcome,
    FEEDBACK_SNAPSHOT: FeedbackSnapshot,
}


class UnknownEventType(ValueError):
    """An event type this system does not know."""


def parse_event_data(event_type: str, data: Any) -> EventData:
    """Validate ``data`` as the model of ``event_type`` (raises pydantic's ValidationError)."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise UnknownEventType(f"unknown event type {event_type!r}; known: {', '.join(sorted(EVENT_TYPES))}")
    return model.model_validate(data)
