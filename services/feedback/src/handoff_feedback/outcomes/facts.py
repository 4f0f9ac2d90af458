"""What the feedback service knows of one lead: facts from its lifecycle events, merged so
that order and repetition do not matter.

Each kind of fact has one slot (the MQL, and per assignment: assigned, accepted, rejected,
each escalation level, qualified). Two facts for the same slot keep the one with the
smaller rank ``(time, event_id)``: a total order on events, so merging is commutative,
associative and idempotent, and any permutation or duplication of a lead's events gives
the same state. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

Level = Literal["remind", "escalate", "reassign"]
Qualification = Literal["sql", "disqualified"]
LEVELS: tuple[Level, ...] = ("remind", "escalate", "reassign")


@dataclass(frozen=True)
class Mql:
    """``mql.created``: who the lead is and where it came from."""

    event_id: str
    at: datetime  # mql_at, or the event's time when the MQL has none
    source: str | None
    campaign: str | None
    score: float | None
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Assigned:
    """``lead.assigned``: the assignment, with the lead as the router saw it."""

    event_id: str
    at: datetime
    assignment_id: str
    rep_id: str
    team_id: str
    rule_id: str
    attempt: int
    lead: Mql

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Accepted:
    event_id: str
    at: datetime
    assignment_id: str
    rep_id: str
    seconds_to_accept: float

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Rejected:
    event_id: str
    at: datetime
    assignment_id: str
    rep_id: str
    reason: str
    note: str | None = None

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Escalated:
    event_id: str
    at: datetime
    assignment_id: str
    rep_id: str
    level: Level

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Qualified:
    event_id: str
    at: datetime
    assignment_id: str
    rep_id: str
    outcome: Qualification
    reason: str | None
    seconds_since_accept: float

    @property
    def rank(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


Fact = Mql | Assigned | Accepted | Rejected | Escalated | Qualified
Ranked = TypeVar("Ranked", Mql, Assigned, Accepted, Rejected, Escalated, Qualified)


def _first(current: Ranked | None, new: Ranked) -> Ranked:
    return new if current is None or new.rank < current.rank else current


@dataclass(frozen=True)
class AssignmentFacts:
    """Everything known of one assignment; any slot may still be empty."""

    assignment_id: str
    assigned: Assigned | None = None
    accepted: Accepted | None = None
    rejected: Rejected | None = None
    escalations: tuple[Escalated | None, Escalated | None, Escalated | None] = (None, None, None)
    qualified: Qualified | None = None

    def escalation(self, level: Level) -> Escalated | None:
        return self.escalations[LEVELS.index(level)]

    @property
    def rep_id(self) -> str | None:
        for fact in (self.assigned, self.accepted, self.rejected, self.qualified, *self.escalations):
            if fact is not None:
                return fact.rep_id
        return None

    @property
    def decision(self) -> Accepted | Rejected | Escalated | None:
        """How the assignment ended: accepted, rejected, or expired (the SLA ladder reassigned it).

        Were there two (a race the router forbids), the earlier one counts.
        """
        candidates = [d for d in (self.accepted, self.rejected, self.escalation("reassign")) if d is not None]
        return min(candidates, key=lambda d: d.rank) if candidates else None

    def merge(self, fact: Assigned | Accepted | Rejected | Escalated | Qualified) -> AssignmentFacts:
        match fact:
            case Assigned():
                return replace(self, assigned=_first(self.assigned, fact))
            case Accepted():
                return replace(self, accepted=_first(self.accepted, fact))
            case Rejected():
                return replace(self, rejected=_first(self.rejected, fact))
            case Escalated():
                slots = list(self.escalations)
                index = LEVELS.index(fact.level)
                slots[index] = _first(slots[index], fact)
                return replace(self, escalations=(slots[0], slots[1], slots[2]))
            case Qualified():
                return replace(self, qualified=_first(self.qualified, fact))


@dataclass(frozen=True)
class LeadState:
    """Everything known of one lead: its MQL and its assignments (by id)."""

    lead_id: str
    mql: Mql | None = None
    assignments: tuple[AssignmentFacts, ...] = ()  # sorted by assignment_id

    def assignment(self, assignment_id: str) -> AssignmentFacts | None:
        for facts in self.assignments:
            if facts.assignment_id == assignment_id:
                return facts
        return None

    @property
    def lead(self) -> Mql | None:
        """The lead's attributes: from ``mql.created``, else as the first assignment carried them."""
        if self.mql is not None:
            return self.mql
        assigned = [a.assigned for a in self.assignments if a.assigned is not None]
        return min(assigned, key=lambda a: a.rank).lead if assigned else None


def apply(state: LeadState, fact: Fact) -> LeadState:
    """The state with one more fact merged in."""
    if isinstance(fact, Mql):
        return replace(state, mql=_first(state.mql, fact))
    current = state.assignment(fact.assignment_id) or AssignmentFacts(fact.assignment_id)
    merged = current.merge(fact)
    others = [a for a in state.assignments if a.assignment_id != fact.assignment_id]
    return replace(state, assignments=tuple(sorted([*others, merged], key=lambda a: a.assignment_id)))


def apply_all(state: LeadState, facts: list[Fact]) -> LeadState:
    """The state with every fact merged in (in any order: the result is the same)."""
    for fact in facts:
        state = apply(state, fact)
    return state
