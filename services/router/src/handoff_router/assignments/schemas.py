"""The assignment API's bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row

from handoff_router.assignments.qualification import Outcome, Qualification

Status = Literal["pending", "accepted", "rejected", "reassigned"]


class QualificationView(BaseModel):
    """What the rep said the accepted lead became (SAL -> SQL), and when."""

    outcome: Outcome
    reason: str | None
    note: str | None
    qualified_at: datetime


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
    qualification: QualificationView | None = Field(
        description="Set once the rep has qualified the accepted lead (POST .../qualify); null before."
    )
    explanation: dict[str, Any]
    lead: dict[str, Any]

    @classmethod
    def of(cls, row: Row[Any]) -> AssignmentView:
        fields = dict(row._mapping)
        qualified_at = fields.get("qualified_at")
        fields["qualification"] = (
            QualificationView(
                outcome=fields["qualification_outcome"],
                reason=fields["qualification_reason"],
                note=fields["qualification_note"],
                qualified_at=qualified_at,
            )
            if qualified_at is not None
            else None
        )
        return cls.model_validate(fields)


class Rejection(BaseModel):
    """Why a rep rejects a lead: one of the configured reason codes; ``other`` needs a note."""

    reason: str = Field(min_length=1, max_length=100, examples=["wrong_persona"])
    note: str | None = Field(default=None, max_length=2000)


class QualifyRequest(BaseModel):
    """What an accepted lead became: ``sql``, or ``disqualified`` with a reason code from the
    config's ``disqualification_reasons`` (``other`` needs a note)."""

    outcome: Outcome = Field(examples=["disqualified"])
    reason: str | None = Field(default=None, min_length=1, max_length=100, examples=["no_budget"])
    note: str | None = Field(default=None, max_length=2000)

    def qualification(self) -> Qualification:
        """The body as the core's value."""
        return Qualification(self.outcome, self.reason, self.note)
