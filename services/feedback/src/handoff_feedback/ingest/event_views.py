"""What the feedback service reads of the router's and sla-monitor's events (the slim views of
handoff_shared.event_views); ``mql.created`` comes from outside and is read with its full model.

Each view holds only the fields the facts use, with the constraints of the contract's model;
tests/unit/feedback/test_event_views.py holds them equal. ``lead.assigned``'s ``lead`` is kept
as it came (the router wrote it from a validated ``mql.created``) beside the fields read of it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from handoff_shared import events
from handoff_shared.event_views import Id, Level, Number, Seconds, Text, UtcTime, view_of


class AssignedLead(msgspec.Struct, frozen=True):
    """The fields of ``lead.assigned``'s ``lead`` the facts read."""

    lead_id: Id
    source: Text | None = None
    campaign: Text | None = None
    score: Number | None = None
    mql_at: UtcTime | None = None


class Assigned(msgspec.Struct):
    assignment_id: Id
    lead_id: Id
    rep_id: Id
    team_id: Id
    rule_id: Id
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    assigned_at: UtcTime
    lead: dict[str, Any]
    # Filled from ``lead`` after decoding (a name no event uses, so the JSON never sets it).
    read_of_lead: Any = msgspec.field(default=None, name="__read_of_lead__")

    def __post_init__(self) -> None:
        known = view_of(self.lead, AssignedLead)
        if known.lead_id != self.lead_id:
            raise ValueError(
                f"lead.lead_id {known.lead_id[:100]!r} differs from lead_id {self.lead_id[:100]!r}"
            )
        self.read_of_lead = known

    @property
    def known_lead(self) -> AssignedLead:
        assert isinstance(self.read_of_lead, AssignedLead)
        return self.read_of_lead


class Accepted(msgspec.Struct, frozen=True):
    assignment_id: Id
    lead_id: Id
    rep_id: Id
    accepted_at: UtcTime
    seconds_to_accept: Seconds


class Rejected(msgspec.Struct, frozen=True):
    assignment_id: Id
    lead_id: Id
    rep_id: Id
    rejected_at: UtcTime
    reason: Id
    note: Text | None = None

    def __post_init__(self) -> None:
        if self.reason == "other" and not (self.note and self.note.strip()):
            raise ValueError("reason 'other' needs a note")


class Escalated(msgspec.Struct, frozen=True):
    assignment_id: Id
    lead_id: Id
    rep_id: Id
    level: Level
    escalated_at: UtcTime | None = None


class Qualified(msgspec.Struct, frozen=True):
    assignment_id: Id
    lead_id: Id
    rep_id: Id
    outcome: Literal["sql", "disqualified"]
    qualified_at: UtcTime
    seconds_since_accept: Seconds
    reason: Id | None = None
    note: Text | None = None

    def __post_init__(self) -> None:
        if self.outcome == "disqualified" and not self.reason:
            raise ValueError("outcome 'disqualified' needs a reason")
        if self.reason == "other" and not (self.note and self.note.strip()):
            raise ValueError("reason 'other' needs a note")


VIEWS: dict[str, type[msgspec.Struct]] = {
    events.LEAD_ASSIGNED: Assigned,
    events.LEAD_ACCEPTED: Accepted,
    events.LEAD_REJECTED: Rejected,
    events.LEAD_ESCALATED: Escalated,
    events.LEAD_QUALIFIED: Qualified,
}
