"""What the sla-monitor reads of the lifecycle events (the slim views of event_views).

Each view holds only the fields the timers use, with the constraints of the contract's model
in handoff_shared.events; tests/unit/sla_monitor/test_event_views.py holds them equal.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from handoff_shared import events
from handoff_shared.event_views import FINITE, Count, Id, Seconds, UtcTime

_CLOCK = Annotated[str, msgspec.Meta(pattern=r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SlaHours(msgspec.Struct, frozen=True):
    start: _CLOCK
    end: _CLOCK
    days: Annotated[list[Weekday], msgspec.Meta(min_length=1)]


class SlaStep(msgspec.Struct, frozen=True):
    percent: Annotated[float, msgspec.Meta(gt=0, le=FINITE)]
    action: Literal["remind", "escalate", "reassign"]


class SlaTerms(msgspec.Struct, frozen=True):
    """``lead.assigned``'s ``sla``: the SLA of the config version the assignment was made under."""

    accept_within_seconds: Seconds
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    business_hours: SlaHours | None = None
    holidays: list[Annotated[str, msgspec.Meta(min_length=2, max_length=10)]] = []
    ladder: list[SlaStep] = []
    max_reassignments: Count | None = None
    pause_after_expired: Count | None = None


class LeadRef(msgspec.Struct, frozen=True):
    lead_id: Id


class Assigned(msgspec.Struct, frozen=True):
    """``lead.assigned``: what a timer is opened from (of ``lead``, only that it is this lead)."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    team_id: Id
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    assigned_at: UtcTime
    sla_due_at: UtcTime
    lead: LeadRef
    manager_id: Id | None = None
    sla: SlaTerms | None = None

    def __post_init__(self) -> None:
        if self.lead.lead_id != self.lead_id:
            raise ValueError(
                f"lead.lead_id {self.lead.lead_id[:100]!r} differs from lead_id {self.lead_id[:100]!r}"
            )


class Decided(msgspec.Struct, frozen=True):
    """``lead.accepted`` or ``lead.rejected``: the assignment whose timer closes."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id


class Accepted(Decided, frozen=True):
    pass


class Rejected(Decided, frozen=True):
    pass


VIEWS: dict[str, type[msgspec.Struct]] = {
    events.LEAD_ASSIGNED: Assigned,
    events.LEAD_ACCEPTED: Accepted,
    events.LEAD_REJECTED: Rejected,
}
