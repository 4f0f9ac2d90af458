"""Assignments as the API shows them, and the events they cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from pydantic import BaseModel
from sqlalchemy import Row

from handoff_router.routing.engine import Decision


class AssignmentView(BaseModel):
    """An assignment, its state and the explanation of how it was made."""

    assignment_id: str
    lead_id: str
    rep_id: str
    team_id: str
    rule_id: str
    attempt: int
    previous_rep_id: str | None
    status: str
    config_version: int | None
    assigned_at: datetime
    sla_due_at: datetime | None
    decided_at: datetime | None
    reason: str | None
    note: str | None
    explanation: dict[str, Any]
    lead: dict[str, Any]

    @classmethod
    def of(cls, row: Row[Any]) -> AssignmentView:
        return cls.model_validate(row._mapping, from_attributes=False)


def new_assignment_id() -> str:
    """A fresh, unguessable assignment id."""
    return str(uuid4())


def assignment_row(
    *,
    assignment_id: str,
    lead: dict[str, Any],
    decision: Decision,
    now: datetime,
    attempt: int,
    previous_rep_id: str | None,
    excluded: frozenset[str],
    config_version: int | None,
    mql_event_id: str,
) -> dict[str, Any]:
    """The ``assignments`` row for a decision that chose a rep."""
    assert decision.rep_id is not None
    assert decision.team_id is not None
    return {
        "assignment_id": assignment_id,
        "lead_id": lead["lead_id"],
        "rep_id": decision.rep_id,
        "team_id": decision.team_id,
        "rule_id": decision.rule_id,
        "attempt": attempt,
        "previous_rep_id": previous_rep_id,
        "status": "pending",
        "config_version": config_version,
        "assigned_at": now,
        "sla_due_at": decision.sla_due_at,
        "explanation": decision.explanation.to_dict(),
        "lead": lead,
        "mql_event_id": mql_event_id,
        "excluded_reps": sorted(excluded),
    }


def assigned_data(row: dict[str, Any]) -> dict[str, Any]:
    """The data of ``lead.assigned`` for an assignment row (CONTRACT §3)."""
    return {
        "assignment_id": row["assignment_id"],
        "lead_id": row["lead_id"],
        "rep_id": row["rep_id"],
        "team_id": row["team_id"],
        "rule_id": row["rule_id"],
        "attempt": row["attempt"],
        "previous_rep_id": row["previous_rep_id"],
        "assigned_at": row["assigned_at"],
        "sla_due_at": row["sla_due_at"],
        "explanation": row["explanation"],
        "lead": row["lead"],
        "config_version": row["config_version"],
    }
