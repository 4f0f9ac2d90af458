"""Facts of sample leads, as the feedback core sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_feedback.outcomes.facts import (
    Accepted,
    Assigned,
    Escalated,
    Fact,
    Level,
    Mql,
    Qualified,
    Rejected,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mql(lead_id: str = "lead-1", *, source: str = "webinar", campaign: str = "q3", at: datetime = T0) -> Mql:
    return Mql(f"mql-{lead_id}", at, source, campaign, 80.0, {"lead_id": lead_id, "country": "US"})


def assigned(
    assignment_id: str = "asg-1",
    lead_id: str = "lead-1",
    *,
    rep: str = "rep-ana",
    team: str = "na",
    at: datetime = T0 + timedelta(minutes=1),
    attempt: int = 1,
    source: str = "webinar",
    campaign: str = "q3",
) -> Assigned:
    lead = mql(lead_id, source=source, campaign=campaign)
    return Assigned(f"as-{assignment_id}", at, assignment_id, rep, team, "rule-na", attempt, lead)


def accepted(assignment_id: str = "asg-1", *, rep: str = "rep-ana", seconds: float = 600.0) -> Accepted:
    at = T0 + timedelta(minutes=1, seconds=seconds)
    return Accepted(f"ac-{assignment_id}", at, assignment_id, rep, seconds)


def rejected(assignment_id: str = "asg-1", *, rep: str = "rep-ana", reason: str = "not_icp") -> Rejected:
    return Rejected(f"rj-{assignment_id}", T0 + timedelta(hours=1), assignment_id, rep, reason)


def escalated(assignment_id: str = "asg-1", level: Level = "remind", *, rep: str = "rep-ana") -> Escalated:
    hours = {"remind": 2, "escalate": 4, "reassign": 6}[level]
    return Escalated(f"es-{assignment_id}-{level}", T0 + timedelta(hours=hours), assignment_id, rep, level)


def qualified(assignment_id: str = "asg-1", *, outcome: str = "sql", reason: str | None = None) -> Qualified:
    at = T0 + timedelta(days=1)
    return Qualified(f"q-{assignment_id}", at, assignment_id, "rep-ana", outcome, reason, 86000.0)  # type: ignore[arg-type]


def full_story() -> list[Fact]:
    """A lead rejected by one rep as wrong territory, reassigned, accepted by the next and made an SQL."""
    return [
        mql(),
        assigned("asg-1"),
        escalated("asg-1", "remind"),
        rejected("asg-1", reason="wrong_territory"),
        assigned("asg-2", rep="rep-carl", attempt=2, at=T0 + timedelta(hours=2)),
        accepted("asg-2", rep="rep-carl", seconds=9000),
        Qualified("q-asg-2", T0 + timedelta(days=1), "asg-2", "rep-carl", "sql", None, 80000.0),
    ]
