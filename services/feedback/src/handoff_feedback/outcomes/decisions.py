"""The outcomes the scoring team trains on: one per decision and per qualification.

An assignment's outcome is known once both its ``lead.assigned`` and its decision are (the
team, source and campaign come with the assignment). Each outcome has a stable key, so it
is published once however often the events that make it are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from handoff_feedback.outcomes.facts import Accepted, Assigned, LeadState, Mql, Rejected

OutcomeName = Literal["accepted", "rejected", "expired", "sql", "disqualified"]


@dataclass(frozen=True)
class Outcome:
    """One ``scoring.lead_outcome``."""

    key: str  # "<assignment_id>:<outcome>"
    lead_id: str
    assignment_id: str
    outcome: OutcomeName
    reason: str | None
    rep_id: str
    team_id: str
    rule_id: str
    source: str | None
    campaign: str | None
    score: float | None
    seconds_to_decision: float
    decided_at: datetime
    lead: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _outcome(
    state: LeadState,
    assigned: Assigned,
    lead: Mql,
    name: OutcomeName,
    reason: str | None,
    seconds: float,
    at: datetime,
) -> Outcome:
    return Outcome(
        key=f"{assigned.assignment_id}:{name}",
        lead_id=state.lead_id,
        assignment_id=assigned.assignment_id,
        outcome=name,
        reason=reason,
        rep_id=assigned.rep_id,
        team_id=assigned.team_id,
        rule_id=assigned.rule_id,
        source=lead.source,
        campaign=lead.campaign,
        score=lead.score,
        seconds_to_decision=max(seconds, 0.0),
        decided_at=at,
        lead=lead.fields,
    )


def outcomes_of(state: LeadState) -> list[Outcome]:
    """Every outcome the lead's state shows, in assignment order."""
    lead = state.lead
    found: list[Outcome] = []
    for facts in state.assignments:
        assigned, decision = facts.assigned, facts.decision
        if assigned is None or decision is None or lead is None:
            continue
        if isinstance(decision, Accepted):
            found.append(
                _outcome(state, assigned, lead, "accepted", None, decision.seconds_to_accept, decision.at)
            )
            q = facts.qualified
            if q is not None:
                found.append(
                    _outcome(state, assigned, lead, q.outcome, q.reason, q.seconds_since_accept, q.at)
                )
        elif isinstance(decision, Rejected):
            seconds = (decision.at - assigned.at).total_seconds()
            found.append(_outcome(state, assigned, lead, "rejected", decision.reason, seconds, decision.at))
        else:
            seconds = (decision.at - assigned.at).total_seconds()
            found.append(_outcome(state, assigned, lead, "expired", "sla_reassigned", seconds, decision.at))
    return found
